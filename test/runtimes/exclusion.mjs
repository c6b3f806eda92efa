// Cross-worker exclusion: 4 workers of one kind (argv: "node" or "web") share a
// Mutex, an RWLock, a Semaphore(2) and an IS/IX/S/SIX/X FifoLock. Every
// section is instrumented with Atomics on a SharedArrayBuffer (see
// exclusion-worker.mjs): no two conflicting modes may ever be inside at once,
// and the shared modes must really be held together (readers concurrent).

import "../../dist/bindings/debug.js";
import { Engine, FifoLock, Mutex, RWLock, Semaphore } from "../../dist/bindings/index.js";
import { MGL_MODES } from "../workers/common.mjs";
import { done, equal, info, ok, sleep, within } from "./assert.mjs";
import { KINDS, lifeLockSettled, spawn } from "./threads.mjs";

const kind = (globalThis.Deno?.args ?? process.argv.slice(2))[0];
const WORKERS = 4;
const SECTIONS = 150;
const seed = (Math.random() * 2 ** 32) >>> 0;
Object.assign(info, { kind, seed });

// Per lock: 5 mode counters, overlaps, most ever inside the shared mode, sections done.
const STRIDE = 8;

await done(async () => {
  if (!KINDS.includes(kind)) throw new Error(`worker kind must be one of ${KINDS}, got ${kind}`);
  const engine = new Engine({ debug: true });
  const locks = [
    new Mutex({ engine }),
    new RWLock({ engine }),
    new Semaphore(2, { engine }),
    new FifoLock(MGL_MODES, { engine }),
  ];
  const stats = new SharedArrayBuffer(locks.length * STRIDE * 4);
  const shared = locks.map((l) => l.share());
  const workers = Array.from({ length: WORKERS }, () => spawn(kind, "./exclusion-worker.mjs"));
  workers.forEach((w, i) => {
    w.post({ locks: shared, stats, sections: SECTIONS, seed: seed + i });
  });
  const reported = workers.map(() => false);
  const results = await within(
    15_000,
    Promise.all(workers.map((w, i) => w.next().finally(() => (reported[i] = true)))),
    "every worker reports",
  ).catch((e) => {
    // Say where it stuck: who reported, each lock's holders and waiters, the counters.
    const where = locks.map((l) => JSON.stringify(l.query()));
    throw new Error(`${e.message}; reported ${reported}; queries ${where}; stats ${new Int32Array(stats)}`);
  });
  info.threads = [Engine.threadId, ...results.map((r) => r.threadId)];
  for (const r of results) equal(r.errors, [], `${kind} worker errors`);
  // Web Workers close one at a time, each once the last one's end was seen: in
  // Deno, Web Workers closing together can leave a life lock granted to a closed
  // worker for ever, and the process then never exits (a Deno bug, see
  // repro-deno-locks-closed-worker.mjs).
  if (kind === "web") {
    for (const [i, w] of workers.entries()) {
      w.post("close");
      await sleep(20);
      await lifeLockSettled(results[i].threadId);
    }
  }
  if (kind === "node") {
    const codes = await within(10_000, Promise.all(workers.map((w) => w.exited)), "workers exit");
    equal(codes, [0, 0, 0, 0], "workers exit with code 0 by themselves");
  }
  const s = new Int32Array(stats);
  const names = ["Mutex", "RWLock", "Semaphore(2)", "FifoLock"];
  // Readers and IS holders: all four workers at once (and more, from two tasks
  // per worker); the Semaphore: exactly its two permits; the Mutex: one.
  const most = (i) => (i === 1 || i === 3 ? Math.min(s[i * STRIDE + 6], WORKERS) : s[i * STRIDE + 6]);
  const maxShared = [1, WORKERS, 2, WORKERS];
  names.forEach((name, i) => {
    const b = i * STRIDE;
    equal(s[b + 5], 0, `${name}: overlaps of conflicting modes (or above the limit)`);
    equal(most(i), maxShared[i], `${name}: most inside the shared mode at once`);
    equal([s[b], s[b + 1], s[b + 2], s[b + 3], s[b + 4]], [0, 0, 0, 0, 0], `${name}: nobody left inside`);
  });
  const total = names.reduce((n, _, i) => n + s[i * STRIDE + 7], 0);
  equal(total, WORKERS * SECTIONS, "every section ran");
  ok(
    locks.every((l) => l.query().held.length === 0 && l.waiting === 0),
    "every lock free and unqueued at the end",
  );
  engine.validate();
});
