// Internal words and the recovery protocol's primitives.
//
// An internal word (the header's ALLOC and REAP, every lock's WORD) is a spin
// lock stamped with its holder, as a Linux robust futex holds its owner's TID:
//
//   value                      meaning
//   0                          free
//   thr                        held by the thread whose record is at thr
//   thr | WORD_SLEEPERS        held, and someone may sleep in atomic.wait on it
//
// Taking a word is one compare-and-swap that both takes and records it, so no
// stop can leave a word held by nobody. Nobody waits for a word for ever:
// takeWord() spins, then sleeps in short bounded rounds (on threads that may
// block), and gives up with false (the export returns ERR_RETRY and the
// binding retries from its event loop, where the reaper runs). A word whose
// holder is marked DEAD is never waited for: only a reaper (reaper.ts) takes it
// over, with seizeWord(), and repairs what it guards before going on:
//
//   word     repaired by                       how
//   ALLOC    undoAll() (this file)             undo logs of dead threads, rolled back
//   REAP     nothing to repair                 every reap step is idempotent
//   l.WORD   repairLock() (queue.ts)           derived fields rebuilt from the
//                                              authoritative chains, in-flight
//                                              grants of dead threads settled
//
// Undo log. ALLOC transactions (allocation, registries, reference counts)
// write through txStore(), which first appends (address, old value) to the
// writer's own log and then stores; txCommit() empties the log before the
// word is let go. A thread that dies inside a transaction leaves a log whose
// entries, restored newest first, return every word it wrote to its value
// before the transaction: each restore is idempotent, so a recoverer that dies
// while undoing leaves a log the next one finishes. A store into a block that
// the same transaction allocated needs the log only for the block's word 4
// (its free-list link); the rest of an unpublished block is nobody's.

import {
  H_ALLOC,
  H_POISON,
  H_SHARED,
  H_THREADS,
  R_ALIVE,
  R_CANBLOCK,
  R_NEXT,
  R_UNDO,
  R_UNDO_N,
  TS_ALIVE,
  TS_DEAD,
  TS_MASK,
  UNDO_MAX,
  WORD_OWNER_MASK,
  WORD_SLEEPERS,
} from "./layout";

const SPIN_LIMIT = 128;
const SLEEP_US = 100; // one bounded sleep round
// Sleeps in a row that ended by time-out (the word never let go meanwhile)
// before giving up: a holder stuck for ~5 ms is dead or descheduled. A wait
// that ends because the word changed resets the count: the holders are live.
const SLEEP_ROUNDS = 50;
const SLEEP_MAX = 10_000;

// Whether another thread may touch the memory (see H_SHARED in layout.ts).
// @ts-expect-error: decorator
@inline export function isShared(): bool {
  return load<u32>(H_SHARED) != 0;
}

// @ts-expect-error: decorator
@inline export function poisoned(): bool {
  return atomic.load<u32>(H_POISON) != 0;
}

/** Pushes p onto the lock-free stack whose head is the word at `at`, linking
 *  it through p + link: the link is written before the push is published. */
// @ts-expect-error: decorator
@inline export function pushLockFree(at: usize, p: usize, link: usize): void {
  let head = atomic.load<u32>(at);
  while (true) {
    store<u32>(p + link, head);
    const seen = atomic.cmpxchg<u32>(at, head, <u32>p);
    if (seen == head) return;
    head = seen;
  }
}

/** Marks the engine as unrepairable: every later call fails loudly. */
export function poison(reason: u32): void {
  atomic.cmpxchg<u32>(H_POISON, 0, reason);
}

// @ts-expect-error: decorator
@inline function holderDead(v: u32): bool {
  // The holder's record outlives its hold (a record is freed only once no
  // word names it); a value read just before the holder let go may name a
  // record already reused, which only makes us retry early.
  return (atomic.load<u32>((v & WORD_OWNER_MASK) + R_ALIVE) & TS_MASK) != TS_ALIVE;
}

/** Takes w for thr, or returns false when it stayed busy (or its holder is
 *  dead): the caller backs out and reports ERR_RETRY. */
// @ts-expect-error: decorator
@inline export function takeWord(thr: usize, w: usize): bool {
  if (!isShared()) return true;
  if (atomic.cmpxchg<u32>(w, 0, <u32>thr) == 0) return true;
  return takeWordSlow(thr, w);
}

function takeWordSlow(thr: usize, w: usize): bool {
  // Spin without reading the holder's record: a dead holder costs a few
  // hundred wasted loads, a live one is not slowed by our reads.
  for (let i = 0; i < SPIN_LIMIT; i++) {
    if (atomic.load<u32>(w) == 0 && atomic.cmpxchg<u32>(w, 0, <u32>thr) == 0) return true;
  }
  if (load<u32>(thr + R_CANBLOCK) == 0) return false;
  // Bounded in all: even a word that keeps changing hands (live, but never
  // to us) sends us back to JavaScript after SLEEP_MAX sleeps.
  for (let r = 0, n = 0; r < SLEEP_ROUNDS && n < SLEEP_MAX; n++) {
    const v = atomic.load<u32>(w);
    if (v == 0) {
      // We may have slept: keep the sleepers bit so our release wakes the next.
      if (atomic.cmpxchg<u32>(w, 0, <u32>thr | WORD_SLEEPERS) == 0) return true;
      continue;
    }
    if (holderDead(v)) return false;
    if ((v & WORD_SLEEPERS) == 0 && atomic.cmpxchg<u32>(w, v, v | WORD_SLEEPERS) != v) continue;
    if (sleepOn(w, v | WORD_SLEEPERS, SLEEP_US) == TIMED_OUT) r++;
    else r = 0;
  }
  return false;
}

// The wait is the host's (Atomics.wait in the binding: engineImports()),
// not memory.atomic.wait32: Node 20's baseline compiler (V8 11.3 Liftoff)
// prepares that instruction with an 8-byte store into a 4-byte stack slot,
// zeroing its neighbour, whichever local the register allocator put there:
// in the old engine the word's address (the wait loop then wrote to address
// 0, the engine's MAGIC), in this one the round counter (an endless wait),
// and no source arrangement survives the optimiser's inlining for sure
// (test/liftoff.test.ts).
// @ts-expect-error: decorator
@external("env", "sleep")
declare function sleepOn(w: usize, v: u32, micros: i32): i32;
const TIMED_OUT = 2; // sleepOn: 0 woken, 1 the word had changed, 2 timed out

// @ts-expect-error: decorator
@inline export function dropWord(w: usize): void {
  if (isShared() && (atomic.xchg<u32>(w, 0) & WORD_SLEEPERS) != 0) atomic.notify(w, 1);
}

export const SEIZE_BUSY = 0; // held by a live thread that did not let go in time
export const SEIZE_FREE = 1; // taken normally
export const SEIZE_DEAD = 2; // taken over from a dead holder: repair before use

/** A reaper's take: like takeWord, but a word whose holder is dead is taken
 *  over (one compare-and-swap from the dead holder's stamp). */
export function seizeWord(thr: usize, w: usize): i32 {
  if (!isShared()) return SEIZE_FREE;
  for (let i = 0; i < SPIN_LIMIT * 8; i++) {
    const v = atomic.load<u32>(w);
    if (v == 0) {
      if (atomic.cmpxchg<u32>(w, 0, <u32>thr) == 0) return SEIZE_FREE;
    } else if ((v & WORD_OWNER_MASK) == <u32>thr) {
      return SEIZE_FREE; // already ours (a reap resumed by the same thread)
    } else if (holderDead(v)) {
      if (atomic.cmpxchg<u32>(w, v, <u32>thr) == v) return SEIZE_DEAD;
    }
  }
  return takeWordSlow(thr, w) ? SEIZE_FREE : SEIZE_BUSY;
}

// ---------------------------------------------------------------- undo log

/** Stores v at addr inside thr's ALLOC transaction, logging the old value first. */
// @ts-expect-error: decorator
@inline export function txStore(thr: usize, addr: usize, v: u32): void {
  // Unshared, nobody could ever roll this thread back: no log.
  if (!isShared()) {
    store<u32>(addr, v);
    return;
  }
  const n = load<u32>(thr + R_UNDO_N);
  if (n >= <u32>UNDO_MAX) unreachable(); // a transaction larger than its log is an engine bug
  const e = thr + R_UNDO + (<usize>n << 3);
  store<u32>(e, <u32>addr);
  store<u32>(e + 4, load<u32>(addr));
  atomic.store<u32>(thr + R_UNDO_N, n + 1); // commits the entry before the write
  store<u32>(addr, v);
}

/** Ends thr's transaction: from now on its writes stand. */
// @ts-expect-error: decorator
@inline export function txCommit(thr: usize): void {
  atomic.store<u32>(thr + R_UNDO_N, 0);
}

/** Rolls back the open transaction of every dead thread (at most one has
 *  one: ALLOC allows one writer). Call with ALLOC seized from a dead holder. */
export function undoAll(): void {
  let t = <usize>load<u32>(H_THREADS);
  while (t != 0) {
    if ((atomic.load<u32>(t + R_ALIVE) & TS_MASK) == TS_DEAD) {
      let n = atomic.load<u32>(t + R_UNDO_N);
      while (n > 0) {
        n--;
        const e = t + R_UNDO + (<usize>n << 3);
        atomic.store<u32>(<usize>load<u32>(e), load<u32>(e + 4));
        atomic.store<u32>(t + R_UNDO_N, n);
      }
    }
    t = <usize>load<u32>(t + R_NEXT);
  }
}

/** Commits thr's transaction and lets ALLOC go. */
// @ts-expect-error: decorator
@inline export function allocDone(thr: usize): void {
  txCommit(thr);
  dropWord(H_ALLOC);
}
