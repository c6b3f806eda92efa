// Blocking forms (acquireSync, waitSync, ...): for worker threads, which may
// block. A blocking request joins the same FIFO queue as every async one (it
// is the same engine request); the thread then sleeps in Atomics.wait on its
// own WAKE word, which every grant to this thread bumps (engine.ts), drains
// its inbox on each wake-up (settling its async waiters' grants too), and
// returns once its own request is settled.

import {
  CTL_MODE_MASK,
  CTL_MODE_SHIFT,
  CTL_STATE_MASK,
  ERR_RETRY,
  H_TOP,
  L_HEAD,
  L_HOLDS,
  MIN_BLOCK,
  N_CTL,
  N_HNEXT,
  N_LOCK,
  N_NEXT,
  N_OWNER,
  N_WEIGHT,
  R_WAKE,
  ST_HELD,
} from "../assembly/layout.js";
import type { Engine } from "./engine.js";
import { LockError, typeError } from "./errors.js";
import type { LockCore, Ticket } from "./lock.js";
import { mayBlock } from "./runtime.js";

let blockable: boolean | undefined;

/** @internal Tests only: pretend this thread may (true) or may not (false) block; undefined probes again. */
export function setCanBlockForTests(v: boolean | undefined): void {
  blockable = v;
}

/** Whether this thread may block in Atomics.wait (runtime.ts probes once: a
 *  browser's main thread may not). */
export function canBlock(): boolean {
  return blockable ?? mayBlock();
}

/** Throws the TypeError of a blocking call on a thread that may not block. */
export function assertCanBlock(what: string): void {
  if (!canBlock()) {
    throw typeError(
      `${what}() blocks the thread, and this thread may not block (Atomics.wait is not allowed here, as on a browser's main thread); use the async form`,
    );
  }
}

export function deadlockError(): LockError {
  return new LockError(
    "ERR_RINGLOCK_DEADLOCK",
    "ringlock: this blocking request could only be granted after a hold of the calling thread itself is released; it would wait for ever",
  );
}

// Longest single sleep: a grant whose granter died is finished by a reaper,
// which raises RESCAN rather than pushing; a bounded sleep looks again.
const SLICE_MS = 50;

/** Sleeps on the calling thread's WAKE word, draining its inbox on every
 *  wake-up, until done() (true) or `timeout` ms pass (false). `node` is the
 *  request's node: a grant finished by a reaper (never pushed to the inbox)
 *  is found by its CTL word once the lock's word is free. */
export function blockUntil(e: Engine, node: number, done: () => boolean, timeout: number | undefined): boolean {
  const end =
    timeout === undefined || timeout === Number.POSITIVE_INFINITY
      ? Number.POSITIVE_INFINITY
      : performance.now() + timeout;
  const wake = (e.thr + R_WAKE) >> 2;
  let heldSeen = 0;
  // As an async request does: a handoff from another thread often lands
  // within microseconds, sooner than a sleep and its wake-up.
  if (!done() && e.spin() && done()) return true;
  for (;;) {
    const i32 = e.refresh();
    const seen = Atomics.load(i32, wake);
    e.drain();
    if (done()) return true;
    if (e.x.deadPending() !== 0) e.reap();
    const ctl = Atomics.load(i32, (node + N_CTL) >> 2);
    if ((ctl & CTL_STATE_MASK) === ST_HELD && Atomics.load(i32, i32[(node + N_LOCK) >> 2] >> 2) === 0) {
      // Held, its grant's critical section over, yet not in our inbox after
      // two looks: it never will be (RESCAN's rule, engine.ts).
      if (++heldSeen > 2) {
        const sink = e.parked(node);
        if (sink !== undefined) {
          e.unpark(node);
          sink.granted(node, ctl);
        }
        if (done()) return true;
      }
    }
    const left = end - performance.now();
    if (left <= 0) return false;
    Atomics.wait(i32, wake, seen, Math.min(left, SLICE_MS));
  }
}

/** Cancels a blocking request for good (retrying while the engine is busy):
 *  afterwards the waiter is settled, granted (the grant won) or not. */
export function cancelSync(w: Ticket, reason: unknown): void {
  const e = w.owner.engine;
  for (let i = 0; !w.cancelNow(reason); i++) {
    if (i > 200) throw e.sync(() => ERR_RETRY); // throws the busy LockError
    blockUntil(e, w.node, () => w.done, 1);
  }
}

/** Whether the queued request on `node` (mode m, weight w) of `lock` could
 *  only be granted after a hold of this thread is released: granting it
 *  needs more than the holds and earlier requests of this thread leave room
 *  for, so the others releasing cannot be enough. */
export function selfDeadlock(lock: LockCore, node: number, m: number, w: number): boolean {
  const e = lock.engine;
  const l = lock.ptr;
  if (l <= 0) return false;
  const rows = lock.rows;
  const held = new Array<number>(rows.length).fill(0);
  let mask = 0;
  let mine = false;
  const locked = e.x.enter(e.thr, l) === 0;
  try {
    const i32 = e.refresh();
    const top = i32[H_TOP >> 2];
    const ok = (p: number) => p > 0 && p < top && (p & (MIN_BLOCK - 1)) === 0;
    const count = (p: number) => {
      if (i32[(p + N_OWNER) >> 2] !== e.thr) return;
      const mode = (i32[(p + N_CTL) >> 2] >>> CTL_MODE_SHIFT) & CTL_MODE_MASK;
      held[mode] += i32[(p + N_WEIGHT) >> 2] >>> 0;
      mask |= 1 << mode;
      mine = true;
    };
    const limit = top >>> 5;
    let n = 0;
    for (let p = i32[(l + L_HOLDS) >> 2]; ok(p) && n++ < limit; p = i32[(p + N_HNEXT) >> 2]) count(p);
    for (let p = i32[(l + L_HEAD) >> 2]; ok(p) && p !== node && n++ < limit; p = i32[(p + N_NEXT) >> 2]) count(p);
  } finally {
    if (locked) e.x.leave(e.thr, l);
  }
  if (!mine) return false;
  return (mask & rows[m].conflicts) !== 0 || held[m] + w > lock.limitOf(m);
}
