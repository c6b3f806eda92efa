// Shared by test/workers.test.ts and the worker scripts next to this file:
// the multi-granularity mode table, a seeded PRNG, the layout of the shared
// statistics words, and the in-section checks every critical section runs.

import "../../dist/bindings/debug.js";
import { FifoLock, Mutex, RWLock, Semaphore } from "../../dist/bindings/index.js";

/** The classic multi-granularity table: IS, IX, S, SIX, X. */
export const MGL_MODES = {
  IS: { conflicts: ["X"] },
  IX: { conflicts: ["S", "SIX", "X"] },
  S: { conflicts: ["IX", "SIX", "X"] },
  SIX: { conflicts: ["IX", "S", "SIX", "X"] },
  X: { conflicts: ["IS", "IX", "S", "SIX", "X"] },
};
export const MGL_NAMES = Object.keys(MGL_MODES);

/** conflictMatrix[a][b]: whether modes a and b (by index) may not be held together (symmetric). */
export const MGL_CONFLICTS = MGL_NAMES.map((a) =>
  MGL_NAMES.map((b) => MGL_MODES[a].conflicts.includes(b) || MGL_MODES[b].conflicts.includes(a)),
);

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
export function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  return next;
}

// Words of a lock's statistics block (an Int32Array over a SharedArrayBuffer).
export const S_INSIDE = 0; // mutex holders / semaphore weight held / readers / MGL holders
export const S_WRITERS = 1; // RWLock writers inside
export const S_VIOLATIONS = 2; // sections that saw a conflicting holder inside with them
export const S_PLAIN = 3; // a plain (non-atomic) counter, written only by exclusive sections
export const S_MAX = 4; // most concurrent holders (semaphore: weight) seen inside at once
export const S_EXCLUSIVE = 5; // exclusive sections run (atomic: what S_PLAIN must equal)
export const S_GRANTED = 6; // acquires that were granted
export const S_TIMEOUTS = 7; // acquires that rejected with a TimeoutError
export const S_ABORTS = 8; // acquires that rejected with their signal's reason
export const S_ERRORS = 9; // anything else (a wrong rejection, a broken guard)
export const S_ABANDONED = 10; // grants that reported abandoned
export const S_MODE = 11; // MGL: holders inside per mode, 5 words
export const STATS_WORDS = 16;

export function newStats() {
  return new Int32Array(new SharedArrayBuffer(STATS_WORDS * 4));
}

/** Rebuilds a lock description ({ kind, lock: share() }) in this thread. */
export function lockFrom(desc) {
  switch (desc.kind) {
    case "mutex":
      return Mutex.from(desc.lock);
    case "rw":
      return RWLock.from(desc.lock);
    case "sem":
      return Semaphore.from(desc.lock);
    case "mgl":
      return FifoLock.from(desc.lock);
    default:
      throw new Error(`unknown lock kind ${desc.kind}`);
  }
}

const MGL_PICK = ["IS", "IS", "IS", "IX", "IX", "IX", "S", "S", "SIX", "X", "X"];

/** Picks a random request for a lock kind: { mode, weight, exclusive }. */
export function pickRequest(kind, permits, rand) {
  switch (kind) {
    case "mutex":
      return { mode: "exclusive", weight: 1, exclusive: true };
    case "rw":
      return rand() < 0.7
        ? { mode: "read", weight: 1, exclusive: false }
        : { mode: "write", weight: 1, exclusive: true };
    case "sem":
      return { mode: "permit", weight: 1 + rand.int(Math.min(permits, 2)), exclusive: false };
    case "mgl": {
      const mode = MGL_PICK[rand.int(MGL_PICK.length)];
      return { mode, weight: 1, exclusive: mode === "X" };
    }
    default:
      throw new Error(`unknown lock kind ${kind}`);
  }
}

/** Starts the acquire of `req` on `lock` (of `kind`) with acquire options `o`. */
export function acquireRequest(kind, lock, req, o) {
  switch (kind) {
    case "mutex":
      return lock.acquire(o);
    case "rw":
      return req.mode === "read" ? lock.read(o) : lock.write(o);
    case "sem":
      return lock.acquire({ ...o, weight: req.weight });
    case "mgl":
      return lock.acquire(req.mode, o);
    default:
      throw new Error(`unknown lock kind ${kind}`);
  }
}

function raiseMax(s, now) {
  for (let seen = Atomics.load(s, S_MAX); now > seen; seen = Atomics.load(s, S_MAX)) {
    if (Atomics.compareExchange(s, S_MAX, seen, now) === seen) return;
  }
}

// Entering: announce ourselves first, then look for a conflicting holder.
// Two conflicting holders that enter together each announce before they look
// (sequentially consistent atomics), so at least one of them sees the other.
function enter(kind, permits, req, s) {
  let bad = false;
  switch (kind) {
    case "mutex": {
      const before = Atomics.add(s, S_INSIDE, 1);
      bad = before !== 0;
      raiseMax(s, before + 1);
      break;
    }
    case "rw":
      if (req.mode === "read") {
        const readers = Atomics.add(s, S_INSIDE, 1) + 1;
        bad = Atomics.load(s, S_WRITERS) !== 0;
        raiseMax(s, readers);
      } else {
        bad = Atomics.add(s, S_WRITERS, 1) !== 0;
        bad = Atomics.load(s, S_INSIDE) !== 0 || bad;
      }
      break;
    case "sem": {
      const held = Atomics.add(s, S_INSIDE, req.weight) + req.weight;
      bad = held > permits;
      raiseMax(s, held);
      break;
    }
    case "mgl": {
      const m = MGL_NAMES.indexOf(req.mode);
      Atomics.add(s, S_MODE + m, 1);
      const total = Atomics.add(s, S_INSIDE, 1) + 1;
      for (let c = 0; c < MGL_NAMES.length; c++) {
        if (!MGL_CONFLICTS[m][c]) continue;
        const others = Atomics.load(s, S_MODE + c) - (c === m ? 1 : 0);
        if (others !== 0) bad = true;
      }
      raiseMax(s, total);
      break;
    }
  }
  if (bad) Atomics.add(s, S_VIOLATIONS, 1);
}

function leave(kind, req, s) {
  switch (kind) {
    case "rw":
      Atomics.sub(s, req.mode === "read" ? S_INSIDE : S_WRITERS, 1);
      break;
    case "sem":
      Atomics.sub(s, S_INSIDE, req.weight);
      break;
    case "mgl":
      Atomics.sub(s, S_MODE + MGL_NAMES.indexOf(req.mode), 1);
      Atomics.sub(s, S_INSIDE, 1);
      break;
    default:
      Atomics.sub(s, S_INSIDE, 1);
  }
}

/** Sometimes nothing, sometimes a microtask, a macrotask or a 1 ms timer: lets others run mid-section. */
export function pause(rand) {
  const r = rand();
  if (r < 0.3) return undefined;
  if (r < 0.55) return Promise.resolve();
  if (r < 0.8) return new Promise((resolve) => (globalThis.setImmediate ?? setTimeout)(resolve));
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * The body of a critical section, run while holding `req`: checks that no
 * conflicting holder is inside; exclusive sections do a non-atomic
 * read-pause-write of the plain counter (a lost update shows a broken lock),
 * shared sections check the plain counter does not move under them.
 */
export async function section(kind, permits, req, s, rand) {
  enter(kind, permits, req, s);
  const v = s[S_PLAIN];
  await pause(rand);
  if (req.exclusive) {
    s[S_PLAIN] = v + 1;
    Atomics.add(s, S_EXCLUSIVE, 1);
  } else if (s[S_PLAIN] !== v) {
    Atomics.add(s, S_VIOLATIONS, 1);
  }
  await pause(rand);
  leave(kind, req, s);
}

/**
 * One attempt on lock description `l` ({ kind, obj, s, permits }): acquire
 * (with `cancel`, maybe with a short timeout or a soon-aborted signal), run the
 * section, release. Outcomes are counted in l.s; surprises go to `errors`.
 */
export async function attempt(l, rand, errors, cancel) {
  const req = pickRequest(l.kind, l.permits, rand);
  let o;
  let reason;
  let timer;
  let abortNow;
  const r = cancel ? rand() : 1;
  if (r < 0.3) {
    o = { timeout: rand.int(4) };
  } else if (r < 0.6) {
    // Abort before the call, right after it (queued, then withdrawn at once), or 0-3 ms later.
    const ac = new AbortController();
    reason = new Error("storm abort");
    o = { signal: ac.signal };
    const when = rand.int(6);
    if (when === 0) ac.abort(reason);
    else if (when === 1) abortNow = () => ac.abort(reason);
    else timer = setTimeout(() => ac.abort(reason), when - 2);
  }
  let g;
  try {
    const p = acquireRequest(l.kind, l.obj, req, o);
    abortNow?.();
    g = await p;
  } catch (e) {
    if (e?.name === "TimeoutError" && o?.timeout !== undefined) Atomics.add(l.s, S_TIMEOUTS, 1);
    else if (reason !== undefined && e === reason) Atomics.add(l.s, S_ABORTS, 1);
    else {
      Atomics.add(l.s, S_ERRORS, 1);
      errors.push(`unexpected rejection: ${e?.stack ?? e}`);
    }
    return;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
  Atomics.add(l.s, S_GRANTED, 1);
  if (g.abandoned) Atomics.add(l.s, S_ABANDONED, 1);
  if (g.mode !== req.mode || g.weight !== req.weight || g.released) {
    Atomics.add(l.s, S_ERRORS, 1);
    errors.push(`guard ${g.mode}/${g.weight} for request ${req.mode}/${req.weight}`);
  }
  try {
    await section(l.kind, l.permits, req, l.s, rand);
  } finally {
    g.release();
  }
}

/** Mode names of each lock kind, in the order the lock defines them. */
export const MODE_NAMES = {
  mutex: ["exclusive"],
  rw: ["read", "write"],
  sem: ["permit"],
  mgl: MGL_NAMES,
};

// The FIFO test's shared words: a spin gate that makes "take a ticket, then
// enqueue" one step across threads, the ticket counter, the grant counter.
export const F_GATE = 0;
export const F_TICKET = 1;
export const F_SEQ = 2;
export const F_FAILS = 3;
// Per ticket (TICKET_WORDS words): mode index, weight, threadId, grant sequence number.
export const T_MODE = 0;
export const T_WEIGHT = 1;
export const T_THREAD = 2;
export const T_SEQ = 3;
export const TICKET_WORDS = 4;
