// Child-process script (run with process.execPath): terminates busy workers at
// truly random points, including in the middle of an engine call, and checks
// after each death that the survivors and this thread can still use the locks.
// Prints "ok <kills>" and ends by itself; a wedge shows as a hang, which the
// parent test turns into a failure by its timeout.
//
// argv: [kills, seed]

import "../../dist/bindings/debug.js";
import { Worker } from "node:worker_threads";
import { Engine, Mutex, RWLock } from "../../dist/bindings/index.js";
import { rng } from "./common.mjs";

const kills = Number(process.argv[2] ?? 100);
const rand = rng(Number(process.argv[3] ?? 1));
const engine = new Engine({ debug: true });
const mutex = new Mutex({ engine });
const rw = new RWLock({ engine });
const locks = [
  { kind: "mutex", lock: mutex.share() },
  { kind: "rw", lock: rw.share() },
];

async function start() {
  const w = new Worker(new URL("./busy.mjs", import.meta.url), { workerData: { locks, seed: rand.int(2 ** 31) } });
  await new Promise((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
  });
  return w;
}

// Three slots; a killed worker's replacement starts in the background while
// the next kill goes ahead, so kills come faster than workers can start.
const workers = [start(), start(), start()];
for (let k = 0; k < kills; k++) {
  const i = rand.int(workers.length);
  const w = await workers[i];
  await new Promise((resolve) => setTimeout(resolve, rand.int(4)));
  await w.terminate();
  workers[i] = start();
  // Still usable from here, across the survivors' traffic.
  (await mutex.acquire()).release();
  (await rw.write()).release();
}
for (const w of workers) await (await w).terminate();
engine.validate();
const idle = mutex.query().held.length + mutex.waiting + rw.query().held.length + rw.waiting;
if (idle !== 0)
  throw new Error(`locks not idle after all workers ended: ${JSON.stringify([mutex.query(), rw.query()])}`);
console.log(`ok ${kills}`);
