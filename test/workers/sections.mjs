// Runs critical sections on shared locks from a worker thread.
//
// workerData: {
//   locks: { kind, lock: share(), stats: SharedArrayBuffer, permits }[],
//   sections: number of acquire attempts in all, over `tasks` concurrent loops,
//   tasks, seed,
//   cancel: when true, attempts randomly carry a timeout or an AbortSignal
//           that fires soon (the cancellation storm).
// }
// Posts { done: true, errors: string[] } and ends by itself.

import { parentPort, workerData } from "node:worker_threads";
import { attempt, lockFrom, rng } from "./common.mjs";

const { sections, tasks, seed, cancel } = workerData;
const rand = rng(seed);
const locks = workerData.locks.map((d) => ({ ...d, obj: lockFrom(d), s: new Int32Array(d.stats) }));
const errors = [];
let left = sections;

async function loop() {
  while (left > 0) {
    left--;
    await attempt(locks[rand.int(locks.length)], rand, errors, cancel);
  }
}

await Promise.all(Array.from({ length: tasks }, loop));
parentPort.postMessage({ done: true, errors });
