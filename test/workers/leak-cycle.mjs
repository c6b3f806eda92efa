// One leak cycle (test/leak.test.ts, test/workers/leak-cycles.mjs): a fresh
// worker takes a shared engine and a shared Mutex, makes locks of its own in
// that engine (a Mutex, a FifoLock with the MGL modes, a FifoLock with a mode
// table no other cycle uses, a Semaphore), holds some of them, queues behind
// its own holds, and either waits for the shared Mutex (held by the main
// thread) or holds it (with the main thread queued behind it). Then it ends:
// terminate(), process.exit(), or a normal return (its queued requests
// withdrawn, its holds kept). Nothing it made or took may stay in the engine.
//
// Started as a Worker (workerData.leakCycle), this file is that worker;
// imported, it gives the main thread's side: runCycle(), drainCaches(), settle().

import "../../dist/bindings/debug.js";
import { performance } from "node:perf_hooks";
import { isMainThread, parentPort, threadId, Worker, workerData } from "node:worker_threads";
import { Engine, FifoLock, Mutex, Semaphore } from "../../dist/bindings/index.js";
import { MGL_MODES } from "./common.mjs";

/** How a cycle's worker ends, and the exit code that says so. */
export const ENDINGS = { terminate: 1, exit: 5, return: 0 };

async function workerMain() {
  const { role, cycle } = workerData;
  const engine = Engine.from(workerData.engine);
  const shared = Mutex.from(workerData.mutex);
  // Withdraws this worker's queued requests before a normal return (a thread
  // with a pending request stays alive); terminate() and exit() leave them queued.
  const ac = new AbortController();
  const o = { signal: ac.signal };
  const mutex = new Mutex({ engine });
  const mgl = new FifoLock(MGL_MODES, { engine });
  const own = new FifoLock({ A: { conflicts: ["B"] }, B: { limit: 2 + cycle }, C: { conflicts: ["C"] } }, { engine });
  const sem = new Semaphore(2, { engine });
  const scratch = new Mutex({ engine });
  (await scratch.acquire()).release(); // used once, then idle and unreferenced
  mgl.share(); // a shared lock keeps its block until every thread that has it lets go
  const holds = [
    await mutex.acquire(),
    await mgl.acquire("IX"),
    await own.acquire("B", { weight: 2 }),
    await sem.acquire({ weight: 2 }),
    own.tryAcquire("C"),
  ];
  const queued = [mutex.acquire(o), mgl.acquire("S", o), own.acquire("A", o), sem.acquire(o)];
  if (role === "waiter") queued.push(shared.acquire(o));
  else holds.push(await shared.acquire());
  const settled = Promise.allSettled(queued);
  parentPort.on("message", async (m) => {
    if (m.op === "exit") process.exit(ENDINGS.exit);
    if (m.op === "return") {
      ac.abort(new Error("leak cycle: withdrawn"));
      const outcomes = await settled;
      if (outcomes.some((r) => r.status !== "rejected")) throw new Error("a queued request was granted");
      parentPort.close();
    }
  });
  parentPort.postMessage({
    type: "ready",
    threadId,
    held: holds.filter((g) => g !== null && !g.released).length,
    waiting: [mutex.waiting, mgl.waiting, own.waiting, sem.waiting, shared.waiting],
  });
}

if (!isMainThread && workerData?.leakCycle === true) await workerMain();

/** Rejects with "hang: ..." if `p` has not settled within `ms`. */
export function within(p, what, ms = 10_000) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

/**
 * Takes this thread's per-thread node caches, if the engine keeps any, to the
 * same state every time: queues `n` waiters on a lock of its own (taking every
 * cached node and more) and lets them all go. liveBlocks counts cached nodes,
 * so figures are comparable only after the same drain.
 */
export async function drainCaches(mutex, n = 200) {
  const first = await mutex.acquire();
  const rest = Array.from({ length: n }, () => mutex.acquire());
  first.release();
  for (const p of rest) (await p).release();
}

/**
 * liveBlocks and heapBytes once reaping has settled: drains the caches and
 * reads again every 10 ms until liveBlocks is `target`, or has not moved for
 * 50 ms, or `ms` have passed.
 */
export async function settle(engine, drainer, target, ms = 2000) {
  const deadline = performance.now() + ms;
  let last;
  let same = 0;
  for (;;) {
    await drainCaches(drainer);
    const now = { liveBlocks: engine.liveBlocks, heapBytes: engine.heapBytes };
    same = last !== undefined && now.liveBlocks === last.liveBlocks ? same + 1 : 0;
    last = now;
    if (now.liveBlocks === target || same >= 5 || performance.now() > deadline) return now;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * One cycle, from the main thread's side. `mutex` is the shared Mutex (idle on
 * entry and on return). Resolves with what happened: the exit code, the
 * abandoned flag of the main thread's grant (role "holder"), and anything
 * wrong the main thread saw ("problems").
 */
export async function runCycle({ engine, mutex, cycle, how, role }) {
  const problems = [];
  const mainHold = role === "waiter" ? await mutex.acquire() : undefined;
  const w = new Worker(new URL(import.meta.url), {
    workerData: { leakCycle: true, engine: engine.share(), mutex: mutex.share(), how, role, cycle },
  });
  const errors = [];
  w.on("error", (e) => errors.push(String(e?.stack ?? e)));
  const exited = new Promise((resolve) => w.once("exit", resolve));
  const ready = await within(
    Promise.race([new Promise((resolve) => w.once("message", resolve)), exited.then(() => undefined)]),
    `cycle ${cycle}: the worker getting ready`,
  );
  if (ready === undefined) problems.push(`cycle ${cycle}: the worker ended before it was ready: ${errors.join("; ")}`);
  let mainWait;
  if (role === "holder") mainWait = mutex.acquire();
  // The worker is queued behind the main thread, or holds the mutex with the main thread queued.
  const before = mutex.query();
  const entry = (tid) => ({ mode: "exclusive", weight: 1, threadId: tid });
  const [holder, waiter] = role === "waiter" ? [threadId, w.threadId] : [w.threadId, threadId];
  if (JSON.stringify(before) !== JSON.stringify({ held: [entry(holder)], pending: [entry(waiter)] })) {
    problems.push(`cycle ${cycle}: before the worker ended the shared mutex was ${JSON.stringify(before)}`);
  }
  if (how === "terminate") void w.terminate();
  else w.postMessage({ op: how });
  const code = await within(exited, `cycle ${cycle}: the worker ending by ${how}`);
  if (code !== ENDINGS[how]) problems.push(`cycle ${cycle}: ended by ${how} with exit code ${code}`);
  if (errors.length > 0) problems.push(`cycle ${cycle}: the worker threw: ${errors.join("; ")}`);
  let abandoned;
  if (mainHold !== undefined) {
    // The dead worker's wait is gone: only the main thread's hold is left.
    const q = mutex.query();
    if (q.pending.length !== 0 || q.held.length !== 1 || q.held[0].threadId !== threadId) {
      problems.push(`cycle ${cycle}: after the waiter died the shared mutex is ${JSON.stringify(q)}`);
    }
    mainHold.release();
  }
  if (mainWait !== undefined) {
    const g = await within(mainWait, `cycle ${cycle}: the main thread's grant after the holder died`);
    abandoned = g.abandoned;
    if (!abandoned) problems.push(`cycle ${cycle}: a grant after the holder died (${how}) was not abandoned`);
    g.release();
  }
  const after = mutex.query();
  if (after.held.length + after.pending.length + mutex.waiting !== 0) {
    problems.push(`cycle ${cycle}: the shared mutex is not idle: ${JSON.stringify(after)}`);
  }
  return { code, abandoned, problems, ready };
}
