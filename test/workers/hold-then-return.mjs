// Waits for a shared Mutex by postMessage, takes it, says "holding", and ends
// while holding it (its script has returned and nothing keeps it alive).

import "../../dist/bindings/debug.js";
import { parentPort } from "node:worker_threads";
import { Mutex } from "../../dist/bindings/index.js";

parentPort.once("message", async (shared) => {
  const mutex = Mutex.from(shared);
  await mutex.acquire();
  parentPort.postMessage("holding");
  parentPort.close();
});
