// Child-process script: a worker releases a write lock with `n` readers (this
// thread's) queued behind it, and is terminated while that release may still
// be granting them; `trials` times. Every reader must still be granted: the
// grant loop has to run to completion (or be re-run by the reaper), whatever
// point the worker died at. Prints "ok <trials>" and ends; prints what is
// left and exits 1 otherwise.
//
// argv: [trials, n]

import "../../dist/bindings/debug.js";
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { Engine, RWLock } from "../../dist/bindings/index.js";

const trials = Number(process.argv[2] ?? 4);
const n = Number(process.argv[3] ?? 100_000);
const engine = new Engine({ debug: true });

for (let t = 0; t < trials; t++) {
  const rw = new RWLock({ engine });
  const w = new Worker(new URL("./granter.mjs", import.meta.url), { workerData: { lock: rw.share() } });
  await once(w, "message"); // holding
  const reads = Array.from({ length: n }, () => rw.read());
  w.postMessage("release");
  await once(w, "message"); // releasing
  await w.terminate();
  const guard = setTimeout(() => {
    let valid = "validate() passes";
    try {
      engine.validate();
    } catch (e) {
      valid = String(e);
    }
    console.log(`trial ${t}: wedged: ${rw.waiting} readers still queued behind ${rw.readers} granted; ${valid}`);
    process.exit(1);
  }, 5000);
  const guards = await Promise.all(reads);
  clearTimeout(guard);
  for (const g of guards) g.release();
  engine.validate();
  if (rw.waiting !== 0 || rw.readers !== 0) throw new Error(`not idle: ${JSON.stringify(rw.query())}`);
}
console.log(`ok ${trials}`);
