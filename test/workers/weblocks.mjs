// A second Web Locks client for test/weblocks.test.ts: a worker thread with its own LockManager on the test's
// engine (workerData.engine, from engine.share()). It takes orders from the parent and answers each with the
// order's `id`:
//   { id, op: "request", name, mode?, ifAvailable?, steal? }  asks for the lock; answers { id, granted: true } once granted
//                                                     (then holds it until "release"), { id, granted: false } if
//                                                     ifAvailable found it taken, or { id, error } on a rejection
//   { id, op: "release", name }                       lets go of the lock this worker holds on `name`
// The worker stays up while its port is open; the test ends it with terminate().
import { parentPort, workerData } from "node:worker_threads";
import { Engine, LockManager } from "../../dist/bindings/index.js";

const manager = new LockManager({ engine: Engine.from(workerData.engine) });
const letGo = new Map();

parentPort.on("message", (order) => {
  const answer = (body) => parentPort.postMessage({ id: order.id, ...body });
  if (order.op === "request") {
    const options = {
      mode: order.mode ?? "exclusive",
      ifAvailable: order.ifAvailable === true,
      steal: order.steal === true,
    };
    manager
      .request(order.name, options, (lock) => {
        if (lock === null) {
          answer({ granted: false });
          return undefined;
        }
        return new Promise((release) => {
          letGo.set(order.name, release);
          answer({ granted: true, name: lock.name, mode: lock.mode });
        });
      })
      .catch((err) => answer({ error: err?.name ?? String(err) }));
  } else if (order.op === "release") {
    letGo.get(order.name)?.();
    letGo.delete(order.name);
    answer({ released: true });
  }
});
