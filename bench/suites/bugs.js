// Known-bug checks: one bounded reproduction per process (run.js starts each
// with a timeout, and bisects the size-dependent ones). Every check waits with
// a watchdog instead of hanging, and has a ringlock counterpart run the same way.
//
//   node bench/suites/bugs.js --check=<name> [--n=N]
//
// A check reports { reproduced, detail }: reproduced means the misbehaviour
// was observed in this run, not that it was assumed.

import { createRequire } from "node:module";
import { Mutex, RWLock } from "../../dist/bindings/index.js";
import { options, send, sleep } from "../lib/util.js";

const require = createRequire(import.meta.url);
const opt = options();
const N = Number(opt.n ?? 20_000);

let unhandled = null;
process.on("unhandledRejection", (e) => {
  unhandled ??= e;
});
process.on("uncaughtException", (e) => {
  unhandled ??= e;
});

/** 'granted' if p settles within ms, else 'jammed'. */
function within(p, ms) {
  return Promise.race([p.then(() => "granted"), sleep(ms).then(() => "jammed")]);
}

const errName = (e) => (e ? `${e.name}: ${String(e.message).slice(0, 80)}` : "");

/** k workers x n sections on one exclusive lock; counts sections entered while another was inside. */
async function overlapAcrossWorkers(kind, k, n) {
  const { Worker } = await import("node:worker_threads");
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  const m = kind === "ringlock" ? new Mutex() : null;
  const src = `
    const { workerData, parentPort, locks } = require("node:worker_threads");
    const ctl = new Int32Array(workerData.ctl);
    const keep = setInterval(() => {}, 1000); // a pending locks.request() does not keep a worker alive
    (async () => {
      let overlaps = 0;
      const section = () => {
        if (Atomics.add(ctl, 0, 1) !== 0) overlaps++;
        Atomics.add(ctl, 1, 1);
        Atomics.sub(ctl, 0, 1);
      };
      if (workerData.kind === "ringlock") {
        const { Mutex } = await import(workerData.url);
        const L = Mutex.from(workerData.shared);
        for (let i = 0; i < workerData.n; i++) {
          const g = await L.acquire();
          section();
          g.release();
        }
      } else {
        for (let i = 0; i < workerData.n; i++) await locks.request("bench-overlap", section);
      }
      clearInterval(keep);
      parentPort.postMessage(overlaps);
    })();`;
  const url = new URL("../../dist/bindings/index.js", import.meta.url).href;
  const workers = Array.from(
    { length: k },
    () => new Worker(src, { eval: true, workerData: { ctl: ctl.buffer, n, kind, url, shared: m?.share() } }),
  );
  const counts = await Promise.all(workers.map((w) => new Promise((r) => w.once("message", r))));
  await Promise.all(workers.map((w) => w.terminate()));
  return { overlaps: counts.reduce((a, b) => a + b, 0), sections: Atomics.load(ctl, 1) };
}

const CHECKS = {
  // Node's worker_threads.locks (Web Locks across threads): an exclusive
  // request granted while another thread is still inside its callback.
  async "wtlocks-exclusive-overlap"() {
    const wt = await import("node:worker_threads");
    if (typeof wt.locks?.request !== "function") {
      return { reproduced: false, detail: `no worker_threads.locks in Node ${process.version}` };
    }
    const n = Math.min(N, 25_000);
    // (run.js's time limit on this process is the watchdog)
    const { overlaps, sections } = await overlapAcrossWorkers("wtlocks", 4, n);
    return {
      reproduced: overlaps > 0,
      detail: `4 workers x ${n} exclusive sections: ${overlaps} entered while another worker was inside (${sections} sections ran)`,
    };
  },
  async "ringlock-workers-overlap"() {
    const n = Math.min(N, 25_000);
    const { overlaps, sections } = await overlapAcrossWorkers("ringlock", 4, n);
    return {
      reproduced: overlaps > 0,
      detail: `same on ringlock Mutex: ${overlaps} overlaps in ${sections} sections`,
    };
  },

  // async-rwlock: a timed-out waiter stays queued; when its turn comes its
  // resolver does nothing, leaving the lock marked as held by nobody.
  async "async-rwlock-timeout-jam"() {
    const { RWLock: AsyncRWLock } = require("async-rwlock");
    const l = new AsyncRWLock();
    await l.writeLock();
    const timedOut = l.writeLock(20).then(
      () => false,
      () => true,
    );
    await sleep(60);
    l.unlock();
    const next = await within(l.readLock(), 500);
    return {
      reproduced: (await timedOut) && next === "jammed",
      detail: `waiter with a 20 ms timeout timed out; after the holder released, a new readLock() was ${next} within 500 ms`,
    };
  },
  async "ringlock-timeout-then-acquire"() {
    const l = new RWLock();
    const g = await l.write();
    const timedOut = l.write({ timeout: 20 }).then(
      () => false,
      (e) => e.name === "TimeoutError",
    );
    await sleep(60);
    g.release();
    const next = await within(l.read(), 500);
    return {
      reproduced: !((await timedOut) && next === "granted"),
      detail: `same steps on ringlock RWLock: timed out ${await timedOut}, next read() ${next}`,
    };
  },

  // rwlock: on timeout the waiter calls queue.shift(), removing the head of the
  // queue, not itself.
  async "rwlock-timeout-wrong-waiter"() {
    const ReadWriteLock = require("rwlock");
    const l = new ReadWriteLock();
    let release0;
    l.writeLock((rel) => {
      release0 = rel;
    });
    let aGranted = false;
    let bGranted = false;
    let bTimedOut = false;
    l.writeLock((rel) => {
      aGranted = true;
      rel();
    }); // A: no timeout, first in line
    l.writeLock(
      (rel) => {
        bGranted = true;
        rel();
      },
      { timeout: 20, timeoutCallback: () => (bTimedOut = true) },
    ); // B: behind A, times out
    await sleep(60);
    release0();
    await sleep(50);
    const next = await within(new Promise((r) => l.writeLock((rel) => r(rel()))), 500);
    return {
      reproduced: bTimedOut && !aGranted,
      detail: `B (behind A) timed out: ${bTimedOut}; A (no timeout) granted: ${aGranted}; B granted: ${bGranted}; a new writeLock() ${next} within 500 ms`,
    };
  },

  // rwlock: each granted reader grants the next queued reader by direct
  // recursion, one stack frame group per queued reader.
  async "rwlock-queued-readers"() {
    const ReadWriteLock = require("rwlock");
    const l = new ReadWriteLock();
    let release0;
    l.writeLock((rel) => {
      release0 = rel;
    });
    let granted = 0;
    for (let i = 0; i < N; i++) l.readLock(() => granted++);
    let thrown = null;
    try {
      release0();
    } catch (e) {
      thrown = e;
    }
    await sleep(10);
    return {
      reproduced: thrown !== null || granted !== N,
      detail: `${N} readers queued behind a writer; on release ${granted} granted${thrown ? `, release() threw ${errName(thrown)}` : ""}`,
    };
  },
  async "ringlock-queued-readers"() {
    const l = new RWLock();
    const g = await l.write();
    let granted = 0;
    const all = [];
    for (let i = 0; i < N; i++) all.push(l.read().then(() => granted++));
    let thrown = null;
    try {
      g.release();
    } catch (e) {
      thrown = e;
    }
    await within(Promise.all(all), 5000);
    return {
      reproduced: thrown !== null || granted !== N,
      detail: `${N} readers queued behind a writer on ringlock RWLock; on release ${granted} granted${thrown ? `, threw ${errName(thrown)}` : ""}`,
    };
  },

  // async-lock: timed-out waiters stay queued; releasing the holder runs
  // through them by recursion (exec -> done -> shift()() -> exec ...).
  async "async-lock-timeouts"() {
    const AsyncLock = require("async-lock");
    const lock = new AsyncLock({ maxPending: Number.POSITIVE_INFINITY });
    let unhold;
    await new Promise((r) => {
      lock.acquire("k", () => {
        r();
        return new Promise((u) => {
          unhold = u;
        });
      });
    });
    const waits = [];
    for (let i = 0; i < N; i++) waits.push(lock.acquire("k", () => {}, { timeout: 1 }).catch(() => "timeout"));
    const outcomes = await Promise.all(waits);
    const timedOut = outcomes.filter((x) => x === "timeout").length;
    unhold();
    await sleep(20);
    const next = await within(
      lock.acquire("k", () => {}),
      1000,
    );
    return {
      reproduced: next === "jammed",
      detail: `${timedOut} of ${N} waiters timed out; after the holder released, a new acquire() was ${next} within 1 s${unhandled ? ` (${errName(unhandled)})` : ""}`,
    };
  },
  async "ringlock-timeouts"() {
    const m = new Mutex();
    const g = await m.acquire();
    const waits = [];
    for (let i = 0; i < N; i++) waits.push(m.acquire({ timeout: 1 }).catch((e) => e.name));
    const outcomes = await Promise.all(waits);
    const timedOut = outcomes.filter((x) => x === "TimeoutError").length;
    g.release();
    await sleep(20);
    const next = await within(
      m.acquire().then((h) => h.release()),
      1000,
    );
    return {
      reproduced: next !== "granted" || timedOut !== N,
      detail: `${timedOut} of ${N} ringlock waiters timed out; then acquire() ${next} within 1 s`,
    };
  },

  // async-mutex withTimeout(): the timed-out request stays queued, is granted
  // when its turn comes (the lock is held by nobody's code) and released at once.
  async "async-mutex-timeout-phantom"() {
    const { Mutex: AMutex, withTimeout } = await import("async-mutex");
    const m = new AMutex();
    const timed = withTimeout(m, 20);
    const release = await m.acquire();
    const timedOut = timed.acquire().then(
      () => false,
      () => true,
    );
    await sleep(60);
    const queuedAfterTimeout = m._semaphore?._queue?.length ?? -1;
    release();
    const lockedByPhantom = m.isLocked();
    await sleep(10);
    return {
      reproduced: (await timedOut) && lockedByPhantom,
      detail: `after the timeout the request was still queued (queue length ${queuedAfterTimeout}); releasing the holder granted it (isLocked() ${lockedByPhantom} with no caller holding) before it let go`,
    };
  },
};

const name = String(opt.check);
const check = CHECKS[name];
let result;
if (!check) result = { check: name, error: `unknown check; known: ${Object.keys(CHECKS).join(", ")}` };
else {
  try {
    result = { check: name, n: N, ...(await check()) };
  } catch (e) {
    result = { check: name, n: N, reproduced: true, detail: `threw ${errName(e)}`, error: String(e?.stack ?? e) };
  }
}
await send({ type: "bug", node: process.version, result });
process.exit(0);
