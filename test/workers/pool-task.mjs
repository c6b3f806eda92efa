// The worker-pool test (test/pool.test.ts): a real client of ringlock, a
// tinypool pool whose tasks share a Mutex, an RWLock and a FifoLock (the
// multi-granularity modes) of one debug engine, with tasks aborted at random
// (tinypool terminates the worker running an aborted task, wherever it is).
//
// This file is two things:
// - in a pool worker: the task module (the default export). Each task rebuilds
//   the locks once per worker thread with X.from(workerData), then does a few
//   random operations: acquire (some with a timeout), run(), tryAcquire, some
//   nested (holding one lock while waiting for a later one), with critical
//   sections that sometimes sleep 1-3 ms, so that aborts land while workers
//   hold or wait.
// - run as a script (node pool-task.mjs <seed> <tasks> <abortRate>): the
//   driver, in a process of its own so that even a synchronous deadlock of its
//   main thread shows as a hang the test can kill and report. It prints
//   "progress: ..." lines, a "heartbeat" line every second while its event
//   loop turns and, at the end, one "result {json}" line; it exits 0 if every
//   check passed, 1 otherwise.
//
// Exclusion is checked in shared memory: every holder publishes a slot
// { token, threadId, mode } in its lock's slot table for the time it is inside
// its critical section, then looks for a conflicting slot (announce, then
// look: of two conflicting holders entering together, at least one sees the
// other). A worker killed inside a section leaves its slot behind: that is a
// leftover, not a conflict, if its thread has ended (the driver marks a worker
// dead in the shared words on 'exit', before ringlock reaps it, see drive())
// and query() no longer lists it as a holder. The grant that reports
// abandoned === true clears its dead predecessor's leftovers; a holder that
// runs into one before that grant's holder got to it clears it as well.
// A per-lock plain counter, written only by exclusive holders, catches lost
// updates independently of the slots.

import "../../dist/bindings/debug.js";
import { fileURLToPath } from "node:url";
import { isMainThread, threadId } from "node:worker_threads";
import Tinypool from "tinypool";
import { H_THREADS, LAYOUT_VERSION, R_ALIVE, R_NCACHE, R_NEXT } from "../../dist/assembly/layout.js";
import { Engine, FifoLock, Mutex, RWLock } from "../../dist/bindings/index.js";
import { acquireRequest, lockFrom, MGL_CONFLICTS, MGL_MODES, MODE_NAMES, pickRequest, rng } from "./common.mjs";

// ---------------------------------------------------------------- shared words

// Global counters.
const G_TOKEN = 0; // slot tokens handed out (a token is never reused)
const G_GRANTS = 1;
const G_ABANDONED = 2; // grants that reported abandoned === true
const G_TIMEOUTS = 3; // acquires with a timeout that rejected with a TimeoutError
const G_TRY_FAILS = 4; // tryAcquire() calls that returned null
const G_VIOLATIONS = 5; // a conflicting holder inside with us, or the plain counter moved
const G_ERRORS = 6; // anything else unexpected (a wrong guard, a wrong rejection)
const G_SECTIONS = 7; // critical sections completed
const G_ATTACHED = 8; // worker threads that attached to the engine and got their locks
const G_DEAD = 9; // entries in the dead-thread list (written by the driver only)
const G_NESTED = 10; // operations started while holding another lock
const G_SLEEPS = 11; // sections that slept 1-3 ms
const G_ABANDONED_END = 12; // of G_ABANDONED: grants to the driver once the pool was gone
const GLOBAL_WORDS = 16;

// Per lock: counters, then the slot table.
const K_PLAIN = 0; // written only by exclusive holders, non-atomically (read, pause, write)
const K_GRANTS = 1;
const K_ABANDONED = 2;
const K_SWEPT = 3; // leftovers cleared by a grant that reported abandoned
const K_MET = 4; // leftovers cleared by a holder that ran into them
const K_END = 5; // leftovers cleared by the driver after all workers ended
const K_MAX_INSIDE = 6; // most slots (holders) seen inside at once
const K_SLOTS = 8;
const SLOTS = 32; // a slot: token (0 free, -1 being claimed), threadId, mode index, spare
const SLOT_WORDS = 4;
const LOCK_WORDS = K_SLOTS + SLOTS * SLOT_WORDS;
const NLOCKS = 3;
const DEAD_BASE = GLOBAL_WORDS + NLOCKS * LOCK_WORDS; // threadIds of dead workers
const DEAD_MAX = 4096;
const TASK_BASE = DEAD_BASE + DEAD_MAX;
// Per task: state (0 queued, 1 running, 2 returned), locks held, requests
// pending, threadId of the worker that runs it.
const T_STATE = 0;
const T_HOLDS = 1;
const T_WAITS = 2;
const T_TID = 3;
const TASK_WORDS = 4;

const statsWords = (tasks) => TASK_BASE + tasks * TASK_WORDS;
const lockBase = (l) => GLOBAL_WORDS + l * LOCK_WORDS;
const slotBase = (l, i) => lockBase(l) + K_SLOTS + i * SLOT_WORDS;
const taskWord = (t, w) => TASK_BASE + t * TASK_WORDS + w;

const KINDS = ["mutex", "rw", "mgl"];
/** conflicts[kind][a][b]: modes a and b (by index) may not be held together. */
const CONFLICTS = {
  mutex: [[true]],
  rw: [
    [false, true],
    [true, true],
  ],
  mgl: MGL_CONFLICTS,
};
/** The mode of each lock that conflicts with everything (what the driver takes to prove a lock free). */
const STRONGEST = { mutex: "exclusive", rw: "write", mgl: "X" };
const MAX_NOTES = 20;

// ---------------------------------------------------------------- lock calls

function tryRequest(kind, lock, req) {
  switch (kind) {
    case "mutex":
      return lock.tryAcquire();
    case "rw":
      return req.mode === "read" ? lock.tryRead() : lock.tryWrite();
    default:
      return lock.tryAcquire(req.mode);
  }
}

function runRequest(kind, lock, req, fn, o) {
  switch (kind) {
    case "mutex":
      return lock.run(fn, o);
    case "rw":
      return req.mode === "read" ? lock.runRead(fn, o) : lock.runWrite(fn, o);
    default:
      return lock.run(req.mode, fn, o);
  }
}

// ---------------------------------------------------------------- checks

// `c`, a thread's view of the test: { s: the shared words, locks: [{ kind, obj }],
// tid: its threadId, notes: what went wrong (kept short) }.

/** Counts a surprise in `counter` and keeps its description. */
function note(c, counter, text) {
  Atomics.add(c.s, counter, 1);
  if (c.notes.length < MAX_NOTES) c.notes.push(`thread ${c.tid}: ${text}`);
}

function isDead(s, tid) {
  const n = Atomics.load(s, G_DEAD);
  for (let i = 0; i < n; i++) if (Atomics.load(s, DEAD_BASE + i) === tid) return true;
  return false;
}

function holds(lock, tid) {
  return lock.query().held.some((h) => h.threadId === tid);
}

/** Publishes this thread's slot in lock `l` for mode index `m`: { at, token }, or null if the table is full. */
function publish(c, l, m) {
  const s = c.s;
  for (let i = 0; i < SLOTS; i++) {
    const at = slotBase(l, i);
    if (Atomics.compareExchange(s, at, 0, -1) !== 0) continue;
    Atomics.store(s, at + 1, c.tid);
    Atomics.store(s, at + 2, m);
    const token = Atomics.add(s, G_TOKEN, 1) + 1;
    Atomics.store(s, at, token);
    return { at, token };
  }
  return null;
}

/**
 * Reads slot `at` consistently: { token, tid, mode }, or null if free, being
 * claimed, or reused while it was read (then its new holder looks for us).
 */
function readSlot(s, at) {
  const token = Atomics.load(s, at);
  if (token <= 0) return null;
  const tid = Atomics.load(s, at + 1);
  const mode = Atomics.load(s, at + 2);
  return Atomics.load(s, at) === token ? { token, tid, mode } : null;
}

/**
 * A slot left by a dead holder: its thread has ended and the engine no
 * longer lists it as a holder of the lock. Clears it; true if this call did.
 */
function clearLeftover(c, l, at, slot, counter) {
  if (!isDead(c.s, slot.tid) || holds(c.locks[l].obj, slot.tid)) return false;
  if (Atomics.compareExchange(c.s, at, slot.token, 0) !== slot.token) return false;
  Atomics.add(c.s, lockBase(l) + counter, 1);
  return true;
}

/** A grant that reported abandoned: clear what dead holders left in lock `l`. */
function sweep(c, l) {
  for (let i = 0; i < SLOTS; i++) {
    const at = slotBase(l, i);
    const slot = readSlot(c.s, at);
    if (slot !== null && slot.tid !== c.tid) clearLeftover(c, l, at, slot, K_SWEPT);
  }
}

/**
 * Just entered lock `l` in mode index `m`, slot `mine` published: a
 * conflicting slot seen now is a holder inside with us at this instant (it
 * withdraws its slot before it releases), unless it is a dead one's leftover.
 */
function lookAround(c, l, m, mine) {
  const { kind, obj } = c.locks[l];
  let inside = 1;
  for (let i = 0; i < SLOTS; i++) {
    const at = slotBase(l, i);
    if (at === mine.at) continue;
    const slot = readSlot(c.s, at);
    if (slot === null) continue;
    if (!CONFLICTS[kind][m][slot.mode]) {
      inside++;
      continue;
    }
    if (clearLeftover(c, l, at, slot, K_MET)) continue;
    const dead = isDead(c.s, slot.tid);
    if (dead && Atomics.load(c.s, at) !== slot.token) continue; // cleared by another thread meanwhile
    const names = MODE_NAMES[kind];
    note(
      c,
      G_VIOLATIONS,
      `entered ${kind} in ${names[m]} while thread ${slot.tid} was inside in ${names[slot.mode]}` +
        `${dead ? " (that thread has ended, but the engine still lists it as a holder)" : ""}; ` +
        `query: ${JSON.stringify(obj.query())}`,
    );
  }
  const max = lockBase(l) + K_MAX_INSIDE;
  for (let seen = Atomics.load(c.s, max); inside > seen; seen = Atomics.load(c.s, max)) {
    if (Atomics.compareExchange(c.s, max, seen, inside) === seen) break;
  }
}

function mark(c, t, word, delta) {
  if (t >= 0) Atomics.add(c.s, taskWord(t, word), delta);
}

/** Sometimes nothing, a microtask or a macrotask; sometimes a 1-3 ms sleep. */
function pause(c, rand) {
  const r = rand();
  if (r < 0.3) {
    Atomics.add(c.s, G_SLEEPS, 1);
    return new Promise((resolve) => setTimeout(resolve, 1 + rand.int(3)));
  }
  if (r < 0.55) return new Promise((resolve) => setImmediate(resolve));
  if (r < 0.8) return Promise.resolve();
  return undefined;
}

/** The critical section of a grant `g` of lock `l` for request `req`, in task `t` (-1: the driver). */
async function inside(c, l, req, g, rand, t, depth) {
  const s = c.s;
  const base = lockBase(l);
  const { kind } = c.locks[l];
  Atomics.add(s, G_GRANTS, 1);
  Atomics.add(s, base + K_GRANTS, 1);
  if (g.abandoned) {
    Atomics.add(s, G_ABANDONED, 1);
    Atomics.add(s, base + K_ABANDONED, 1);
    sweep(c, l);
  }
  if (g.mode !== req.mode || g.weight !== 1 || g.released) {
    note(c, G_ERRORS, `${kind}: guard ${g.mode}/${g.weight}/released=${g.released} for a ${req.mode} request`);
  }
  const m = MODE_NAMES[kind].indexOf(req.mode);
  mark(c, t, T_HOLDS, 1);
  const mine = publish(c, l, m);
  try {
    if (mine === null) {
      note(c, G_ERRORS, `${kind}: slot table full`);
      return;
    }
    lookAround(c, l, m, mine);
    const v = Atomics.load(s, base + K_PLAIN);
    await pause(c, rand);
    // Holding this lock, sometimes take a later one (a fixed order: no deadlock).
    if (depth === 0 && l < NLOCKS - 1 && rand() < 0.25) {
      Atomics.add(s, G_NESTED, 1);
      await operate(c, rand, t, l + 1, depth + 1);
    }
    await pause(c, rand);
    if (Atomics.load(s, base + K_PLAIN) !== v) {
      note(c, G_VIOLATIONS, `${kind}: the plain counter moved under a ${req.mode} holder`);
    } else if (req.exclusive) {
      Atomics.store(s, base + K_PLAIN, v + 1);
    }
    Atomics.add(s, G_SECTIONS, 1);
  } finally {
    if (mine !== null && Atomics.compareExchange(s, mine.at, mine.token, 0) !== mine.token) {
      note(c, G_ERRORS, `${kind}: this live holder's slot was cleared as a dead one's leftover`);
    }
    mark(c, t, T_HOLDS, -1);
  }
}

/**
 * One random operation on one of the locks from index `from` on: tryAcquire,
 * run(), or acquire() then release(), a third of the run()/acquire() calls
 * with a timeout of 0-3 ms.
 */
async function operate(c, rand, t, from, depth) {
  const l = from + rand.int(NLOCKS - from);
  const { kind, obj } = c.locks[l];
  const req = pickRequest(kind, 1, rand);
  const r = rand();
  if (r < 0.15) {
    const g = tryRequest(kind, obj, req);
    if (g === null) {
      Atomics.add(c.s, G_TRY_FAILS, 1);
      return;
    }
    try {
      await inside(c, l, req, g, rand, t, depth);
    } finally {
      g.release();
    }
    return;
  }
  const o = rand() < 0.33 ? { timeout: rand.int(4) } : undefined;
  let waiting = true;
  const granted = () => {
    if (waiting) mark(c, t, T_WAITS, -1);
    waiting = false;
  };
  mark(c, t, T_WAITS, 1);
  try {
    if (r < 0.4) {
      await runRequest(
        kind,
        obj,
        req,
        (g) => {
          granted();
          return inside(c, l, req, g, rand, t, depth);
        },
        o,
      );
    } else {
      const g = await acquireRequest(kind, obj, req, o);
      granted();
      try {
        await inside(c, l, req, g, rand, t, depth);
      } finally {
        g.release();
      }
    }
  } catch (e) {
    if (waiting && o !== undefined && e?.name === "TimeoutError") Atomics.add(c.s, G_TIMEOUTS, 1);
    else note(c, G_ERRORS, `${kind} ${req.mode}: ${waiting ? "rejected" : "threw"}: ${e?.stack ?? e}`);
  } finally {
    granted();
  }
}

// ---------------------------------------------------------------- the task

let workerContext;

/** The task: { t (its index), seed }. Resolves with { t, threadId, notes }. */
export default async function poolTask({ t, seed }) {
  if (workerContext === undefined) {
    // Once per worker thread: the pool reuses its threads across tasks.
    const data = Tinypool.workerData;
    const s = new Int32Array(data.stats);
    Engine.from(data.engine);
    const locks = data.locks.map((d) => ({ kind: d.kind, obj: lockFrom(d) }));
    Atomics.add(s, G_ATTACHED, 1);
    workerContext = { s, locks, tid: threadId, notes: [] };
  }
  const c = { ...workerContext, notes: [] };
  Atomics.store(c.s, taskWord(t, T_TID), threadId);
  Atomics.store(c.s, taskWord(t, T_STATE), 1);
  Atomics.notify(c.s, taskWord(t, T_STATE));
  const rand = rng(seed);
  const n = 2 + rand.int(4);
  for (let i = 0; i < n; i++) await operate(c, rand, t, 0, 0);
  Atomics.store(c.s, taskWord(t, T_STATE), 2);
  return { t, threadId, notes: c.notes };
}

// ---------------------------------------------------------------- the driver

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with `p`'s value, or with `timedOut` if it has not settled within `ms`. */
function within(p, ms, timedOut) {
  let timer;
  const guard = new Promise((resolve) => {
    timer = setTimeout(() => resolve(timedOut), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

/**
 * The engine's thread records and blocks in use: liveBlocks minus the nodes
 * that live threads keep cached for reuse and minus the thread records that
 * liveBlocks counts, so that it compares with a baseline across thread deaths
 * (see census() in test/workers.test.ts). A record's state is in the low two
 * bits of its ALIVE word: 1 alive, 2 ended and not reaped yet, 0 reaped.
 * Layout version 1 engines keep a reaped thread's record (counted in
 * liveBlocks); later ones recycle it for the next thread that attaches.
 */
function census(engine) {
  const i32 = new Int32Array(engine.memory.buffer);
  let cached = 0;
  let alive = 0;
  let unreaped = 0;
  let reaped = 0;
  for (let t = i32[H_THREADS >> 2]; t !== 0; t = i32[(t + R_NEXT) >> 2]) {
    const state = Atomics.load(i32, (t + R_ALIVE) >> 2) & 3;
    if (state === 1) {
      alive++;
      cached += i32[(t + R_NCACHE) >> 2];
    } else if (state === 0) reaped++;
    else unreaped++;
  }
  const live = engine.liveBlocks;
  const records = alive + unreaped + (LAYOUT_VERSION === 1 ? reaped : 0);
  return { live, cached, alive, unreaped, records, inUse: live - cached - records };
}

/** How long the tasks may take to settle (~1-3 s for 300 here; scaled for more). */
export const hangMs = (tasks) => Math.max(30_000, tasks * 40);
const STEP_MS = 10_000; // each wind-down step
const IDLE_MS = 10_000; // locks back to idle after the pool is gone

async function drive() {
  const started = Date.now();
  const [seed, tasks, abortRate] = process.argv.slice(2).map(Number);
  if (!Number.isInteger(seed) || !(tasks >= 1) || !(abortRate >= 0 && abortRate <= 1)) {
    throw new Error(`usage: node pool-task.mjs <seed> <tasks> <abortRate 0..1>, got ${process.argv.slice(2)}`);
  }
  const rand = rng(seed);
  const threads = 3 + rand.int(2);
  const HANG_MS = hangMs(tasks);
  const failures = [];
  const progress = (what) => console.log(`progress: ${what} (${Date.now() - started} ms)`);
  // Tells the test this thread's event loop still turns (see test/pool.test.ts).
  setInterval(() => console.log("heartbeat"), 1000).unref();

  // Every worker this thread spawns (the pool's), marked dead in the shared
  // words when it exits. Prepended, so that this runs before ringlock's own
  // 'worker' listener (installed at import) and its 'exit' listener: a worker
  // is always marked dead before it is reaped.
  const exits = new Map();
  const engine = new Engine({ debug: true });
  const locks = [new Mutex({ engine }), new RWLock({ engine }), new FifoLock(MGL_MODES, { engine })];
  const s = new Int32Array(new SharedArrayBuffer(statsWords(tasks) * 4));
  process.prependListener("worker", (w) => {
    const tid = w.threadId;
    exits.set(
      tid,
      new Promise((resolve) =>
        w.once("exit", () => {
          const n = Atomics.load(s, G_DEAD);
          if (n < DEAD_MAX) {
            Atomics.store(s, DEAD_BASE + n, tid);
            Atomics.store(s, G_DEAD, n + 1);
          }
          resolve();
        }),
      ),
    );
  });
  const shared = locks.map((lock, i) => ({ kind: KINDS[i], lock: lock.share() }));
  const main = { s, locks: locks.map((obj, i) => ({ kind: KINDS[i], obj })), tid: threadId, notes: [] };
  const before = census(engine);

  const pool = new Tinypool({
    filename: fileURLToPath(import.meta.url),
    minThreads: threads,
    maxThreads: threads,
    workerData: { engine: engine.share(), locks: shared, stats: s.buffer },
  });
  pool.on("error", (e) => failures.push(`pool error: ${e?.stack ?? e}`));

  // Tasks; the ones to abort are aborted either soon after submission (often
  // still queued: no worker dies) or 0-11 ms after they started running (the
  // worker running it is terminated, wherever it is).
  const abortsAt = { queued: 0, holding: 0, waiting: 0, neither: 0 };
  // collateral: tasks tinypool ran on a worker it was already terminating.
  // When an aborted task's result reaches the pool after the abort, tinypool
  // (2.2.0) still treats that worker as available and hands it the next task,
  // which then rejects with "Terminating worker thread". Another kill, for us.
  const outcome = { completed: 0, aborted: 0, collateral: 0, lateAborts: 0 };
  const notes = [];
  const settled = new Array(tasks).fill(false);
  const completed = new Array(tasks).fill(false);
  const results = [];
  for (let t = 0; t < tasks; t++) {
    const ac = new AbortController();
    const plan = rand() < abortRate ? (rand() < 0.15 ? "soon" : "running") : "none";
    const p = pool.run({ t, seed: rand.int(2 ** 31) }, { signal: ac.signal });
    let aborted = false;
    const abort = () => {
      if (settled[t]) return;
      aborted = true;
      if (Atomics.load(s, taskWord(t, T_STATE)) === 0) abortsAt.queued++;
      else if (Atomics.load(s, taskWord(t, T_HOLDS)) > 0) abortsAt.holding++;
      else if (Atomics.load(s, taskWord(t, T_WAITS)) > 0) abortsAt.waiting++;
      else abortsAt.neither++;
      ac.abort();
    };
    const done = p.then(
      (v) => {
        settled[t] = true;
        completed[t] = true;
        outcome.completed++;
        if (aborted) outcome.lateAborts++;
        notes.push(...v.notes);
      },
      (e) => {
        settled[t] = true;
        if (aborted && e?.name === "AbortError") outcome.aborted++;
        else if (!aborted && abortRate > 0 && e?.message === "Terminating worker thread") outcome.collateral++;
        else failures.push(`task ${t}${aborted ? " (aborted)" : ""} rejected: ${e?.stack ?? e}`);
      },
    );
    results.push(done);
    if (plan === "soon") setTimeout(abort, rand.int(3));
    else if (plan === "running") {
      const delay = rand.int(12);
      const w = Atomics.waitAsync(s, taskWord(t, T_STATE), 0);
      Promise.race([w.async ? w.value : undefined, done]).then(() => setTimeout(abort, delay));
    }
  }
  progress(`${tasks} tasks submitted to ${threads} threads`);

  // The driver takes the locks too, now and then, while the tasks run.
  let running = true;
  let mainOps = 0;
  const mainLoop = (async () => {
    const mrand = rng(seed ^ 0x5eed);
    while (running) {
      await sleep(1 + mrand.int(8));
      await operate(main, mrand, -1, 0, 0);
      mainOps++;
    }
  })();

  const report = () => {
    const by = (k) => locks.map((_, l) => Atomics.load(s, lockBase(l) + k));
    return {
      seed,
      tasks,
      threads,
      abortRate,
      ...outcome,
      abortsAt,
      grants: Atomics.load(s, G_GRANTS),
      abandoned: Atomics.load(s, G_ABANDONED),
      abandonedAtEnd: Atomics.load(s, G_ABANDONED_END),
      abandonedByLock: by(K_ABANDONED),
      timeouts: Atomics.load(s, G_TIMEOUTS),
      tryFails: Atomics.load(s, G_TRY_FAILS),
      sections: Atomics.load(s, G_SECTIONS),
      nested: Atomics.load(s, G_NESTED),
      sleeps: Atomics.load(s, G_SLEEPS),
      maxInside: by(K_MAX_INSIDE),
      leftovers: { swept: by(K_SWEPT), met: by(K_MET), end: by(K_END) },
      violations: Atomics.load(s, G_VIOLATIONS),
      errors: Atomics.load(s, G_ERRORS),
      mainOps,
      workers: exits.size,
      attached: Atomics.load(s, G_ATTACHED),
      ms: Date.now() - started,
      failures,
    };
  };
  const finish = (extra = {}) => {
    const r = { ...report(), ...extra };
    console.log(`result ${JSON.stringify(r)}`);
    process.exitCode = r.failures.length === 0 ? 0 : 1;
    // Whatever still keeps this process alive after a failure is not what
    // the failure report is about: end it.
    if (r.failures.length > 0) setTimeout(() => process.exit(1), 100);
  };
  // The locks' state, each holder and waiter marked with whether its thread has ended.
  const describeLocks = () =>
    locks
      .map((lock, l) => {
        const q = lock.query();
        const who = (r) => `${r.mode} by thread ${r.threadId}${isDead(s, r.threadId) ? " (ended)" : ""}`;
        return `${KINDS[l]}: held [${q.held.map(who).join(", ")}], pending [${q.pending.map(who).join(", ")}]`;
      })
      .join("; ");

  // Every task settles: completed ones resolve, aborted ones reject with an AbortError.
  if ((await within(Promise.all(results), HANG_MS, "hang")) === "hang") {
    running = false;
    const open = [];
    for (let t = 0; t < tasks; t++) {
      if (settled[t]) continue;
      const w = (k) => Atomics.load(s, taskWord(t, k));
      open.push(`${t}: state ${w(T_STATE)} holds ${w(T_HOLDS)} waits ${w(T_WAITS)}`);
    }
    failures.push(`hang: ${open.length} of ${tasks} tasks not settled within ${HANG_MS} ms: ${open.slice(0, 10)}`);
    progress("hang; querying the locks");
    failures.push(`locks at the hang: ${describeLocks()}`);
    return finish();
  }
  progress(`all tasks settled: ${outcome.completed} completed, ${outcome.aborted} aborted`);
  running = false;

  // A task that resolved released everything it took: its worker, which the
  // pool keeps (blocked in Atomics.wait between tasks), holds and awaits
  // nothing. Only the workers whose task was aborted or failed may still,
  // until they have ended and been reaped.
  const doomed = new Set();
  for (let t = 0; t < tasks; t++) {
    if (!completed[t] && Atomics.load(s, taskWord(t, T_STATE)) !== 0) doomed.add(Atomics.load(s, taskWord(t, T_TID)));
  }
  const strays = () =>
    locks.flatMap((lock, l) => {
      const q = lock.query();
      const list = (entries, what) =>
        entries
          .filter((e) => e.threadId !== threadId && !doomed.has(e.threadId))
          .map((e) => `${KINDS[l]} ${e.mode} ${what} by thread ${e.threadId}`);
      return [...list(q.held, "held"), ...list(q.pending, "awaited")];
    });
  let stray = strays();
  for (let waited = 0; stray.length > 0 && waited < 1000; waited += 20) {
    await sleep(20);
    stray = strays();
  }
  if (stray.length > 0) {
    failures.push(
      `after every task settled, pool workers whose tasks all completed still hold or await locks (1 s later): ` +
        `${stray.join(", ")}; ${describeLocks()}`,
    );
    return finish();
  }
  if ((await within(mainLoop, STEP_MS, "hang")) === "hang") {
    failures.push(`hang: the driver's own operation did not finish within ${STEP_MS} ms; ${describeLocks()}`);
    return finish();
  }
  if ((await within(pool.destroy(), STEP_MS, "hang")) === "hang") {
    failures.push(`hang: pool.destroy() did not finish within ${STEP_MS} ms`);
    return finish();
  }
  if ((await within(Promise.all(exits.values()), STEP_MS, "hang")) === "hang") {
    failures.push(`hang: not every pool worker exited within ${STEP_MS} ms`);
    return finish();
  }
  progress(`pool destroyed; all ${exits.size} workers exited`);

  // Reaping happens on each worker's exit, asynchronously: poll until every
  // lock is idle and the engine is back where it was.
  const deadline = Date.now() + IDLE_MS;
  let after;
  let problems;
  for (;;) {
    problems = [];
    for (let l = 0; l < locks.length; l++) {
      const kind = KINDS[l];
      const mode = STRONGEST[kind];
      const req = { mode, weight: 1, exclusive: true };
      try {
        const g = await acquireRequest(kind, locks[l], req, { timeout: Math.max(1, deadline - Date.now()) });
        try {
          Atomics.add(s, G_GRANTS, 1);
          if (g.abandoned) {
            Atomics.add(s, G_ABANDONED, 1);
            Atomics.add(s, G_ABANDONED_END, 1);
            Atomics.add(s, lockBase(l) + K_ABANDONED, 1);
          }
        } finally {
          g.release();
        }
      } catch (e) {
        problems.push(`the driver cannot take the ${kind} in ${mode}: ${e?.name ?? e}`);
      }
      const q = locks[l].query();
      if (q.held.length + q.pending.length !== 0) problems.push(`${kind} not idle: ${JSON.stringify(q)}`);
    }
    try {
      engine.validate();
    } catch (e) {
      problems.push(String(e?.message ?? e));
    }
    after = census(engine);
    if (after.alive !== 1) problems.push(`${after.alive - 1} worker records still alive in the engine`);
    if (after.unreaped !== 0) problems.push(`${after.unreaped} ended workers not reaped`);
    if (after.inUse !== before.inUse) {
      const expected = after.live - (after.inUse - before.inUse);
      problems.push(
        `liveBlocks ${after.live}, expected ${expected} (${before.live} before the pool, ` +
          `${after.records - before.records >= 0 ? "+" : "-"} ${Math.abs(after.records - before.records)} thread records, ` +
          `${after.cached - before.cached >= 0 ? "+" : "-"} ${Math.abs(after.cached - before.cached)} nodes cached by this thread)`,
      );
    }
    if (problems.length === 0 || Date.now() >= deadline) break;
    await sleep(50);
  }
  failures.push(...problems.map((p) => `not idle ${IDLE_MS} ms after the pool ended: ${p}`));
  progress(problems.length === 0 ? "locks idle" : "locks not idle");

  // Leftovers nobody ran into: each from a dead thread; this thread left none.
  for (let l = 0; l < locks.length; l++) {
    for (let i = 0; i < SLOTS; i++) {
      const at = slotBase(l, i);
      const slot = readSlot(s, at);
      if (slot === null) continue;
      if (isDead(s, slot.tid)) {
        Atomics.store(s, at, 0);
        Atomics.add(s, lockBase(l) + K_END, 1);
      } else failures.push(`${KINDS[l]}: a slot of live thread ${slot.tid} is still published`);
    }
  }

  const r = report();
  if (r.violations !== 0) failures.push(`${r.violations} exclusion violations`);
  if (r.errors !== 0) failures.push(`${r.errors} unexpected errors in sections`);
  failures.push(...notes.slice(0, MAX_NOTES), ...main.notes.slice(0, MAX_NOTES));
  if (outcome.completed + outcome.aborted + outcome.collateral !== tasks) {
    failures.push(
      `${outcome.completed} completed + ${outcome.aborted} aborted + ${outcome.collateral} collateral != ${tasks} tasks`,
    );
  }
  locks.forEach((_, l) => {
    const left = r.leftovers.swept[l] + r.leftovers.met[l] + r.leftovers.end[l];
    if (left > 0 && r.abandonedByLock[l] === 0) {
      failures.push(`${KINDS[l]}: ${left} holders died inside it, yet no later grant reported abandoned`);
    }
  });
  if (abortRate === 0) {
    if (r.abandoned !== 0) failures.push(`${r.abandoned} grants reported abandoned, but no task was aborted`);
    if (outcome.aborted !== 0) failures.push(`${outcome.aborted} tasks aborted with aborts off`);
  }
  return finish({
    liveBlocks: { before: before.live, after: after.live, threadRecords: after.records, cached: after.cached },
  });
}

if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) await drive();
