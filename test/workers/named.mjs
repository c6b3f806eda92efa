// A worker for test/names.test.ts. It shares its parent's default engine with
// no share()/from() (ringlock's zero-config sharing) and works by name.
// workerData.job:
//   hammer { name, rounds, seed, s }  locks.request(name, { mode }) and a named
//                                     Mutex, sections checked with Atomics on s
//   hold   { name }                   holds locks.request(name) and a named Mutex for ever
//   query  {}                         posts locks.query()
import { parentPort, workerData } from "node:worker_threads";
import { Engine, locks, Mutex } from "../../dist/bindings/index.js";
import { rng } from "./common.mjs";

const job = workerData;
// s: 0 inside-exclusive, 1 inside-shared, 2 violations, 3 plain counter, 4 exclusive sections, 5 max shared
const pause = () => new Promise((r) => setTimeout(r, 0));

if (job.op === "hammer") {
  const rand = rng(job.seed);
  const s = job.s;
  const mutex = new Mutex({ name: `${job.name}:mutex` });
  for (let i = 0; i < job.rounds; i++) {
    const mode = rand() < 0.6 ? "shared" : "exclusive";
    await locks.request(job.name, { mode }, async (lock) => {
      if (lock.mode !== mode || lock.name !== job.name) Atomics.add(s, 2, 1);
      if (mode === "exclusive") {
        if (Atomics.add(s, 0, 1) !== 0 || Atomics.load(s, 1) !== 0) Atomics.add(s, 2, 1);
      } else {
        const now = Atomics.add(s, 1, 1) + 1;
        if (Atomics.load(s, 0) !== 0) Atomics.add(s, 2, 1);
        if (now > Atomics.load(s, 5)) Atomics.store(s, 5, now);
      }
      if (rand() < 0.3) await pause();
      Atomics.sub(s, mode === "exclusive" ? 0 : 1, 1);
    });
    await mutex.run(async () => {
      const v = s[3];
      if (rand() < 0.3) await pause();
      s[3] = v + 1;
      Atomics.add(s, 4, 1);
    });
  }
  parentPort.postMessage({ done: true, threadId: Engine.threadId });
} else if (job.op === "hold") {
  // Something to do, or the worker would end (and be reaped) at once.
  setInterval(() => {}, 1000);
  const m = new Mutex({ name: `${job.name}:mutex` });
  await m.acquire();
  locks
    .request(job.name, () => {
      parentPort.postMessage({ holding: true, threadId: Engine.threadId });
      return new Promise(() => {});
    })
    .catch((e) => parentPort.postMessage({ rejected: e.name }));
} else if (job.op === "query") {
  parentPort.postMessage(await locks.query());
}
