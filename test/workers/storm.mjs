// The terminate() storm of test/storm.test.ts, in one file with two roles:
//
// - run as a script (`node test/workers/storm.mjs <seed> <kills>`), it is the
//   storm's driver: one debug Engine, four shared locks, three workers that
//   hammer them while this thread uses them too and kills a worker every 0-3 ms
//   (worker.terminate(), or a message that makes the worker call process.exit()
//   at a random point of its work) and starts a replacement at once. Then it
//   stops the survivors, checks that everything is idle, exclusive, usable and
//   freed, and prints one line of JSON: the report that storm.test.ts asserts
//   on. It runs in a process of its own because a wedge in the engine can block
//   this thread's event loop, which only a watchdog in another process can see.
// - started as a Worker by that driver (workerData.storm), it is a storm worker.
//
// Instrumentation. The section checks of common.mjs keep one "inside" counter
// per lock, which a thread killed between two of its increments leaves in a
// state nobody can undo exactly; and a survivor told `abandoned` cannot undo it
// in time either, since a grant right after its own (not abandoned) may enter
// first. So here every thread (every "incarnation": a worker, or the driver,
// incarnation 0) announces itself in its own words of a shared ledger (per
// lock: its holders inside per mode, by weight; one atomic add per change,
// which also bumps the word's version), and a section, on entering, takes a
// snapshot of everyone's words (two identical collects) to look for a
// conflicting holder. Announce first, then look, with sequentially consistent
// atomics: of two conflicting holders entering together at least one sees the
// other, and a snapshot never adds up holders that were not inside at the same
// time. What a dead thread left inside is forgotten by zeroing its words: by
// the dying worker itself just before process.exit(), and by the driver in a
// worker 'exit' listener that runs before ringlock's own (prependListener), so
// before the engine reaps the dead thread and can grant what it held to anyone
// else. A grant that reports `abandoned` must come after such a death.

import "../../dist/bindings/debug.js";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, threadId, Worker, workerData } from "node:worker_threads";
import { Engine, FifoLock, Mutex, RWLock, Semaphore, TimeoutError } from "../../dist/bindings/index.js";
import {
  acquireRequest,
  lockFrom,
  MGL_CONFLICTS,
  MGL_MODES,
  MGL_NAMES,
  MODE_NAMES,
  newStats,
  pause,
  pickRequest,
  rng,
  S_ABANDONED,
  S_ABORTS,
  S_ERRORS,
  S_EXCLUSIVE,
  S_GRANTED,
  S_PLAIN,
  S_TIMEOUTS,
  S_VIOLATIONS,
} from "./common.mjs";

const PERMITS = 3;
const KINDS = ["mutex", "rw", "sem", "mgl"];
const LEDGER_WORDS = MGL_NAMES.length; // per (incarnation, lock): holders inside per mode index, by weight

// Control words (an Int32Array over a SharedArrayBuffer).
const C_INCARNATIONS = 0; // incarnations allocated so far (the driver is 0)
const C_REAPED = 1; // worker exits seen by the driver (before ringlock reaps them)
const C_EXITING = 2; // workers that called process.exit()
const C_TRY_MISSES = 3; // tryAcquire() calls that returned null
const C_WHENS = 4; // whenAcquirable() calls that resolved
const C_QUERIES = 5; // query() snapshots checked
const C_FROMS = 6; // from()/share() round trips checked
const C_SECTIONS = 7; // critical sections completed
const C_UNCHECKED = 8; // sections whose check found no stable snapshot of the ledger
const CTL_WORDS = 9;

/** The shared memory of one storm: ledger, control words, the incarnation limit. */
function newShared(maxIncarnations) {
  return {
    ledger: new SharedArrayBuffer(maxIncarnations * KINDS.length * LEDGER_WORDS * 4),
    ctl: new SharedArrayBuffer(CTL_WORDS * 4),
    tids: new SharedArrayBuffer(maxIncarnations * 4), // threadId of each incarnation, for reports
    maxIncarnations,
  };
}

/** Index of a request's mode among its lock kind's modes (the ledger word it counts in). */
function modeIndex(kind, mode) {
  const i = MODE_NAMES[kind].indexOf(mode);
  if (i < 0) throw new Error(`unknown mode ${mode} for ${kind}`);
  return i;
}

/**
 * The per-thread view of a storm: the locks (with their stats), the ledger,
 * this thread's incarnation, a PRNG, a way to report surprises, and the
 * checkpoint hook (where a worker told to exit may do so).
 */
function stormContext({ descs, objs, shared, incarnation, seed, report, checkpoint }) {
  const ledger = new Int32Array(shared.ledger);
  const ctl = new Int32Array(shared.ctl);
  Atomics.store(new Int32Array(shared.tids), incarnation, threadId);
  const locks = descs.map((d, i) => ({
    index: i,
    kind: d.kind,
    desc: d,
    obj: objs ? objs[i] : lockFrom(d),
    s: new Int32Array(d.stats),
    permits: d.permits,
  }));
  return {
    locks,
    ledger,
    ctl,
    tids: new Int32Array(shared.tids),
    incarnation,
    rand: rng(seed),
    report,
    checkpoint: checkpoint ?? (() => {}),
  };
}

const base = (incarnation, lock) => (incarnation * KINDS.length + lock) * LEDGER_WORDS;

// A ledger word packs a version (high 24 bits) with a count (low 8 bits: the
// weight this thread has inside in that mode), so that one Atomics.add both
// changes the count and bumps the version: a thread killed at any point has
// either announced or not, and a reader can tell whether a word has changed.
const COUNT_BITS = 8;
const COUNT_MASK = (1 << COUNT_BITS) - 1;
const VERSION = 1 << COUNT_BITS;

/** Resets what incarnation `inc` announced in the ledger (it is dead, or about to be). */
function forgetIncarnation(ledger, inc) {
  for (let l = 0; l < KINDS.length; l++) {
    for (let k = 0; k < LEDGER_WORDS; k++) {
      const w = Atomics.load(ledger, base(inc, l) + k);
      if ((w & COUNT_MASK) !== 0) Atomics.store(ledger, base(inc, l) + k, (w & ~COUNT_MASK) + VERSION);
    }
  }
}

function collect(ledger, n, l, out) {
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < LEDGER_WORDS; k++) out[i * LEDGER_WORDS + k] = Atomics.load(ledger, base(i, l) + k);
  }
}

/**
 * Holders inside lock `l` per mode index (by weight), summed over every
 * incarnation, as they were at one instant: two collects that read the same
 * words (versions included, so no change can hide) bracket a moment at which
 * every word held the value read. null if no two collects agreed.
 */
function insideTotals(ledger, ctl, l) {
  for (let tries = 0; tries < 200; tries++) {
    const n = Atomics.load(ctl, C_INCARNATIONS);
    const a = new Int32Array(n * LEDGER_WORDS);
    const b = new Int32Array(n * LEDGER_WORDS);
    collect(ledger, n, l, a);
    collect(ledger, n, l, b);
    let same = Atomics.load(ctl, C_INCARNATIONS) === n;
    for (let j = 0; same && j < a.length; j++) same = a[j] === b[j];
    if (!same) continue;
    const tot = new Array(LEDGER_WORDS).fill(0);
    for (let j = 0; j < a.length; j++) tot[j % LEDGER_WORDS] += a[j] & COUNT_MASK;
    return tot;
  }
  return null;
}

/** "thread <id>: <counts>" for every incarnation with something announced on lock `l`. */
function whoIsInside(cx, l) {
  const n = Atomics.load(cx.ctl, C_INCARNATIONS);
  const out = [];
  for (let i = 0; i < n; i++) {
    const counts = Array.from({ length: LEDGER_WORDS }, (_, k) => Atomics.load(cx.ledger, base(i, l) + k) & COUNT_MASK);
    if (counts.some((c) => c !== 0)) out.push(`thread ${Atomics.load(cx.tids, i)}: ${counts.join(",")}`);
  }
  return out.join("; ");
}

/** Whether a holder of mode m (weight w) is in conflict with the holders counted in `tot` (itself included). */
function conflictInside(kind, permits, m, w, tot) {
  switch (kind) {
    case "mutex":
      return tot[0] > 1;
    case "rw":
      return m === 0 ? tot[1] > 0 : tot[1] > 1 || tot[0] > 0;
    case "sem":
      return tot[0] > permits;
    case "mgl":
      for (let c = 0; c < MGL_NAMES.length; c++) {
        if (MGL_CONFLICTS[m][c] && tot[c] - (c === m ? w : 0) > 0) return true;
      }
      return false;
    default:
      throw new Error(`unknown lock kind ${kind}`);
  }
}

/**
 * A critical section, run while holding `req` on lock `l`: announces itself,
 * looks for a conflicting holder, and checks the plain (non-atomic) counter:
 * an exclusive section's read-pause-write must see nobody else write it, a
 * shared section must see it stand still.
 */
async function section(cx, l, req) {
  const { ledger, ctl, rand } = cx;
  const m = modeIndex(l.kind, req.mode);
  const mine = base(cx.incarnation, l.index) + m;
  Atomics.add(ledger, mine, VERSION + req.weight);
  try {
    const tot = insideTotals(ledger, ctl, l.index);
    if (tot === null) Atomics.add(ctl, C_UNCHECKED, 1);
    else if (conflictInside(l.kind, l.permits, m, req.weight, tot)) {
      Atomics.add(l.s, S_VIOLATIONS, 1);
      cx.report(
        `exclusion violated on ${l.kind}: entering ${req.mode}/${req.weight} with inside ${JSON.stringify(tot)}` +
          ` (${whoIsInside(cx, l.index)}); the engine says ${JSON.stringify(l.obj.query())}`,
      );
    }
    cx.checkpoint();
    const v = l.s[S_PLAIN];
    await pause(rand);
    cx.checkpoint();
    if (l.s[S_PLAIN] !== v) {
      Atomics.add(l.s, S_VIOLATIONS, 1);
      cx.report(`exclusion violated on ${l.kind}: the plain counter moved under a ${req.mode} section`);
    } else if (req.exclusive) {
      l.s[S_PLAIN] = v + 1;
      Atomics.add(l.s, S_EXCLUSIVE, 1);
      await pause(rand);
      if (l.s[S_PLAIN] !== v + 1) {
        Atomics.add(l.s, S_VIOLATIONS, 1);
        cx.report(`exclusion violated on ${l.kind}: the plain counter moved under a ${req.mode} section`);
      }
    }
  } finally {
    Atomics.add(ledger, mine, VERSION - req.weight);
  }
  Atomics.add(ctl, C_SECTIONS, 1);
}

/** Random acquire options: none, a 0-2 ms timeout, or a signal aborted before, at once, or 0-2 ms later. */
function pickOptions(rand) {
  const r = rand();
  if (r < 0.35) return { o: undefined };
  if (r < 0.65) return { o: { timeout: rand.int(3) } };
  const ac = new AbortController();
  const reason = new Error("storm abort");
  const when = rand.int(5);
  if (when === 0) ac.abort(reason);
  const o = { signal: ac.signal };
  if (when === 1) return { o, reason, abortNow: () => ac.abort(reason) };
  if (when >= 2) return { o, reason, timer: setTimeout(() => ac.abort(reason), when - 2) };
  return { o, reason };
}

/** Counts a rejection: a timeout or the signal's own reason is expected, anything else is an error. */
function rejected(cx, l, e, pick, what) {
  if (e instanceof TimeoutError && e.name === "TimeoutError" && pick.o?.timeout !== undefined) {
    Atomics.add(l.s, S_TIMEOUTS, 1);
  } else if (pick.reason !== undefined && e === pick.reason) {
    Atomics.add(l.s, S_ABORTS, 1);
  } else {
    Atomics.add(l.s, S_ERRORS, 1);
    cx.report(`unexpected rejection of ${what} on ${l.kind}: ${e?.stack ?? e}`);
  }
}

/** Checks a fresh guard against its request and counts it. */
function granted(cx, l, g, req, what) {
  Atomics.add(l.s, S_GRANTED, 1);
  if (g.abandoned) {
    Atomics.add(l.s, S_ABANDONED, 1);
    if (Atomics.load(cx.ctl, C_REAPED) + Atomics.load(cx.ctl, C_EXITING) === 0) {
      Atomics.add(l.s, S_ERRORS, 1);
      cx.report(`${what} on ${l.kind} reported abandoned before any worker had died`);
    }
  }
  if (g.mode !== req.mode || g.weight !== req.weight || g.released) {
    Atomics.add(l.s, S_ERRORS, 1);
    cx.report(
      `${what} on ${l.kind}: guard ${g.mode}/${g.weight}${g.released ? " (released)" : ""} for ${req.mode}/${req.weight}`,
    );
  }
}

async function opAcquire(cx, l, req) {
  const pick = pickOptions(cx.rand);
  let g;
  try {
    const p = acquireRequest(l.kind, l.obj, req, pick.o);
    pick.abortNow?.();
    cx.checkpoint();
    g = await p;
  } catch (e) {
    rejected(cx, l, e, pick, "acquire");
    return;
  } finally {
    if (pick.timer !== undefined) clearTimeout(pick.timer);
  }
  try {
    granted(cx, l, g, req, "acquire");
    cx.checkpoint();
    await section(cx, l, req);
    cx.checkpoint();
  } finally {
    g.release();
  }
  if (!g.released) {
    Atomics.add(l.s, S_ERRORS, 1);
    cx.report(`a released guard on ${l.kind} does not say released`);
  }
}

function runRequest(l, req, fn, o) {
  switch (l.kind) {
    case "mutex":
      return l.obj.run(fn, o);
    case "rw":
      return req.mode === "read" ? l.obj.runRead(fn, o) : l.obj.runWrite(fn, o);
    case "sem":
      return l.obj.run(fn, { ...o, weight: req.weight });
    case "mgl":
      return l.obj.run(req.mode, fn, o);
    default:
      throw new Error(`unknown lock kind ${l.kind}`);
  }
}

async function opRun(cx, l, req) {
  const pick = pickOptions(cx.rand);
  let guard;
  const token = {};
  try {
    const p = runRequest(
      l,
      req,
      async (g) => {
        guard = g;
        granted(cx, l, g, req, "run");
        await section(cx, l, req);
        return token;
      },
      pick.o,
    );
    pick.abortNow?.();
    cx.checkpoint();
    if ((await p) !== token) {
      Atomics.add(l.s, S_ERRORS, 1);
      cx.report(`run() on ${l.kind} did not return its function's result`);
    }
  } catch (e) {
    if (guard === undefined) rejected(cx, l, e, pick, "run");
    else {
      Atomics.add(l.s, S_ERRORS, 1);
      cx.report(`run() on ${l.kind} rejected after its grant: ${e?.stack ?? e}`);
    }
  } finally {
    if (pick.timer !== undefined) clearTimeout(pick.timer);
  }
  if (guard !== undefined && !guard.released) {
    Atomics.add(l.s, S_ERRORS, 1);
    cx.report(`run() on ${l.kind} left its guard unreleased`);
  }
}

function tryRequest(l, req) {
  switch (l.kind) {
    case "mutex":
      return l.obj.tryAcquire();
    case "rw":
      return req.mode === "read" ? l.obj.tryRead() : l.obj.tryWrite();
    case "sem":
      return l.obj.tryAcquire(req.weight);
    case "mgl":
      return l.obj.tryAcquire(req.mode, req.weight);
    default:
      throw new Error(`unknown lock kind ${l.kind}`);
  }
}

async function opTry(cx, l, req) {
  const g = tryRequest(l, req);
  if (g === null) {
    Atomics.add(cx.ctl, C_TRY_MISSES, 1);
    return;
  }
  try {
    granted(cx, l, g, req, "tryAcquire");
    cx.checkpoint();
    await section(cx, l, req);
  } finally {
    g.release();
  }
  cx.checkpoint();
}

function whenRequest(l, req, o) {
  switch (l.kind) {
    case "mutex":
      return l.obj.whenAcquirable(o);
    case "rw":
      return req.mode === "read" ? l.obj.whenReadable(o) : l.obj.whenWritable(o);
    case "sem":
      return l.obj.whenAcquirable(req.weight, o);
    case "mgl":
      return l.obj.whenAcquirable(req.mode, req.weight, o);
    default:
      throw new Error(`unknown lock kind ${l.kind}`);
  }
}

async function opWhen(cx, l, req) {
  // Always bounded: a hint may wait for a moment that never comes.
  const pick = cx.rand() < 0.7 ? { o: { timeout: cx.rand.int(3) } } : pickOptions(cx.rand);
  if (
    pick.o === undefined ||
    (pick.o.timeout === undefined && pick.timer === undefined && pick.abortNow === undefined)
  ) {
    pick.o = { ...pick.o, timeout: 2 };
  }
  try {
    const p = whenRequest(l, req, pick.o);
    pick.abortNow?.();
    cx.checkpoint();
    await p;
    Atomics.add(cx.ctl, C_WHENS, 1);
  } catch (e) {
    rejected(cx, l, e, pick, "whenAcquirable");
  } finally {
    if (pick.timer !== undefined) clearTimeout(pick.timer);
  }
}

/** What is wrong with a query() snapshot of a lock of `kind`, or undefined. */
function badSnapshot(kind, permits, q) {
  const names = MODE_NAMES[kind];
  if (!Array.isArray(q?.held) || !Array.isArray(q?.pending)) return "not { held: [], pending: [] }";
  for (const e of [...q.held, ...q.pending]) {
    if (!names.includes(e.mode) || !Number.isInteger(e.weight) || e.weight < 1 || !Number.isInteger(e.threadId)) {
      return `bad entry ${JSON.stringify(e)}`;
    }
  }
  const h = q.held;
  switch (kind) {
    case "mutex":
      if (h.length > 1) return `${h.length} holders`;
      break;
    case "rw":
      if (h.some((e) => e.mode === "write") && h.length > 1) return "a writer held with others";
      break;
    case "sem": {
      const sum = h.reduce((a, e) => a + e.weight, 0);
      if (sum > permits) return `${sum} permits held of ${permits}`;
      break;
    }
    case "mgl":
      for (const a of h) {
        for (const b of h) {
          if (a !== b && MGL_CONFLICTS[names.indexOf(a.mode)][names.indexOf(b.mode)]) {
            return `${a.mode} and ${b.mode} held together`;
          }
        }
      }
      break;
  }
  return undefined;
}

function opQuery(cx, l) {
  const q = l.obj.query();
  const bad = badSnapshot(l.kind, l.permits, q);
  const waiting = l.obj.waiting;
  let getters;
  switch (l.kind) {
    case "mutex":
      getters = typeof l.obj.locked === "boolean";
      break;
    case "rw":
      getters = l.obj.readers >= 0 && typeof l.obj.writing === "boolean";
      break;
    case "sem":
      getters = l.obj.available >= 0 && l.obj.available <= l.permits && l.obj.permits === l.permits;
      break;
    case "mgl":
      getters = MGL_NAMES.every((m) => l.obj.held(m) >= 0);
      break;
  }
  if (bad !== undefined || !getters || !(waiting >= 0)) {
    Atomics.add(l.s, S_ERRORS, 1);
    cx.report(`query() of ${l.kind}: ${bad ?? "a getter out of range"}: ${JSON.stringify(q)}`);
  }
  Atomics.add(cx.ctl, C_QUERIES, 1);
}

function opFrom(cx, l) {
  // The description received again, and one made here, both give back this thread's lock object.
  const again = lockFrom(l.desc);
  const round = lockFrom({ kind: l.kind, lock: l.obj.share() });
  if (again !== l.obj || round !== l.obj) {
    Atomics.add(l.s, S_ERRORS, 1);
    cx.report(`${l.kind}.from() of a known description gave a different lock object`);
  }
  if (Engine.from(l.desc.lock.engine) !== Engine.from(l.obj.share().engine)) {
    Atomics.add(l.s, S_ERRORS, 1);
    cx.report("Engine.from() gave two engine objects for one memory in one thread");
  }
  Atomics.add(cx.ctl, C_FROMS, 1);
}

/** One random operation on one random lock. */
async function stormOp(cx) {
  const { rand } = cx;
  const l = cx.locks[rand.int(cx.locks.length)];
  const req = pickRequest(l.kind, l.permits, rand);
  const r = rand();
  if (r < 0.36) await opAcquire(cx, l, req);
  else if (r < 0.52) await opRun(cx, l, req);
  else if (r < 0.72) await opTry(cx, l, req);
  else if (r < 0.84) await opWhen(cx, l, req);
  else if (r < 0.95) opQuery(cx, l);
  else opFrom(cx, l);
}

// ------------------------------------------------------------ worker role

async function workerMain() {
  const { descs, shared, incarnation, seed, loops } = workerData;
  const ledger = new Int32Array(shared.ledger);
  const ctl = new Int32Array(shared.ctl);
  let stopping = false;
  let exitIn = -1; // checkpoints left before process.exit(), once told to exit
  let reports = 0;
  const die = () => {
    Atomics.add(ctl, C_EXITING, 1);
    forgetIncarnation(ledger, incarnation);
    process.exit(3);
  };
  const cx = stormContext({
    descs,
    shared,
    incarnation,
    seed,
    report: (msg) => {
      if (reports++ < 20)
        parentPort.postMessage({ type: "error", msg: `worker ${incarnation} (thread ${threadId}): ${msg}` });
    },
    checkpoint: () => {
      if (exitIn >= 0 && exitIn-- === 0) die();
    },
  });
  parentPort.on("message", (m) => {
    if (m.op === "stop") stopping = true;
    else if (m.op === "exit") {
      // Now (the loops are at await points, maybe holding or awaiting locks),
      // or at one of the next checkpoints, or on a timer if those do not come soon.
      if (m.now) die();
      exitIn = m.checkpoints;
      setTimeout(die, m.ms);
    }
  });
  parentPort.postMessage({ type: "up", threadId });
  const loop = async () => {
    while (!stopping) {
      cx.checkpoint();
      await stormOp(cx);
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  // Stopped: every operation has ended and released what it took.
  parentPort.postMessage({ type: "done" });
  parentPort.close();
}

if (!isMainThread && workerData?.storm === true) await workerMain();

// ------------------------------------------------------------ driver role

const within = (p, ms, what, onHang) => {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`hang: ${what} did not happen within ${ms} ms`), { onHang })),
      ms,
    );
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
};

/**
 * Takes this thread's per-thread node caches, if the engine keeps any, to the
 * same state every time: queues `n` waiters on a lock of its own (taking every
 * cached node and more) and lets them all go. liveBlocks counts cached nodes,
 * so a baseline is comparable only after the same drain.
 */
async function drainCaches(mutex, n = 200) {
  const first = await mutex.acquire();
  const rest = Array.from({ length: n }, () => mutex.acquire());
  first.release();
  for (const p of rest) (await p).release();
}

async function driverMain(seed, kills) {
  const t0 = performance.now();
  const SLOTS = 3;
  const MIN_TRAFFIC_MS = 1000;
  const HANG_MS = 20_000;
  const rand = rng(seed);
  const engine = new Engine({ debug: true });
  const objs = [
    new Mutex({ engine }),
    new RWLock({ engine }),
    new Semaphore(PERMITS, { engine }),
    new FifoLock(MGL_MODES, { engine }),
  ];
  const descs = objs.map((o, i) => ({ kind: KINDS[i], lock: o.share(), stats: newStats().buffer, permits: PERMITS }));
  const shared = newShared(kills + SLOTS + 2);
  const ctl = new Int32Array(shared.ctl);
  const ledger = new Int32Array(shared.ledger);
  Atomics.store(ctl, C_INCARNATIONS, 1); // the driver is incarnation 0
  const errors = [];
  const cx = stormContext({
    descs,
    objs,
    shared,
    incarnation: 0,
    seed: seed ^ 0x5eed,
    report: (msg) => {
      if (errors.length < 50) errors.push(`main: ${msg}`);
    },
  });
  const drainer = new Mutex({ engine });
  drainer.share(); // pinned: its block stays put from baseline to the end
  await drainCaches(drainer);
  const baseline = { liveBlocks: engine.liveBlocks, heapBytes: engine.heapBytes };

  const workers = []; // every worker ever started
  const exitCodes = { unexpected: [] };
  let terminated = 0;
  let exited = 0;
  let bootKills = 0;
  const start = () => {
    const inc = Atomics.add(ctl, C_INCARNATIONS, 1);
    if (inc >= shared.maxIncarnations) throw new Error("more incarnations than the ledger holds");
    const w = new Worker(new URL(import.meta.url), {
      workerData: { storm: true, descs, shared, incarnation: inc, seed: rand.int(2 ** 31), loops: 2 },
    });
    const rec = { w, inc, how: "running", threadId: w.threadId };
    // Runs before ringlock's own exit listener, so before the engine reaps this thread.
    w.prependListener("exit", () => {
      forgetIncarnation(ledger, inc);
      Atomics.add(ctl, C_REAPED, 1);
    });
    rec.exited = new Promise((resolve) => w.once("exit", resolve)).then((code) => {
      // terminate() reports 0 when it lands before the worker has started running its script.
      const want = { terminate: [0, 1], exit: [3], stop: [0] }[rec.how] ?? [];
      if (!want.includes(code)) exitCodes.unexpected.push(`worker ${inc} (${rec.how}) exited with ${code}`);
      rec.code = code;
      return code;
    });
    // Up once attached to the locks (or gone: a worker that dies first is reported by its exit code).
    rec.up = new Promise((resolve) => {
      w.on("message", (m) => {
        if (m.type === "up") {
          rec.isUp = true;
          resolve();
        } else if (m.type === "error" && errors.length < 50) errors.push(m.msg);
      });
      rec.exited.then(() => {
        rec.isUp = true; // as good as up for whoever waits: it will not come up now
        resolve();
      });
    });
    w.on("error", (e) => {
      if (errors.length < 50) errors.push(`worker ${inc} threw: ${e?.stack ?? e}`);
    });
    workers.push(rec);
    return rec;
  };

  const describe = () => {
    const state = {};
    objs.forEach((o, i) => {
      state[KINDS[i]] = { query: o.query(), waiting: o.waiting };
    });
    let validate = "ok";
    try {
      engine.validate();
    } catch (e) {
      validate = String(e?.message ?? e);
    }
    const alive = workers.filter((r) => r.code === undefined).map((r) => `${r.inc}:${r.how}:thread ${r.threadId}`);
    return { state, validate, workersNotExited: alive };
  };

  const guard = (p, what) => within(p, HANG_MS, what, describe);

  // Traffic: the workers' loops, and the driver's own two loops on the same locks.
  const slots = Array.from({ length: SLOTS }, start);
  let mainStop = false;
  const mainLoop = async () => {
    while (!mainStop) await stormOp(cx);
  };
  const mainLoops = [mainLoop(), mainLoop()];
  for (let k = 0; k < kills; k++) {
    if (k % 10 === 0) console.log(`progress: kill ${k}/${kills} at ${Math.round(performance.now() - t0)} ms`);
    await new Promise((resolve) => setTimeout(resolve, rand.int(4)));
    // Mostly a worker that is up and busy (the slot picked, or another one that is up, or the
    // first to come up); sometimes one that is still starting.
    let i = rand.int(SLOTS);
    if (rand() < 0.9) {
      if (!slots[i].isUp) {
        const upSlots = slots.map((s, j) => (s.isUp ? j : -1)).filter((j) => j >= 0);
        if (upSlots.length > 0) i = upSlots[rand.int(upSlots.length)];
        else {
          await guard(Promise.race(slots.map((s) => s.up)), `a worker starting up (kill ${k})`);
          i = slots.findIndex((s) => s.isUp);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, rand.int(3)));
    } else bootKills++;
    const victim = slots[i];
    if (rand() < 0.5) {
      victim.how = "terminate";
      terminated++;
      void victim.w.terminate();
    } else {
      victim.how = "exit";
      exited++;
      const r = rand();
      victim.w.postMessage({ op: "exit", now: r < 0.25, checkpoints: rand.int(12), ms: 1 + rand.int(5) });
    }
    slots[i] = start();
  }
  const elapsed = performance.now() - t0;
  if (elapsed < MIN_TRAFFIC_MS) await new Promise((resolve) => setTimeout(resolve, MIN_TRAFFIC_MS - elapsed));
  const killMs = Math.round(performance.now() - t0);

  // Wind down: the driver's loops, then the survivors (each finishes its operations and ends).
  console.log(`progress: ${kills} kills done at ${killMs} ms; stopping`);
  mainStop = true;
  await guard(Promise.all(mainLoops), "the main thread's last operations");
  for (const s of slots) s.how = "stop";
  await guard(Promise.all(slots.map((s) => s.up)), "the last workers starting up");
  for (const s of slots) s.w.postMessage({ op: "stop" });
  await guard(
    Promise.all(workers.map((r) => r.exited)),
    "every worker ending (the survivors by themselves once stopped)",
  );

  console.log(`progress: all workers ended at ${Math.round(performance.now() - t0)} ms; checking`);
  // Every lock idle, as every getter and query() say.
  const idle = {};
  objs.forEach((o, i) => {
    const kind = KINDS[i];
    const extra =
      kind === "mutex"
        ? { locked: o.locked }
        : kind === "rw"
          ? { readers: o.readers, writing: o.writing }
          : kind === "sem"
            ? { available: o.available }
            : { heldPerMode: MGL_NAMES.map((m) => o.held(m)) };
    idle[kind] = { ...o.query(), waiting: o.waiting, ...extra };
  });
  // Whole-lock acquires from this thread still succeed.
  const finalAcquire = {};
  let finalAbandoned = 0;
  for (let i = 0; i < objs.length; i++) {
    const kind = KINDS[i];
    const req = {
      mode: { mutex: "exclusive", rw: "write", sem: "permit", mgl: "X" }[kind],
      weight: kind === "sem" ? PERMITS : 1,
    };
    try {
      const g = await acquireRequest(kind, objs[i], req, { timeout: 5000 });
      if (g.abandoned) finalAbandoned++;
      g.release();
      finalAcquire[kind] = "granted";
    } catch (e) {
      finalAcquire[kind] = `failed: ${e?.message ?? e}`;
    }
  }
  let validate = "ok";
  try {
    engine.validate();
  } catch (e) {
    validate = String(e?.message ?? e);
  }
  const sum = (w) => descs.reduce((a, d) => a + new Int32Array(d.stats)[w], 0);
  const inside = KINDS.map((_, l) => insideTotals(ledger, ctl, l)?.reduce((a, b) => a + b, 0) ?? "unstable");
  // Reaping happens on exit events (and may retry on a timer): poll for the baseline.
  let after;
  const deadline = performance.now() + 3000;
  for (;;) {
    await drainCaches(drainer);
    after = { liveBlocks: engine.liveBlocks, heapBytes: engine.heapBytes };
    if (after.liveBlocks === baseline.liveBlocks || performance.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    seed,
    kills,
    terminated,
    exited,
    bootKills,
    workers: workers.length,
    killMs,
    ms: Math.round(performance.now() - t0),
    grants: sum(S_GRANTED),
    timeouts: sum(S_TIMEOUTS),
    aborts: sum(S_ABORTS),
    abandoned: sum(S_ABANDONED) + finalAbandoned,
    violations: sum(S_VIOLATIONS),
    errors: sum(S_ERRORS),
    sections: Atomics.load(ctl, C_SECTIONS),
    unchecked: Atomics.load(ctl, C_UNCHECKED),
    tryMisses: Atomics.load(ctl, C_TRY_MISSES),
    whens: Atomics.load(ctl, C_WHENS),
    queries: Atomics.load(ctl, C_QUERIES),
    froms: Atomics.load(ctl, C_FROMS),
    errorMessages: [...errors, ...exitCodes.unexpected],
    inside,
    idle,
    finalAcquire,
    validate,
    baseline,
    after,
    describe,
  };
}

if (isMainThread && process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const seed = Number(process.argv[2] ?? 1);
  const kills = Number(process.argv[3] ?? 200);
  console.log(`storm seed=${seed} kills=${kills}`);
  let report;
  try {
    report = await driverMain(seed, kills);
  } catch (e) {
    // A hang inside this process (its event loop still running): say where, and what the locks look like.
    let state;
    try {
      state = e?.onHang?.() ?? null;
    } catch (e2) {
      state = `could not describe: ${e2}`;
    }
    console.log(JSON.stringify({ failed: String(e?.message ?? e), stack: String(e?.stack ?? ""), state }));
    process.exit(2);
  }
  const { describe: _, ...out } = report;
  console.log(JSON.stringify(out));
  process.exit(0);
}
