// Every library the benchmark compares, described as code snippets in its own
// natural API. bench/lib/codegen.js splices the snippets into one function per
// (scenario, library) so that each cell is monomorphic: no adapter call site
// is shared between libraries, so no library pays for another's type feedback.
//
// Snippet vocabulary (all are source text run inside the generated function):
//   L          the lock object, made fresh for every measurement by make()
//   H          helpers (see HELPERS below)
//   w          the request's weight (weighted semaphore scenario)
//   DONE       (drain only) replaced by the code that counts a grant
//
// Capabilities (a library is in a scenario iff it has the capability):
//   mutex   { make, acq, rel }     `acq` leaves the lock held, `rel` releases it
//   run     { make, run(body, isAsync) }  the callback form: body runs while held,
//           the statement completes (awaited) after the release
//   try     { make, try, rel }      synchronous try-acquire (throws via H.fail if refused)
//   timed   { make(ms), acq(ms) | run(body, isAsync, ms), rel }  a timeout on every acquire
//   sema    { make(n), acq, rel } or { make(n), run }   counting semaphore of n
//   wsema   { make(n), acq, rel } or { make(n), run }   weighted requests (w)
//   rw      { make, read, write, rel } or { make, runRead, runWrite }
//   drain   { make, hold, on, enq, pre? }  hold: async body returning the unhold
//           function; enq: queue one waiter whose grant calls ON (one shared
//           function: no per-waiter closure beyond what the library allocates)
//
// `fifo` states what the library claims; the benchmark measures it anyway and
// the report flags any library whose measured grant order overtakes.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as current from "../../dist/bindings/index.js";
import { BASELINE, baseline } from "../lib/baseline.js";
import { MinimalMutex, MinimalTimedMutex } from "./minimal.js";

const require = createRequire(import.meta.url);
const asyncMutex = await import("async-mutex");
const AsyncLock = require("async-lock");
const AwaitLock = (await import("await-lock")).default;
const { Sema } = require("async-sema");
const pLimit = (await import("p-limit")).default;
const { AsyncMutex } = require("@esfx/async-mutex");
const { AsyncSemaphore } = require("@esfx/async-semaphore");
const { AsyncReaderWriterLock } = require("@esfx/async-readerwriterlock");
const { Cancelable } = require("@esfx/cancelable");
const AsyncRWLock = require("async-rwlock").RWLock;
const ReadWriteLock = require("rwlock");
const semaphore = require("semaphore");
const mutexify = require("mutexify");
const mutexifyPromise = require("mutexify/promise");

// Read from node_modules directly: some packages do not export ./package.json.
function pkgVersion(name) {
  try {
    const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return JSON.parse(readFileSync(url, "utf8")).version;
  } catch {
    return "?";
  }
}

/** An @esfx Cancelable that signals after `ms` (armed lazily: only if the request has to wait). */
function esfxTimeout(ms) {
  let signaled = false;
  let reason;
  let timer;
  const subs = [];
  const signal = {
    get signaled() {
      return signaled;
    },
    get reason() {
      return reason;
    },
    subscribe(fn) {
      subs.push(fn);
      timer ??= setTimeout(() => {
        signaled = true;
        reason = new Error(`timed out after ${ms} ms`);
        reason.name = "TimeoutError";
        for (const f of subs) f();
      }, ms);
      return {
        unsubscribe() {
          clearTimeout(timer);
        },
      };
    },
  };
  return { [Cancelable.cancelSignal]: () => signal };
}

export const HELPERS = {
  fail(what = "try-acquire refused on a free lock") {
    throw new Error(what);
  },
  NOOP() {},
  esfxTimeout,
  // Multigranularity lock modes (Gray et al.): intention-shared, intention-exclusive,
  // shared, shared + intention-exclusive, exclusive.
  MODES: ["IS", "IX", "S", "SIX", "X"],
  // CONF[m]: bit c set iff mode m conflicts with mode c (same table as MGL below).
  CONF: null,
};

export const MGL = {
  IS: { conflicts: ["X"] },
  IX: { conflicts: ["S", "SIX", "X"] },
  S: { conflicts: ["IX", "SIX", "X"] },
  SIX: { conflicts: ["IX", "S", "SIX", "X"] },
  X: { conflicts: ["IS", "IX", "S", "SIX", "X"] },
};
HELPERS.CONF = Int32Array.from(HELPERS.MODES, (m) =>
  MGL[m].conflicts.reduce((mask, c) => mask | (1 << HELPERS.MODES.indexOf(c)), 0),
);

const a = (isAsync) => (isAsync ? "async " : "");
const DONE = "DONE";

export const RINGLOCK_VERSION = require("../../package.json").version;

// The ringlock rows of one build, given its exports: the current build's, and
// with --baseline (bench/lib/baseline.js) the same rows for the older build,
// tagged "@baseline" and of kind "baseline": the report sets them against the
// current rows (new ÷ old) and never counts them as a peer in a target.
function ringlockPeers({ Engine, FifoLock, Mutex, RWLock, Semaphore }, build) {
  const rows = [
    {
      id: "ringlock.Mutex",
      name: "ringlock Mutex",
      pkg: "ringlock",
      version: RINGLOCK_VERSION,
      kind: "ringlock",
      fifo: true,
      mutex: { make: () => new Mutex(), acq: "const g = await L.acquire();", rel: "g.release();" },
      run: { make: () => new Mutex(), run: (b, x) => `await L.run(${a(x)}() => { ${b} });` },
      try: { make: () => new Mutex(), try: "const g = L.tryAcquire(); if (g === null) H.fail();", rel: "g.release();" },
      timed: {
        make: () => new Mutex(),
        acq: (ms) => `const g = await L.acquire({ timeout: ${ms} });`,
        rel: "g.release();",
      },
      drain: {
        // A fresh engine, so that its heapBytes delta is this lock's alone.
        make: () => new Mutex({ engine: new Engine() }),
        hold: "const h = await L.acquire(); return () => h.release();",
        on: `(g) => { g.release(); ${DONE} }`,
        enq: "L.acquire().then(ON);",
      },
    },
    {
      id: "ringlock.Semaphore",
      name: "ringlock Semaphore",
      pkg: "ringlock",
      version: RINGLOCK_VERSION,
      kind: "ringlock",
      fifo: true,
      try: {
        make: () => new Semaphore(4),
        try: "const g = L.tryAcquire(); if (g === null) H.fail();",
        rel: "g.release();",
        label: "Semaphore(4).tryAcquire()",
      },
      sema: { make: (n) => new Semaphore(n), acq: "const g = await L.acquire();", rel: "g.release();" },
      wsema: { make: (n) => new Semaphore(n), acq: "const g = await L.acquire({ weight: w });", rel: "g.release();" },
    },
    {
      id: "ringlock.RWLock",
      name: "ringlock RWLock",
      pkg: "ringlock",
      version: RINGLOCK_VERSION,
      kind: "ringlock",
      fifo: true,
      try: {
        make: () => new RWLock(),
        try: "const g = L.tryRead(); if (g === null) H.fail();",
        rel: "g.release();",
        label: "RWLock.tryRead()",
      },
      rw: {
        make: () => new RWLock(),
        read: "const g = await L.read();",
        write: "const g = await L.write();",
        rel: "g.release();",
      },
    },
    {
      id: "ringlock.FifoLock",
      name: "ringlock FifoLock (IS/IX/S/SIX/X)",
      pkg: "ringlock",
      version: RINGLOCK_VERSION,
      kind: "ringlock",
      fifo: true,
      mgl: { make: () => new FifoLock(MGL), acq: "const g = await L.acquire(H.MODES[m]);", rel: "g.release();" },
    },
  ];
  if (build === undefined) return rows;
  return rows.map((p) => ({
    ...p,
    id: `${p.id}@baseline`,
    name: `${p.name} @baseline`,
    version: build.version,
    kind: "baseline",
  }));
}

/** @type {Array<object>} */
export const PEERS = [
  // ------------------------------------------------------------------ ringlock
  ...ringlockPeers(current),
  ...(baseline ? ringlockPeers(baseline, BASELINE) : []),

  // ------------------------------------------------------------------ minimal
  {
    id: "minimal",
    name: "minimal FIFO mutex (bench/peers/minimal.js)",
    pkg: "minimal",
    version: "-",
    kind: "peer",
    fifo: true,
    mutex: { make: () => new MinimalMutex(), acq: "await L.acquire();", rel: "L.release();" },
    run: { make: () => new MinimalMutex(), run: (b, x) => `await L.run(${a(x)}() => { ${b} });` },
    try: { make: () => new MinimalMutex(), try: "if (!L.tryAcquire()) H.fail();", rel: "L.release();" },
    timed: { make: () => new MinimalTimedMutex(), acq: (ms) => `await L.acquire(${ms});`, rel: "L.release();" },
    drain: {
      make: () => new MinimalMutex(),
      hold: "await L.acquire(); return () => L.release();",
      on: `() => { L.release(); ${DONE} }`,
      enq: "L.acquire().then(ON);",
    },
  },

  // ------------------------------------------------------------------ async-mutex
  {
    id: "async-mutex.Mutex",
    name: "async-mutex Mutex",
    pkg: "async-mutex",
    kind: "peer",
    fifo: true,
    mutex: { make: () => new asyncMutex.Mutex(), acq: "const g = await L.acquire();", rel: "g();" },
    run: { make: () => new asyncMutex.Mutex(), run: (b, x) => `await L.runExclusive(${a(x)}() => { ${b} });` },
    timed: {
      make: (ms) => asyncMutex.withTimeout(new asyncMutex.Mutex(), ms),
      acq: () => "const g = await L.acquire();",
      rel: "g();",
    },
    drain: {
      make: () => new asyncMutex.Mutex(),
      hold: "return await L.acquire();",
      on: `(g) => { g(); ${DONE} }`,
      enq: "L.acquire().then(ON);",
    },
  },
  {
    id: "async-mutex.Semaphore",
    name: "async-mutex Semaphore",
    pkg: "async-mutex",
    kind: "peer",
    fifo: true,
    mutex: { make: () => new asyncMutex.Semaphore(1), acq: "const g = (await L.acquire())[1];", rel: "g();" },
    run: { make: () => new asyncMutex.Semaphore(1), run: (b, x) => `await L.runExclusive(${a(x)}() => { ${b} });` },
    sema: { make: (n) => new asyncMutex.Semaphore(n), acq: "const g = (await L.acquire())[1];", rel: "g();" },
    wsema: { make: (n) => new asyncMutex.Semaphore(n), acq: "const g = (await L.acquire(w))[1];", rel: "g();" },
    drain: {
      make: () => new asyncMutex.Semaphore(1),
      hold: "return (await L.acquire())[1];",
      on: `(r) => { r[1](); ${DONE} }`,
      enq: "L.acquire().then(ON);",
    },
  },

  // ------------------------------------------------------------------ async-lock
  {
    id: "async-lock",
    name: "async-lock",
    pkg: "async-lock",
    kind: "peer",
    fifo: true,
    // acquire(key, fn): promise mode because fn declares no parameter (async-lock picks by fn.length).
    run: {
      make: () => new AsyncLock({ maxPending: Number.POSITIVE_INFINITY }),
      run: (b, x) => `await L.acquire("k", ${a(x)}() => { ${b} });`,
    },
    timed: {
      make: () => new AsyncLock({ maxPending: Number.POSITIVE_INFINITY }),
      run: (b, x, ms) => `await L.acquire("k", ${a(x)}() => { ${b} }, { timeout: ${ms} });`,
    },
    drain: {
      make: () => new AsyncLock({ maxPending: Number.POSITIVE_INFINITY }),
      hold: `let un;
        await new Promise((r) => { L.acquire("k", () => { r(); return new Promise((u) => { un = u; }); }); });
        return () => un();`,
      on: `() => { ${DONE} }`,
      enq: 'L.acquire("k", ON);',
    },
  },

  // ------------------------------------------------------------------ await-lock
  {
    id: "await-lock",
    name: "await-lock",
    pkg: "await-lock",
    kind: "peer",
    fifo: true,
    mutex: { make: () => new AwaitLock(), acq: "await L.acquireAsync();", rel: "L.release();" },
    try: { make: () => new AwaitLock(), try: "if (!L.tryAcquire()) H.fail();", rel: "L.release();" },
    timed: {
      make: () => new AwaitLock(),
      acq: (ms) => `await L.acquireAsync({ timeout: ${ms} });`,
      rel: "L.release();",
    },
    drain: {
      make: () => new AwaitLock(),
      hold: "await L.acquireAsync(); return () => L.release();",
      on: `() => { L.release(); ${DONE} }`,
      enq: "L.acquireAsync().then(ON);",
    },
  },

  // ------------------------------------------------------------------ async-sema
  {
    id: "async-sema",
    name: "async-sema Sema",
    pkg: "async-sema",
    kind: "peer",
    fifo: true,
    mutex: { make: () => new Sema(1), acq: "await L.acquire();", rel: "L.release();" },
    try: { make: () => new Sema(1), try: "if (L.tryAcquire() === undefined) H.fail();", rel: "L.release();" },
    sema: { make: (n) => new Sema(n), acq: "await L.acquire();", rel: "L.release();" },
    drain: {
      make: () => new Sema(1),
      hold: "await L.acquire(); return () => L.release();",
      on: `() => { L.release(); ${DONE} }`,
      enq: "L.acquire().then(ON);",
    },
  },

  // ------------------------------------------------------------------ p-limit
  {
    id: "p-limit",
    name: "p-limit",
    pkg: "p-limit",
    kind: "peer",
    fifo: true,
    run: { make: () => pLimit(1), run: (b, x) => `await L(${a(x)}() => { ${b} });` },
    sema: { make: (n) => pLimit(n), run: (b, x) => `await L(${a(x)}() => { ${b} });` },
    drain: {
      make: () => pLimit(1),
      hold: `let un;
        await new Promise((r) => { L(() => { r(); return new Promise((u) => { un = u; }); }); });
        return () => un();`,
      on: `() => { ${DONE} }`,
      enq: "L(ON);",
    },
  },

  // ------------------------------------------------------------------ @esfx
  {
    id: "esfx.AsyncMutex",
    name: "@esfx/async-mutex",
    pkg: "@esfx/async-mutex",
    kind: "peer",
    fifo: true,
    mutex: { make: () => new AsyncMutex(), acq: "const g = await L.lock();", rel: "g.unlock();" },
    try: { make: () => new AsyncMutex(), try: "if (!L.tryLock()) H.fail();", rel: "L.unlock();" },
    timed: {
      make: () => new AsyncMutex(),
      acq: (ms) => `const g = await L.lock(H.esfxTimeout(${ms}));`,
      rel: "g.unlock();",
    },
    drain: {
      make: () => new AsyncMutex(),
      hold: "const h = await L.lock(); return () => h.unlock();",
      on: `(g) => { g.unlock(); ${DONE} }`,
      enq: "L.lock().then(ON);",
    },
  },
  {
    id: "esfx.AsyncSemaphore",
    name: "@esfx/async-semaphore",
    pkg: "@esfx/async-semaphore",
    kind: "peer",
    fifo: true,
    mutex: { make: () => new AsyncSemaphore(1), acq: "await L.wait();", rel: "L.release();" },
    sema: { make: (n) => new AsyncSemaphore(n), acq: "await L.wait();", rel: "L.release();" },
    timed: {
      make: () => new AsyncSemaphore(1),
      acq: (ms) => `await L.wait(H.esfxTimeout(${ms}));`,
      rel: "L.release();",
    },
    drain: {
      make: () => new AsyncSemaphore(1),
      hold: "await L.wait(); return () => L.release();",
      on: `() => { L.release(); ${DONE} }`,
      enq: "L.wait().then(ON);",
    },
  },
  {
    id: "esfx.AsyncReaderWriterLock",
    name: "@esfx/async-readerwriterlock",
    pkg: "@esfx/async-readerwriterlock",
    kind: "peer",
    fifo: false,
    mutex: { make: () => new AsyncReaderWriterLock(), acq: "const g = await L.write();", rel: "g.unlock();" },
    rw: {
      make: () => new AsyncReaderWriterLock(),
      read: "const g = await L.read();",
      write: "const g = await L.write();",
      rel: "g.unlock();",
    },
    timed: {
      make: () => new AsyncReaderWriterLock(),
      acq: (ms) => `const g = await L.write(H.esfxTimeout(${ms}));`,
      rel: "g.unlock();",
    },
    drain: {
      make: () => new AsyncReaderWriterLock(),
      hold: "const h = await L.write(); return () => h.unlock();",
      on: `(g) => { g.unlock(); ${DONE} }`,
      enq: "L.write().then(ON);",
    },
  },

  // ------------------------------------------------------------------ async-rwlock
  {
    id: "async-rwlock",
    name: "async-rwlock",
    pkg: "async-rwlock",
    kind: "peer",
    fifo: false,
    mutex: { make: () => new AsyncRWLock(), acq: "await L.writeLock();", rel: "L.unlock();" },
    rw: {
      make: () => new AsyncRWLock(),
      read: "await L.readLock();",
      write: "await L.writeLock();",
      rel: "L.unlock();",
    },
    timed: { make: () => new AsyncRWLock(), acq: (ms) => `await L.writeLock(${ms});`, rel: "L.unlock();" },
    drain: {
      make: () => new AsyncRWLock(),
      hold: "await L.writeLock(); return () => L.unlock();",
      on: `() => { L.unlock(); ${DONE} }`,
      enq: "L.writeLock().then(ON);",
    },
  },

  // ------------------------------------------------------------------ rwlock
  {
    id: "rwlock",
    name: "rwlock",
    pkg: "rwlock",
    kind: "peer",
    fifo: true,
    run: {
      make: () => new ReadWriteLock(),
      run: (b, x) => `await new Promise((res) => { L.writeLock(${a(x)}(rel) => { ${b} rel(); res(); }); });`,
    },
    rw: {
      make: () => new ReadWriteLock(),
      runRead: (b, x) => `await new Promise((res) => { L.readLock(${a(x)}(rel) => { ${b} rel(); res(); }); });`,
      runWrite: (b, x) => `await new Promise((res) => { L.writeLock(${a(x)}(rel) => { ${b} rel(); res(); }); });`,
    },
    timed: {
      make: () => new ReadWriteLock(),
      run: (b, x, ms) =>
        `await new Promise((res) => { L.writeLock(${a(x)}(rel) => { ${b} rel(); res(); }, { timeout: ${ms} }); });`,
    },
    drain: {
      make: () => new ReadWriteLock(),
      // Released on the next microtask, like the promise-based peers (a
      // synchronous release inside the callback recurses once per waiter).
      hold: "let un; L.writeLock((rel) => { un = rel; }); return un;",
      on: `(rel) => { queueMicrotask(rel); ${DONE} }`,
      enq: "L.writeLock(ON);",
    },
  },

  // ------------------------------------------------------------------ semaphore
  {
    id: "semaphore",
    name: "semaphore",
    pkg: "semaphore",
    kind: "peer",
    fifo: true,
    run: {
      make: () => semaphore(1),
      run: (b, x) => `await new Promise((res) => { L.take(${a(x)}() => { ${b} L.leave(); res(); }); });`,
    },
    try: {
      make: () => semaphore(1),
      try: "if (!L.available(1)) H.fail(); L.take(H.NOOP);",
      rel: "L.leave();",
      label: "available(1) + take(fn)",
    },
    sema: {
      make: (n) => semaphore(n),
      run: (b, x) => `await new Promise((res) => { L.take(${a(x)}() => { ${b} L.leave(); res(); }); });`,
    },
    wsema: {
      make: (n) => semaphore(n),
      run: (b, x) => `await new Promise((res) => { L.take(w, ${a(x)}() => { ${b} L.leave(w); res(); }); });`,
    },
    drain: {
      make: () => semaphore(1),
      pre: "const LV = () => L.leave();",
      hold: "L.take(H.NOOP); return () => L.leave();",
      on: `() => { queueMicrotask(LV); ${DONE} }`,
      enq: "L.take(ON);",
    },
  },

  // ------------------------------------------------------------------ mutexify
  {
    id: "mutexify",
    name: "mutexify",
    pkg: "mutexify",
    kind: "peer",
    fifo: true,
    mutex: { make: () => mutexifyPromise(), acq: "const g = await L();", rel: "g();", label: "mutexify/promise" },
    run: {
      make: () => mutexify(),
      run: (b, x) => `await new Promise((res) => { L(${a(x)}(rel) => { ${b} rel(); res(); }); });`,
    },
    drain: {
      make: () => mutexifyPromise(),
      hold: "return await L();",
      on: `(g) => { g(); ${DONE} }`,
      enq: "L().then(ON);",
    },
  },

  // ------------------------------------------------------------------ floors
  {
    id: "floor.await-null",
    name: "floor: await null",
    pkg: "-",
    version: "-",
    kind: "floor",
    fifo: true,
    mutex: { make: () => null, acq: "await null;", rel: "" },
  },
  {
    id: "floor.new-promise",
    name: "floor: await new Promise(r => r())",
    pkg: "-",
    version: "-",
    kind: "floor",
    fifo: true,
    mutex: { make: () => null, acq: "await new Promise((r) => r());", rel: "" },
  },
];

for (const p of PEERS) p.version ??= pkgVersion(p.pkg);

export const byId = new Map(PEERS.map((p) => [p.id, p]));
