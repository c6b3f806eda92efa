// Child-process script: creates locks on the default engine, uses them from
// this thread and from workers (contended, with waits in both directions),
// prints "done ..." and then must end by itself: no process.exit(), no unref.

import "../../dist/bindings/debug.js";
import { Worker } from "node:worker_threads";
import { FifoLock, Mutex, RWLock, Semaphore } from "../../dist/bindings/index.js";
import { attempt, MGL_MODES, newStats, rng, S_EXCLUSIVE, S_PLAIN, S_VIOLATIONS } from "./common.mjs";

const locks = [
  { kind: "mutex", obj: new Mutex() },
  { kind: "rw", obj: new RWLock() },
  { kind: "sem", obj: new Semaphore(3) },
  { kind: "mgl", obj: new FifoLock(MGL_MODES) },
].map((l) => ({ ...l, s: newStats(), permits: 3 }));
const descs = locks.map((l) => ({ kind: l.kind, lock: l.obj.share(), stats: l.s.buffer, permits: 3 }));

// Hold the mutex while the workers start: their first requests for it wait on this thread.
const first = await locks[0].obj.acquire();
const workers = [1, 2, 3].map(
  (i) =>
    new Worker(new URL("./sections.mjs", import.meta.url), {
      workerData: { locks: descs, sections: 60, tasks: 2, seed: i, cancel: false },
    }),
);
const results = workers.map(
  (w) =>
    new Promise((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    }),
);
await new Promise((resolve) => setTimeout(resolve, 50));
first.release();

// This thread takes part too, and waits for the workers' holds.
const rand = rng(4);
const errors = [];
for (let i = 0; i < 60; i++) await attempt(locks[rand.int(locks.length)], rand, errors, false);
await locks[1].obj.whenWritable();
const done = await Promise.all(results);
for (const d of done) errors.push(...d.errors);
for (const l of locks) {
  if (l.s[S_VIOLATIONS] !== 0 || l.s[S_PLAIN] !== l.s[S_EXCLUSIVE]) errors.push(`${l.kind}: sections overlapped`);
}
if (errors.length > 0) throw new Error(errors.join("\n"));
console.log(`done ${locks.map((l) => l.s[S_PLAIN]).join(" ")}`);
