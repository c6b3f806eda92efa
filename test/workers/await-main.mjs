// Awaits a Mutex that the main thread holds, with nothing else to keep this
// worker alive: the pending wait alone must. Posts "queued" once the request
// is made, then { got: true, abandoned } once granted; releases it and ends.

import "../../dist/bindings/debug.js";
import { parentPort, workerData } from "node:worker_threads";
import { Mutex } from "../../dist/bindings/index.js";

const mutex = Mutex.from(workerData.lock);
const p = mutex.acquire();
parentPort.postMessage("queued");
const g = await p;
parentPort.postMessage({ got: true, abandoned: g.abandoned });
g.release();
