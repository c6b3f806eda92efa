// Queues many waiters on a Mutex, from a worker, so that the engine memory
// grows while another thread holds the lock; checks every grant comes in
// ticket order. Tickets are shared with the main thread, which queues too.
//
// workerData: { lock: share(), ctl: SharedArrayBuffer (G_* words) }
// Commands: { op: "enqueue", n } -> { type: "queued", byteLength } (this thread's view of the memory)
//           { op: "finish" } -> { type: "done" } once all its requests were granted and released;
//           then it ends by itself. Failures are counted in ctl[G_FAILS].

import "../../dist/bindings/debug.js";
import { parentPort, workerData } from "node:worker_threads";
import { Engine, Mutex } from "../../dist/bindings/index.js";

const G_TICKET = 0;
const G_SEQ = 1;
const G_FAILS = 2;
const mutex = Mutex.from(workerData.lock);
const engine = Engine.from(workerData.lock.engine);
const ctl = new Int32Array(workerData.ctl);
const all = [];

parentPort.on("message", (cmd) => {
  if (cmd.op === "enqueue") {
    for (let i = 0; i < cmd.n; i++) {
      const t = Atomics.add(ctl, G_TICKET, 1);
      all.push(
        mutex.acquire().then((g) => {
          if (Atomics.add(ctl, G_SEQ, 1) !== t || g.abandoned) Atomics.add(ctl, G_FAILS, 1);
          g.release();
        }),
      );
    }
    parentPort.postMessage({ type: "queued", byteLength: engine.memory.buffer.byteLength });
  } else if (cmd.op === "finish") {
    Promise.all(all).then(() => {
      parentPort.postMessage({ type: "done" });
      parentPort.close();
    });
  }
});
