// The browser suite, run in a cross-origin isolated page (suite.html) and its
// Web Workers (worker.js); test/browser.test.ts calls these through Playwright.
// Each function resolves to plain data that the test asserts on.

import { handoffSide, meanHandoffUs, summary } from "/bench/lib/handoff.js";
import { Engine, FifoLock, Mutex, RWLock, Semaphore } from "/dist/bindings/index.js";
import {
  attempt,
  MGL_MODES,
  newStats,
  rng,
  S_ERRORS,
  S_EXCLUSIVE,
  S_GRANTED,
  S_PLAIN,
  S_VIOLATIONS,
} from "/test/workers/common.mjs";

const workerErrors = [];

/** A Web Worker running worker.js, with a promise per command. */
async function spawn() {
  const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  const replies = new Map();
  let next = 0;
  const ready = new Promise((resolve) => {
    w.onmessage = ({ data }) => {
      if (data.type === "ready") return resolve(data.threadId);
      const r = replies.get(data.id);
      replies.delete(data.id);
      if (data.type === "error") r?.reject(new Error(data.error));
      else r?.resolve(data);
    };
  });
  w.onerror = (e) => workerErrors.push(String(e.message ?? e));
  const threadId = await ready;
  const call = (op, args = {}) =>
    new Promise((resolve, reject) => {
      const id = next++;
      replies.set(id, { resolve, reject });
      w.postMessage({ ...args, op, id });
    });
  return { w, threadId, call };
}

/** Hides Atomics.waitAsync (when asked) until the returned function is called. */
export function withoutWaitAsync(hide) {
  const saved = Atomics.waitAsync;
  if (!hide) return () => {};
  delete Atomics.waitAsync;
  return () => {
    Atomics.waitAsync = saved;
  };
}

// A then-callback that notes `name` in `list` and passes the guard on.
const noting = (list, name) => (g) => {
  list.push(name);
  return g;
};

/** A cross-section of test/conformance.test.ts, on the page's main thread. */
export async function conformance() {
  const out = {};
  const m = new Mutex();
  const order = [];
  const g = await m.acquire();
  const ps = [1, 2, 3].map((i) =>
    m.acquire().then((h) => {
      order.push(i);
      h.release();
    }),
  );
  out.tryWhileQueued = m.tryAcquire() === null;
  g.release();
  await Promise.all(ps);
  out.fifo = order.join(",");
  const h = await m.acquire();
  const t = await m.acquire({ timeout: 5 }).catch((e) => e.name);
  const ac = new AbortController();
  const a = m.acquire({ signal: ac.signal }).catch((e) => e.message);
  ac.abort(new Error("gone"));
  out.timeout = t;
  out.abort = await a;
  out.waitingAfterCancel = m.waiting;
  h.release();
  h.release();
  out.lockedAfterDoubleRelease = m.locked;

  const rw = new RWLock();
  const r1 = await rw.read();
  const seq = [];
  const w = rw.write().then(noting(seq, "writer"));
  const r2 = rw.read().then(noting(seq, "reader"));
  r1.release();
  (await w).release();
  (await r2).release();
  out.rwOrder = seq.join(",");

  const sem = new Semaphore(4);
  const heavyFirst = [];
  const s3 = await sem.acquire({ weight: 3 });
  const heavy = sem.acquire({ weight: 4 }).then(noting(heavyFirst, "heavy"));
  const light = sem.acquire({ weight: 1 }).then(noting(heavyFirst, "light"));
  s3.release();
  (await heavy).release();
  (await light).release();
  out.semOrder = heavyFirst.join(",");

  const table = new FifoLock(MGL_MODES);
  const is = await table.acquire("IS");
  const ix = await table.acquire("IX");
  const s = table.acquire("S");
  const is2 = table.acquire("IS");
  const q = table.query();
  out.mglHeld = q.held.map((e) => e.mode).join(",");
  out.mglPending = q.pending.map((e) => e.mode).join(",");
  out.queryThread = q.held[0].threadId === Engine.threadId;
  ix.release();
  (await s).release();
  (await is2).release();
  is.release();
  out.mglFree = table.query().held.length;
  return out;
}

const KINDS = [
  { kind: "mutex", make: (e) => new Mutex({ engine: e }), permits: 1 },
  { kind: "rw", make: (e) => new RWLock({ engine: e }), permits: 1 },
  { kind: "sem", make: (e) => new Semaphore(2, { engine: e }), permits: 2 },
  { kind: "mgl", make: (e) => new FifoLock(MGL_MODES, { engine: e }), permits: 1 },
];

/** Workers and the page hammer one lock of each kind; sections are checked with Atomics.
 *  noWaitAsync: the page and the workers run without Atomics.waitAsync (as Firefox ESR 140 does). */
export async function exclusion({ workers = 4, rounds = 300, seed = 1, waker = "auto", noWaitAsync = false } = {}) {
  const restore = withoutWaitAsync(noWaitAsync);
  const engine = new Engine({ waker });
  const locks = KINDS.map((k) => ({ kind: k.kind, permits: k.permits, s: newStats(), obj: k.make(engine) }));
  const shared = locks.map((l) => ({ kind: l.kind, permits: l.permits, s: l.s, lock: l.obj.share() }));
  const ws = await Promise.all(Array.from({ length: workers }, spawn));
  const errors = [];
  const rand = rng(seed);
  const page = (async () => {
    for (let i = 0; i < rounds; i++) await attempt(locks[rand.int(locks.length)], rand, errors, true);
  })();
  const results = await Promise.all(
    ws.map((w, i) => w.call("hammer", { locks: shared, rounds, seed: seed * 100 + i, waker, noWaitAsync })),
  );
  await page;
  restore();
  for (const w of ws) w.w.terminate();
  for (const r of results) errors.push(...r.errors);
  return {
    errors,
    threads: new Set([Engine.threadId, ...ws.map((w) => w.threadId)]).size,
    stats: locks.map((l) => ({
      kind: l.kind,
      granted: l.s[S_GRANTED],
      violations: l.s[S_VIOLATIONS],
      errors: l.s[S_ERRORS],
      plain: l.s[S_PLAIN],
      exclusive: l.s[S_EXCLUSIVE],
    })),
    liveBlocks: engine.liveBlocks,
    idle: locks.map((l) => l.obj.query()).every((q) => q.held.length === 0 && q.pending.length === 0),
  };
}

/** A worker holds a Mutex the page waits for; the worker ends (terminate or close).
 *  With explicit, the page calls Engine.threadEnded() itself after terminate(). */
export async function ownerDeath({ how = "terminate", explicit = false, waker = "auto", noWaitAsync = false } = {}) {
  const restore = withoutWaitAsync(noWaitAsync);
  const m = new Mutex({ engine: new Engine({ waker }) });
  const w = await spawn();
  await w.call("acquire", { kind: "mutex", lock: m.share(), waker, noWaitAsync });
  const holder = m.query().held[0]?.threadId;
  const started = performance.now();
  const waiting = m.acquire({ timeout: 20_000 });
  if (how === "close") await w.call("close");
  else w.w.terminate();
  if (explicit) Engine.threadEnded(w.threadId);
  const g = await waiting;
  const out = {
    holderWasWorker: holder === w.threadId,
    abandoned: g.abandoned,
    ms: performance.now() - started,
    holderNow: m.query().held[0]?.threadId === Engine.threadId,
  };
  g.release();
  restore();
  return out;
}

/** A lock created in a worker (in the worker's own engine) and used from the page. */
export async function createdInWorker() {
  const w = await spawn();
  const { shared } = await w.call("create");
  const m = Mutex.from(shared);
  const heldByWorker = m.query().held[0]?.threadId === w.threadId;
  const p = m.acquire();
  const queued = m.waiting;
  await w.call("release");
  const g = await p;
  const out = { heldByWorker, queued, abandoned: g.abandoned, mine: m.query().held[0]?.threadId === Engine.threadId };
  g.release();
  w.w.terminate();
  return out;
}

/** Cross-thread handoff latency, page <-> one worker, through one Mutex (bench/lib/handoff.js). */
export async function latency({ rounds = 2000, waker = "auto" } = {}) {
  const m = new Mutex({ engine: new Engine({ waker }) });
  const w = await spawn();
  const stamp = new Float64Array(new SharedArrayBuffer(8));
  const first = await m.acquire();
  const start = performance.now();
  const peer = w.call("handoff", { lock: m.share(), stamp, rounds, waker });
  const mine = await handoffSide(m, stamp, 0, rounds, first);
  const theirs = (await peer).lat;
  const ms = performance.now() - start;
  w.w.terminate();
  return {
    meanUs: meanHandoffUs(ms, rounds),
    pageWoken: summary(mine),
    workerWoken: summary(theirs),
    all: summary([...mine, ...theirs]),
  };
}

/** Blocking forms: refused on the page's main thread; in a Web Worker,
 *  acquireSync() blocks until the page releases. */
export async function blocking() {
  const m = new Mutex();
  let onMain;
  try {
    m.acquireSync();
    onMain = "no error";
  } catch (e) {
    onMain = `${e.name}: ${e.message}`;
  }
  const g = await m.acquire();
  const w = await spawn();
  const reply = w.call("acquireSync", { lock: m.share() });
  // The worker's request is queued (it then blocks): wait for it, up to 10 s.
  for (let t = 0; m.waiting === 0 && t < 1000; t++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 20));
  const waitingWhileHeld = m.waiting;
  g.release();
  const { abandoned } = await reply;
  w.w.terminate();
  return { onMain, waitingWhileHeld, workerGot: abandoned === false };
}

export function errors() {
  return workerErrors;
}

export function info() {
  return {
    isolated: crossOriginIsolated,
    threadId: Engine.threadId,
    waitAsync: typeof Atomics.waitAsync === "function",
    userAgent: navigator.userAgent,
  };
}
