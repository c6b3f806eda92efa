// Takes the write lock of a shared RWLock and, when told to, releases it:
// with a long queue of readers behind it, that release spends a long time
// granting them one by one (all under the lock's internal word).
// workerData: { lock: share() }. Posts "holding", then "releasing" right
// before the release, then "released".

import "../../dist/bindings/debug.js";
import { parentPort, workerData } from "node:worker_threads";
import { RWLock } from "../../dist/bindings/index.js";

const rw = RWLock.from(workerData.lock);
const g = await rw.write();
parentPort.postMessage("holding");
parentPort.once("message", () => {
  parentPort.postMessage("releasing");
  g.release();
  parentPort.postMessage("released");
  parentPort.close();
});
