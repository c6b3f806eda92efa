// Calls query() on a shared Mutex in a loop, forever: a snapshot holds the
// lock's internal word while it walks the queue, so this worker is nearly
// always inside it. Posts "up" once attached.

import "../../dist/bindings/debug.js";
import { parentPort, workerData } from "node:worker_threads";
import { Mutex } from "../../dist/bindings/index.js";

const mutex = Mutex.from(workerData.lock);
parentPort.postMessage("up");
for (;;) mutex.query();
