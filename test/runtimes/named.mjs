// Named locks and `locks` across node:worker_threads workers with no
// share()/from(): the workers inherit the default engine (environment data).
// Run: deno run -A test/runtimes/named.mjs | bun test/runtimes/named.mjs
import * as wt from "node:worker_threads";
import { locks, Mutex } from "../../dist/bindings/index.js";
import { done, equal, ok } from "./assert.mjs";

if (!wt.isMainThread) {
  const { s, rounds } = wt.workerData;
  const m = new Mutex({ name: "rt:mutex" });
  for (let i = 0; i < rounds; i++) {
    await m.run(async () => {
      const v = s[0];
      await null;
      s[0] = v + 1;
    });
    await locks.request("rt:web", { mode: i % 3 === 0 ? "exclusive" : "shared" }, async (lock) => {
      if (lock.mode === "exclusive") {
        if (Atomics.add(s, 1, 1) !== 0 || Atomics.load(s, 2) !== 0) Atomics.add(s, 3, 1);
        await null;
        Atomics.sub(s, 1, 1);
      } else {
        Atomics.add(s, 2, 1);
        if (Atomics.load(s, 1) !== 0) Atomics.add(s, 3, 1);
        await null;
        Atomics.sub(s, 2, 1);
      }
    });
  }
  wt.parentPort.postMessage("done");
} else {
  await done(async () => {
    // s: 0 plain counter (Mutex), 1 exclusive inside, 2 shared inside, 3 violations
    const s = new Int32Array(new SharedArrayBuffer(16));
    const rounds = 100;
    const ws = [0, 1, 2].map(() => new wt.Worker(new URL(import.meta.url), { workerData: { s, rounds } }));
    const exits = ws.map((w) => new Promise((r) => w.once("exit", r)));
    await Promise.all(ws.map((w) => new Promise((r) => w.once("message", r))));
    await Promise.all(exits);
    equal(s[0], 3 * rounds, "the named Mutex kept every update (one lock in every thread)");
    equal(Atomics.load(s, 3), 0, "no exclusive section overlapped another holder");
    ok(!new Mutex({ name: "rt:mutex" }).locked, "the main thread sees the workers' named Mutex, free");
    equal(await locks.query(), { held: [], pending: [] }, "nothing left held or pending");
  });
}
