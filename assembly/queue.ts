// The queue and the grant loop: requests, releases, cancellations and grants
// on one lock, each a critical section under the lock's WORD (words.ts), and
// repairLock(), which makes a lock whose WORD holder died usable again.
//
// Invariants (checked by validate() in the debug build, after every test step):
//  I1  MASK bit m is set iff HELD[m] > 0, and HELD[m] is the sum of WEIGHT over
//      the lock's HELD nodes of mode m; NHOLD counts them; HELD[m] <= LIMIT[m].
//  I2  No two held modes conflict (CONFLICT is symmetric).
//  I3  The queue HEAD..TAIL is doubly linked, holds exactly NWAIT WAITING nodes.
//  I4  Strict FIFO: if the queue is not empty, its head is not grantable
//      (after every state change the grant loop ran to the first refusal).
//
// Recovery protocol (what a thread leaves behind if it stops at any point):
//
//  - A node's membership is decided by single stores: the queue is the chain
//    HEAD -> NEXT -> ..., the holds the chain HOLDS -> HNEXT -> ...; PREV,
//    HPREV, TAIL, NWAIT, HELD[], MASK and NHOLD are derived from the chains
//    and rebuilt by repairLock(). Every step writes the node's own fields
//    before the store that links it, and unlinks before it frees.
//  - Before its first write an operation records its intent in its thread
//    record: OP, ILOCK and INODE (its own node: REQUEST, RELEASE, CANCEL), and
//    clears OP after its last. A stop leaves INODE linked (the reaper then
//    removes it like any other node of a dead thread), in the thread's cache,
//    or in flight; reaper.ts puts an in-flight node back into its owner's
//    cache (resolveOrphan).
//  - A grant loop records, before it moves node n, IGRANT = n and IGEN =
//    n's generation. The steps are: unlink from the queue (HEAD = NEXT), link
//    into the holds (HOLDS = n), CTL = HELD (the grant: the linearisation
//    point against cancel; ABANDONED too for every grant of the batch that
//    follows a holder's death), clear the lock's ABANDONED flag, push n onto the
//    owner's INBOX and wake it. repairLock() finds such a record of a dead
//    thread (validated by n's LOCK and generation, so a stale one is
//    harmless) and either rolls the grant back (CTL still WAITING: n goes back
//    to the head of the queue, and the grant loop that follows the repair
//    grants it again) or forward (CTL HELD: n is a holder; its owner may never
//    have been told, so its RESCAN flag is raised and it is woken: the
//    binding then finds the grant by reading its waiting nodes' CTL words).
//  - A cancel of a latch's or barrier's waiter breaks it in the same critical
//    section (sync.ts, syncPartyDied: plain stores, BROKEN last, repeated by
//    whoever removes the node if the canceller stops first).

import { inHeap, refill, threadState, trimCache } from "./alloc";
import { grantable, syncKind } from "./grant";
import { syncPartyDied } from "./sync";
import {
  CTL_ABANDONED,
  CTL_GEN_SHIFT,
  CTL_MODE_MASK,
  CTL_MODE_SHIFT,
  CTL_STATE_MASK,
  ERR_GRANTED,
  ERR_MODE,
  ERR_POISONED,
  ERR_RETRY,
  ERR_STALE,
  ERR_WEIGHT,
  H_THREADS,
  H_TOP,
  L_FLAGS,
  L_HEAD,
  L_HELD,
  L_HOLDS,
  L_MASK,
  L_NWAIT,
  L_TABLE,
  L_TAIL,
  L_VERSION,
  L_WATCH,
  LF_ABANDONED,
  N_CTL,
  N_HNEXT,
  N_HPREV,
  N_LOCK,
  N_NEXT,
  N_OWNER,
  N_PREV,
  N_WEIGHT,
  OK,
  OP_CANCEL,
  OP_NONE,
  OP_RELEASE,
  OP_REQUEST,
  QUEUED_BIT,
  R_CACHE,
  R_IGEN,
  R_IGRANT,
  R_ILOCK,
  R_INBOX,
  R_INODE,
  R_NCACHE,
  R_NEXT,
  R_OP,
  R_RESCAN,
  R_WAKE,
  ST_FREE,
  ST_HELD,
  ST_STOLEN,
  ST_WAITING,
  T_CONFLICT,
  T_NMODES,
  THREAD_CACHE_MAX,
  TS_ALIVE,
  TS_DEAD,
} from "./layout";
import { dropWord, isShared, poison, poisoned, pushLockFree, takeWord } from "./words";

// ---------------------------------------------------------------- nodes

// @ts-expect-error: decorator
@inline export function genOf(ctl: u32): u32 {
  return ctl >>> CTL_GEN_SHIFT;
}

/** Marks node FREE with a new generation (stale handles now miss), then
 *  pushes it onto `to`'s cache. Safe under a WORD: it takes no other word. */
// @ts-expect-error: decorator
@inline export function nodeFree(to: usize, node: usize): void {
  const ctl = load<u32>(node + N_CTL);
  if ((ctl & CTL_STATE_MASK) != ST_FREE) store<u32>(node + N_CTL, (genOf(ctl) + 1) << CTL_GEN_SHIFT);
  cachePush(to, node);
}

// @ts-expect-error: decorator
@inline export function cachePush(to: usize, node: usize): void {
  store<u32>(node + N_LOCK, load<u32>(to + R_CACHE));
  store<u32>(to + R_CACHE, <u32>node); // commits the push
  store<u32>(to + R_NCACHE, load<u32>(to + R_NCACHE) + 1);
}

// @ts-expect-error: decorator
@inline export function intent(sh: bool, thr: usize, op: u32, l: usize, node: usize): void {
  // Unshared, no other thread can see this one stop: no record needed.
  if (!sh) return;
  store<u32>(thr + R_ILOCK, <u32>l);
  store<u32>(thr + R_INODE, <u32>node);
  store<u32>(thr + R_OP, op);
}

// @ts-expect-error: decorator
@inline export function done(sh: bool, thr: usize): void {
  if (sh) store<u32>(thr + R_OP, OP_NONE);
}

// ---------------------------------------------------------------- holds

// Under WORD: counts the node as a holder and links it into the hold list.
// @ts-expect-error: decorator
@inline function addHold(l: usize, node: usize, m: u32, w: u32): void {
  const first = load<u32>(l + L_HOLDS);
  store<u32>(node + N_HPREV, 0);
  store<u32>(node + N_HNEXT, first);
  if (first != 0) store<u32>(first + N_HPREV, <u32>node);
  store<u32>(l + L_HOLDS, <u32>node); // commits the link
  const slot = l + L_HELD + (m << 2);
  store<u32>(slot, load<u32>(slot) + w);
  store<u32>(l + L_MASK, load<u32>(l + L_MASK) | (1 << m));
}

// Under WORD: the reverse of addHold (a STOLEN node is no longer counted).
// @ts-expect-error: decorator
@inline export function removeHold(l: usize, node: usize): void {
  const prev = load<u32>(node + N_HPREV);
  const next = load<u32>(node + N_HNEXT);
  if (prev != 0) store<u32>(prev + N_HNEXT, next);
  else store<u32>(l + L_HOLDS, next); // either commits the unlink
  if (next != 0) store<u32>(next + N_HPREV, prev);
  const ctl = load<u32>(node + N_CTL);
  if ((ctl & CTL_STATE_MASK) == ST_HELD) uncount(l, node, ctl);
}

// Under WORD: takes a held node's weight out of HELD[] and MASK (derived).
// @ts-expect-error: decorator
@inline function uncount(l: usize, node: usize, ctl: u32): void {
  const m = (ctl >>> CTL_MODE_SHIFT) & CTL_MODE_MASK;
  const slot = l + L_HELD + (m << 2);
  const left = load<u32>(slot) - load<u32>(node + N_WEIGHT);
  store<u32>(slot, left);
  if (left == 0) store<u32>(l + L_MASK, load<u32>(l + L_MASK) & ~(1 << m));
}

// Under WORD: takes a WAITING node out of the queue; returns its predecessor.
// @ts-expect-error: decorator
@inline export function unlinkWaiter(l: usize, node: usize): u32 {
  const prev = load<u32>(node + N_PREV);
  const next = load<u32>(node + N_NEXT);
  if (prev != 0) store<u32>(prev + N_NEXT, next);
  else store<u32>(l + L_HEAD, next); // either commits the unlink
  if (next != 0) store<u32>(next + N_PREV, prev);
  else store<u32>(l + L_TAIL, prev);
  store<u32>(l + L_NWAIT, load<u32>(l + L_NWAIT) - 1);
  return prev;
}

// ---------------------------------------------------------------- grants

// Hands a granted node to its owner thread: a lock-free push onto the owner's
// inbox, then a bump of its WAKE word. The owner reads WAKE before it empties
// the inbox and parks on the value it read, so a push it missed always changes
// WAKE first and its wait returns at once: no lost wake-up. A grant to the
// calling thread is not notified: the binding drains its own inbox after each
// call that reports self-grants.
// @ts-expect-error: decorator
@inline function deliver(self: usize, node: usize): void {
  const owner = <usize>load<u32>(node + N_OWNER);
  const inbox = owner + R_INBOX;
  if (!isShared()) {
    store<u32>(node + N_NEXT, load<u32>(inbox));
    store<u32>(inbox, <u32>node);
    return;
  }
  pushLockFree(inbox, node, N_NEXT);
  if (owner != self) wake(owner);
}

// @ts-expect-error: decorator
@inline function wake(owner: usize): void {
  atomic.add<u32>(owner + R_WAKE, 1);
  atomic.notify(owner + R_WAKE, 1);
}

// Under WORD: grants the longest grantable prefix of the queue (I4). Returns
// how many of the grants went to `self`.
export function grantWaiters(self: usize, l: usize): i32 {
  let head = <usize>load<u32>(l + L_HEAD);
  if (head == 0) return 0;
  const t = <usize>load<u32>(l + L_TABLE);
  const n = load<u32>(t + T_NMODES);
  // Every grant of the batch that follows a holder's death is told: all of
  // them may see what the dead holder left half done.
  const abandoned = (load<u32>(l + L_FLAGS) & LF_ABANDONED) != 0 ? CTL_ABANDONED : 0;
  const sh = isShared();
  let mine = 0;
  while (head != 0) {
    const ctl = load<u32>(head + N_CTL);
    const m = (ctl >>> CTL_MODE_SHIFT) & CTL_MODE_MASK;
    const w = load<u32>(head + N_WEIGHT);
    if (!grantable(l, t, n, m, w)) break;
    if (sh) {
      store<u32>(self + R_IGEN, genOf(ctl));
      store<u32>(self + R_IGRANT, <u32>head);
    }
    const next = <usize>load<u32>(head + N_NEXT);
    store<u32>(l + L_HEAD, <u32>next); // commits the unlink
    if (next != 0) store<u32>(next + N_PREV, 0);
    else store<u32>(l + L_TAIL, 0);
    store<u32>(l + L_NWAIT, load<u32>(l + L_NWAIT) - 1);
    addHold(l, head, m, w);
    // The grant, and the linearisation point of grant vs cancel.
    store<u32>(head + N_CTL, (ctl & ~CTL_STATE_MASK) | ST_HELD | abandoned);
    if (abandoned != 0) store<u32>(l + L_FLAGS, load<u32>(l + L_FLAGS) & ~LF_ABANDONED);
    if (<usize>load<u32>(head + N_OWNER) == self) mine++;
    deliver(self, head);
    head = next;
  }
  if (sh) store<u32>(self + R_IGRANT, 0);
  return mine;
}

// Under WORD: records that a try may now pass (whenAcquirable watches this).
// @ts-expect-error: decorator
@inline export function changed(l: usize): void {
  store<u32>(l + L_VERSION, load<u32>(l + L_VERSION) + 1);
}

// After WORD is released: wakes whenAcquirable watchers. A watcher bumps WATCH
// (a full barrier), then reads VERSION and tests the lock; we store VERSION,
// release WORD (xchg: a full barrier), then read WATCH. One of the two sees
// the other's write, so a watcher is never left parked on a stale VERSION.
// @ts-expect-error: decorator
@inline export function wakeWatchers(l: usize): void {
  if (atomic.load<u32>(l + L_WATCH) != 0) atomic.notify(l + L_VERSION, -1);
}

// ---------------------------------------------------------------- requests

// @ts-expect-error: decorator
@inline function checkRequest(l: usize, m: u32, w: u32): i32 {
  const t = <usize>load<u32>(l + L_TABLE);
  const n = load<u32>(t + T_NMODES);
  if (m >= n) return ERR_MODE;
  const limit = load<u32>(t + T_CONFLICT + ((n + m) << 2));
  if (w < 1 || (w > limit && syncKind(t, n) == 0)) return ERR_WEIGHT;
  return OK;
}

/** Requests mode m with weight w. Returns the node: held at once, or with
 *  QUEUED_BIT set when it joined the queue; or a negative error code
 *  (ERR_RETRY: nothing was done). */
export function acquire(thr: usize, l: usize, m: u32, w: u32): i32 {
  return request(thr, l, m, w, true, false);
}

/** Takes l in mode m, weight w, at once, whatever holds it (Web Locks' steal):
 *  every holder becomes STOLEN (no longer counted; its owner is told through
 *  RESCAN and frees its node with release()); the queue stays as it is.
 *  Returns the held node or a negative error code. A stop anywhere is
 *  recovered as a request's (OP_REQUEST); a holder is stolen by the single
 *  store of its CTL, and repairLock tells the owners of STOLEN nodes again. */
export function steal(thr: usize, l: usize, m: u32, w: u32): i32 {
  return request(thr, l, m, w, true, true);
}

// Under WORD: marks every counted holder of l STOLEN and tells its owner.
function stealHolds(thr: usize, l: usize): void {
  let p = <usize>load<u32>(l + L_HOLDS);
  while (p != 0) {
    const ctl = load<u32>(p + N_CTL);
    if ((ctl & CTL_STATE_MASK) == ST_HELD) {
      store<u32>(p + N_CTL, (ctl & ~CTL_STATE_MASK) | ST_STOLEN); // commits the steal of p
      uncount(l, p, ctl);
      tellStolen(thr, <usize>load<u32>(p + N_OWNER));
    }
    p = <usize>load<u32>(p + N_HNEXT);
  }
}

// The owner of a stolen node finds it by rescanning (bindings: Engine).
// @ts-expect-error: decorator
@inline function tellStolen(self: usize, owner: usize): void {
  atomic.store<u32>(owner + R_RESCAN, 1);
  if (owner != self && isShared()) wake(owner);
}

/** Like acquire, but never queues: the node if held at once, 0 if not. */
export function tryAcquire(thr: usize, l: usize, m: u32, w: u32): i32 {
  // Refuse without allocating when the answer is plainly no.
  if (atomic.load<u32>(l + L_HEAD) != 0) return checkRequest(l, m, w);
  return request(thr, l, m, w, false, false);
}

/** Pops a node from thr's cache (refilling it), records the intent (op, l,
 *  node) and takes l's WORD: the start of every operation that queues or
 *  holds a new node. Returns the node, or ERR_NOMEM / ERR_RETRY with nothing
 *  done (the node back in the cache, the intent cleared). */
// @ts-expect-error: decorator
@inline export function claimNode(sh: bool, thr: usize, l: usize, op: u32): i32 {
  if (load<u32>(thr + R_CACHE) == 0) {
    const r = refill(thr);
    if (r != 0) return r;
  }
  const node = <usize>load<u32>(thr + R_CACHE);
  intent(sh, thr, op, l, node);
  store<u32>(thr + R_CACHE, load<u32>(node + N_LOCK)); // commits the pop
  store<u32>(thr + R_NCACHE, load<u32>(thr + R_NCACHE) - 1);
  if (!takeWord(thr, l)) {
    cachePush(thr, node);
    done(sh, thr);
    return ERR_RETRY;
  }
  return <i32>node;
}

function request(thr: usize, l: usize, m: u32, w: u32, mayQueue: bool, steals: bool): i32 {
  const sh = isShared();
  if (sh && poisoned()) return ERR_POISONED;
  const bad = checkRequest(l, m, w);
  if (bad != OK) return bad;
  const claimed = claimNode(sh, thr, l, OP_REQUEST);
  if (claimed < 0) return claimed;
  const node = <usize>claimed;
  store<u32>(node + N_LOCK, <u32>l);
  store<u32>(node + N_OWNER, <u32>thr);
  store<u32>(node + N_WEIGHT, w);
  const gen = load<u32>(node + N_CTL) & ~((1 << CTL_GEN_SHIFT) - 1);
  const t = <usize>load<u32>(l + L_TABLE);
  if (steals) stealHolds(thr, l);
  if ((steals || load<u32>(l + L_HEAD) == 0) && grantable(l, t, load<u32>(t + T_NMODES), m, w)) {
    const flags = load<u32>(l + L_FLAGS);
    const abandoned = (flags & LF_ABANDONED) != 0 ? CTL_ABANDONED : 0;
    store<u32>(node + N_CTL, gen | (m << CTL_MODE_SHIFT) | ST_HELD | abandoned);
    addHold(l, node, m, w);
    if (abandoned != 0) store<u32>(l + L_FLAGS, flags & ~LF_ABANDONED);
    if (steals) {
      // The stolen holds no longer count: waiters compatible with the
      // stealer's mode go too (the binding drains self-grants).
      grantWaiters(thr, l);
      changed(l);
    }
    dropWord(l);
    done(sh, thr);
    if (steals) wakeWatchers(l);
    return <i32>node;
  }
  if (!mayQueue) {
    dropWord(l);
    // Never published: back to the cache with its generation unchanged.
    cachePush(thr, node);
    done(sh, thr);
    return 0;
  }
  store<u32>(node + N_CTL, gen | (m << CTL_MODE_SHIFT) | ST_WAITING);
  const tail = load<u32>(l + L_TAIL);
  store<u32>(node + N_PREV, tail);
  store<u32>(node + N_NEXT, 0);
  if (tail != 0) store<u32>(tail + N_NEXT, <u32>node);
  else store<u32>(l + L_HEAD, <u32>node); // either commits the enqueue
  store<u32>(l + L_TAIL, <u32>node);
  store<u32>(l + L_NWAIT, load<u32>(l + L_NWAIT) + 1);
  dropWord(l);
  done(sh, thr);
  return <i32>(node | QUEUED_BIT);
}

/** Whether a tryAcquire(m, w) would pass now: a hint, taken without WORD. */
export function canAcquire(l: usize, m: u32, w: u32): i32 {
  if (atomic.load<u32>(l + L_HEAD) != 0) return 0;
  const t = <usize>load<u32>(l + L_TABLE);
  return grantable(l, t, load<u32>(t + T_NMODES), m, w) ? 1 : 0;
}

/** The start of every release: checks (node, gen) names a hold (HELD or
 *  STOLEN), records the intent and takes the node's lock's WORD. Returns the
 *  lock, or ERR_STALE / ERR_POISONED / ERR_RETRY with nothing done. */
// @ts-expect-error: decorator
@inline export function beginRelease(sh: bool, thr: usize, node: usize, gen: u32): i32 {
  const ctl0 = atomic.load<u32>(node + N_CTL);
  if ((ctl0 & CTL_STATE_MASK) < <u32>ST_HELD || genOf(ctl0) != gen) return ERR_STALE;
  if (sh && poisoned()) return ERR_POISONED;
  const l = <usize>load<u32>(node + N_LOCK);
  intent(sh, thr, OP_RELEASE, l, node);
  if (!takeWord(thr, l)) {
    done(sh, thr);
    return ERR_RETRY;
  }
  return <i32>l;
}

/** Releases a held node named by (node, gen). Returns how many waiters were
 *  granted to the calling thread (its inbox), ERR_STALE or ERR_RETRY. */
export function release(thr: usize, node: usize, gen: u32): i32 {
  const sh = isShared();
  const began = beginRelease(sh, thr, node, gen);
  if (began < 0) return began;
  const l = <usize>began;
  // Only the owner thread (or the reaper, after its death) releases a node,
  // so the state cannot have moved since the check above, but from HELD to
  // STOLEN (removeHold counts only a HELD node).
  removeHold(l, node);
  return finishOwn(sh, thr, l, node, load<u32>(l + L_HEAD) != 0);
}

/** Withdraws a waiting node. Returns the number of self-grants the removal
 *  caused (>= 0), ERR_GRANTED when the grant won the race (the caller holds
 *  the lock), ERR_STALE or ERR_RETRY. */
export function cancel(thr: usize, node: usize, gen: u32): i32 {
  const ctl0 = atomic.load<u32>(node + N_CTL);
  if ((ctl0 & CTL_STATE_MASK) == ST_FREE || genOf(ctl0) != gen) return ERR_STALE;
  const sh = isShared();
  if (sh && poisoned()) return ERR_POISONED;
  const l = <usize>load<u32>(node + N_LOCK);
  intent(sh, thr, OP_CANCEL, l, node);
  if (!takeWord(thr, l)) {
    done(sh, thr);
    return ERR_RETRY;
  }
  if ((load<u32>(node + N_CTL) & CTL_STATE_MASK) == ST_HELD) {
    dropWord(l);
    done(sh, thr);
    return ERR_GRANTED;
  }
  // A latch or barrier waiter that gives up breaks it in the same step (no
  // arrival can complete the phase in between): sync.ts, syncPartyDied.
  const breaks = syncPartyDied(l);
  // Only the removal of the head can let others through (or a break: all).
  return finishOwn(sh, thr, l, node, unlinkWaiter(l, node) == 0 || breaks);
}

// Under WORD, the end of release and cancel: frees the caller's node it just
// unlinked, grants what that let through, lets the word go. Returns self-grants.
// @ts-expect-error: decorator
@inline export function finishOwn(sh: bool, thr: usize, l: usize, node: usize, mayGrant: bool): i32 {
  nodeFree(thr, node);
  const mine = mayGrant ? grantWaiters(thr, l) : 0;
  changed(l);
  dropWord(l);
  done(sh, thr);
  wakeWatchers(l);
  if (load<u32>(thr + R_NCACHE) > <u32>THREAD_CACHE_MAX) trimCache(thr);
  return mine;
}

/** Empties the calling thread's inbox; returns its nodes in grant order,
 *  linked through N_NEXT. */
export function takeInbox(thr: usize): usize {
  let p: usize;
  if (isShared()) {
    p = <usize>atomic.xchg<u32>(thr + R_INBOX, 0);
  } else {
    p = <usize>load<u32>(thr + R_INBOX);
    store<u32>(thr + R_INBOX, 0);
  }
  let prev: usize = 0;
  while (p != 0) {
    const next = <usize>load<u32>(p + N_NEXT);
    store<u32>(p + N_NEXT, <u32>prev);
    prev = p;
    p = next;
  }
  return prev;
}

// ---------------------------------------------------------------- repair

const POISON_LOCK = 1;

/** With l's WORD seized from a dead holder (reapers only, ALLOC held): settles
 *  dead threads' in-flight grants on l and rebuilds every derived field.
 *  Idempotent: a reaper that dies inside leaves what the next one repairs.
 *  Returns false (and poisons the engine) if l is beyond repair. */
export function repairLock(l: usize): bool {
  let x = <usize>load<u32>(H_THREADS);
  while (x != 0) {
    if (threadState(x) == TS_DEAD) settleGrant(x, l);
    x = <usize>load<u32>(x + R_NEXT);
  }
  const limit = (atomic.load<u32>(H_TOP) >>> 5) + 1; // no chain is longer
  // Queue: PREV, TAIL, NWAIT from the chain.
  let count: u32 = 0;
  let back: usize = 0;
  let p = <usize>load<u32>(l + L_HEAD);
  while (p != 0) {
    if (!inHeap(p) || ++count > limit || <usize>load<u32>(p + N_LOCK) != l) return fail();
    if ((load<u32>(p + N_CTL) & CTL_STATE_MASK) != ST_WAITING) return fail();
    store<u32>(p + N_PREV, <u32>back);
    back = p;
    p = <usize>load<u32>(p + N_NEXT);
  }
  store<u32>(l + L_TAIL, <u32>back);
  store<u32>(l + L_NWAIT, count);
  // Holds: HPREV, HELD[], MASK from the chain.
  const t = <usize>load<u32>(l + L_TABLE);
  const n = load<u32>(t + T_NMODES);
  for (let m: u32 = 0; m < n; m++) store<u32>(l + L_HELD + (m << 2), 0);
  let mask: u32 = 0;
  count = 0;
  back = 0;
  p = <usize>load<u32>(l + L_HOLDS);
  while (p != 0) {
    if (!inHeap(p) || ++count > limit || <usize>load<u32>(p + N_LOCK) != l) return fail();
    const ctl = load<u32>(p + N_CTL);
    const m = (ctl >>> CTL_MODE_SHIFT) & CTL_MODE_MASK;
    const st = ctl & CTL_STATE_MASK;
    if (st < <u32>ST_HELD || m >= n) return fail();
    if (st == ST_HELD) {
      const slot = l + L_HELD + (m << 2);
      const sum = <u64>load<u32>(slot) + <u64>load<u32>(p + N_WEIGHT);
      if (sum > <u64>load<u32>(t + T_CONFLICT + ((n + m) << 2)) && syncKind(t, n) == 0) return fail();
      store<u32>(slot, <u32>sum);
      mask |= 1 << m;
    } else {
      // Stolen: its owner may not have been told (the stealer stopped).
      const owner = <usize>load<u32>(p + N_OWNER);
      if (threadState(owner) == TS_ALIVE) tellStolen(0, owner);
    }
    store<u32>(p + N_HPREV, <u32>back);
    back = p;
    p = <usize>load<u32>(p + N_HNEXT);
  }
  store<u32>(l + L_MASK, mask);
  changed(l);
  return true;
}

function fail(): bool {
  poison(POISON_LOCK);
  return false;
}

// Settles dead thread x's in-flight grant on l, if it has one (see the top).
function settleGrant(x: usize, l: usize): void {
  const n = <usize>load<u32>(x + R_IGRANT);
  if (n == 0 || !inHeap(n) || <usize>load<u32>(n + N_LOCK) != l) return;
  const ctl = load<u32>(n + N_CTL);
  if (genOf(ctl) != load<u32>(x + R_IGEN)) return;
  const st = ctl & CTL_STATE_MASK;
  if (st == ST_WAITING) {
    // Roll back: out of the holds (it can only be their first), back to the head.
    if (<usize>load<u32>(l + L_HOLDS) == n) store<u32>(l + L_HOLDS, load<u32>(n + N_HNEXT));
    if (<usize>load<u32>(l + L_HEAD) != n && <usize>load<u32>(n + N_NEXT) == <usize>load<u32>(l + L_HEAD)) {
      store<u32>(l + L_HEAD, <u32>n);
    }
  } else if (st == ST_HELD) {
    // Roll forward: a holder; make sure its owner hears of it.
    if ((ctl & CTL_ABANDONED) != 0) store<u32>(l + L_FLAGS, load<u32>(l + L_FLAGS) & ~LF_ABANDONED);
    const owner = <usize>load<u32>(n + N_OWNER);
    if (threadState(owner) == TS_ALIVE) {
      atomic.store<u32>(owner + R_RESCAN, 1);
      wake(owner);
    }
  }
  store<u32>(x + R_IGRANT, 0);
}
