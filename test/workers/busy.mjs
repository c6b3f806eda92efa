// Takes and releases the shared locks as fast as it can, so that it spends
// much of its time inside engine calls: terminate() lands anywhere in it.
//
// workerData: { locks: { kind, lock: share() }[], seed }; posts "up" once attached.

import "../../dist/bindings/debug.js";
import { parentPort, workerData } from "node:worker_threads";
import { RWLock } from "../../dist/bindings/index.js";
import { acquireRequest, lockFrom, pickRequest, rng } from "./common.mjs";

const rand = rng(workerData.seed);
const locks = workerData.locks.map((d) => ({ kind: d.kind, obj: lockFrom(d) }));
parentPort.postMessage("up");
// Two loops, so that this thread also queues behind itself and grants to
// itself; between awaits, bursts of synchronous try-acquire/release pairs, so
// that most of the time goes to engine calls under the locks' internal words.
async function loop() {
  for (;;) {
    const { kind, obj } = locks[rand.int(locks.length)];
    const g = await acquireRequest(kind, obj, pickRequest(kind, 3, rand));
    g.release();
    for (let i = 0; i < 20; i++) {
      const l = locks[rand.int(locks.length)].obj;
      (l instanceof RWLock ? l.tryWrite() : l.tryAcquire())?.release();
    }
  }
}
await Promise.all([loop(), loop()]);
