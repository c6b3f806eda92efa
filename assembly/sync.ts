// Sync objects (Event, Notify, CountdownEvent, Latch, Barrier,
// CapacityLimiter) and a Condition's wait morphing, on the one queue of
// queue.ts: a sync object is a lock whose private one-mode table carries its
// state and a dynamic limit (layout.ts, "sync objects"); a waiter is an
// ordinary request of weight 1, queued, granted by the ordinary grant loop
// and released by its binding as soon as it hears of the grant. A state
// change sets the limit so that the grant loop grants exactly the waiters the
// change lets through: open (UNLIMITED) grants every waiter, HELD + k grants
// the next k, 0 none. So FIFO order, wake-ups across threads, grant-vs-cancel
// at one compare-and-swap and owner death are the queue's.
//
// State per kind (S_VALUE, S_PHASE, S_BROKEN in the table; LIMIT is LIMIT[0]):
//
//   kind       VALUE            LIMIT                        waiter's release
//   EVENT      1 set / 0 unset  UNLIMITED when set, else 0   plain
//   NOTIFY     -                HELD + stored permit (0/1)   consumes (LIMIT -= 1)
//   COUNTDOWN  value            UNLIMITED when 0, else 0     plain
//   LATCH      count            UNLIMITED when 0 or broken   plain
//   BARRIER    arrivals         0 (UNLIMITED while broken)   plain
//   LIMITER    -                total (may drop below HELD)  plain (a guard)
//   COND       -                0: only condMove moves its waiters, to the mutex
//
// A waiter of a batch that fails (a broken latch or barrier, a barrier reset)
// is granted with CTL_ABANDONED set (the lock's ABANDONED flag, which the
// grant loop turns into that bit for the whole batch).
//
// Recovery protocol of syncOp and syncArrive (a redo record, not an undo log):
//
//   1. intent OP_SYNC0, ILOCK = l, INODE = the node popped for a waiter or 0
//      (before the pop: a stop leaves it cached, in flight or linked, which
//      the reaper settles as for OP_REQUEST);
//   2. take l's WORD and read the state; an error changes nothing;
//   3. write the whole new state into the thread record (RS_*: values, the
//      limit during and after the grant loop, whether the batch fails,
//      whether INODE joins the queue), then OP = OP_SYNC: the commit;
//   4. apply(): store the values, link INODE, limit = DURING, grant loop,
//      limit = AFTER; every store is of an absolute value, so applying the
//      record twice is applying it once;
//   5. OP = OP_NONE, then let the WORD go.
//
// OP is cleared before the WORD is let go, so a committed record whose WORD
// is not held by its (dead) writer is never left behind. A reaper that seizes
// l's WORD from a dead thread (reaper.ts, enterLock) repairs the lock
// (repairLock settles an in-flight grant) and then applies every dead
// thread's OP_SYNC record on l (syncRedo): the operation completes exactly as
// if its thread had not stopped. A stop before step 3 leaves nothing to do.
//
// Condition (condWait, condMove), under the condition's WORD and then the
// mutex's (always in that order; the reaper takes them in the same order):
//
//   condWait: intent OP_CONDWAIT (ILOCK = cond, ILOCK2 = mutex, INODE = the
//     caller's held node); unlink it from the mutex's holds (commit: it is
//     now in flight), make it WAITING on cond, link it at cond's tail
//     (commit), grant the mutex's waiters. A stop leaves the node held,
//     waiting on cond, or in flight; the thread is dead, so the reaper frees
//     an in-flight node into its cache, and removes a linked one as any other.
//   condMove: intent OP_CONDMOVE (ILOCK = cond, ILOCK2 = mutex) and, per
//     node moved, INODE = the node and RS_VALUE = its generation; unlink it
//     from cond's queue (commit: in flight), point it at the mutex, link it
//     at the mutex's tail (commit); after all, grant the mutex's waiters. The
//     node belongs to a live thread that must not lose it: a reaper finds an
//     in-flight node (on neither queue, WAITING, generation as recorded) and
//     finishes the move (reaper.ts, settleCond).

import { inHeap, tableNew, threadState } from "./alloc";
import { syncKind } from "./grant";
import {
  CTL_ABANDONED,
  CTL_GEN_SHIFT,
  CTL_STATE_MASK,
  ERR_BROKEN,
  ERR_MODE,
  ERR_POISONED,
  ERR_RANGE,
  ERR_RETRY,
  ERR_STALE,
  H_THREADS,
  H_TOP,
  L_FLAGS,
  L_HEAD,
  L_HELD,
  L_NWAIT,
  L_TABLE,
  L_TAIL,
  LF_ABANDONED,
  N_CTL,
  N_LOCK,
  N_NEXT,
  N_OWNER,
  N_PREV,
  N_WEIGHT,
  OP_CONDMOVE,
  OP_CONDWAIT,
  OP_RELEASE,
  OP_SYNC,
  OP_SYNC0,
  QUEUED_BIT,
  R_ILOCK,
  R_ILOCK2,
  R_INODE,
  R_NEXT,
  R_OP,
  R_OUT_INDEX,
  R_OUT_PHASE,
  RS_AFTER,
  RS_BROKEN,
  RS_DURING,
  RS_FLAGS,
  RS_PHASE,
  RS_VALUE,
  RSF_ABANDON,
  RSF_ENQUEUE,
  S_BROKEN,
  S_KIND,
  S_LIMIT,
  S_PARTIES,
  S_PHASE,
  S_VALUE,
  SK_BARRIER,
  SK_COND,
  SK_COUNTDOWN,
  SK_EVENT,
  SK_LATCH,
  SK_LIMITER,
  SK_NOTIFY,
  SO_ADD,
  SO_BREAK,
  SO_CLEAR,
  SO_COUNT_DOWN,
  SO_LIMIT,
  SO_NOTIFY_ALL,
  SO_NOTIFY_ONE,
  SO_RESET,
  SO_SET,
  SO_ZERO,
  ST_HELD,
  ST_WAITING,
  T_NMODES,
  TS_DEAD,
} from "./layout";
import {
  beginRelease,
  cachePush,
  changed,
  claimNode,
  done,
  finishOwn,
  genOf,
  grantWaiters,
  intent,
  removeHold,
  unlinkWaiter,
  wakeWatchers,
} from "./queue";
import { dropWord, isShared, poisoned, takeWord } from "./words";

const UNLIMITED: u32 = 0xffffffff;

/** A private one-mode table for a sync object of kind `kind` (SK_*), with
 *  its creator reference held by thr (the binding drops it once lockNew has
 *  taken one). Returns the table, 0 (no memory) or ERR_RETRY. */
export function syncTable(thr: usize, kind: u32, limit: u32, value: u32, parties: u32): i32 {
  const t = tableNew(thr, 1);
  if (t <= 0) return t;
  // Unpublished until lockNew: plain stores.
  const p = <usize>t;
  store<u32>(p + S_LIMIT, limit);
  store<u32>(p + S_KIND, kind);
  store<u32>(p + S_VALUE, value);
  store<u32>(p + S_PHASE, 0);
  store<u32>(p + S_BROKEN, 0);
  store<u32>(p + S_PARTIES, parties);
  return t;
}

// @ts-expect-error: decorator
@inline function tableOf(l: usize): usize {
  return <usize>load<u32>(l + L_TABLE);
}

/** Under WORD: links node at the tail of l's queue (the store to the old
 *  tail's NEXT or to HEAD commits it). */
export function enqueue(l: usize, node: usize): void {
  const tail = load<u32>(l + L_TAIL);
  store<u32>(node + N_PREV, tail);
  store<u32>(node + N_NEXT, 0);
  if (tail != 0) store<u32>(tail + N_NEXT, <u32>node);
  else store<u32>(l + L_HEAD, <u32>node);
  store<u32>(l + L_TAIL, <u32>node);
  store<u32>(l + L_NWAIT, load<u32>(l + L_NWAIT) + 1);
}

/** Whether node is on l's queue (bounded walk). */
export function queued(l: usize, node: usize): bool {
  const limit = (atomic.load<u32>(H_TOP) >>> 5) + 1;
  let p = <usize>load<u32>(l + L_HEAD);
  for (let i: u32 = 0; p != 0 && i < limit; i++) {
    if (p == node) return true;
    p = <usize>load<u32>(p + N_NEXT);
  }
  return false;
}

// Under WORD: applies the redo record in thread record `rec` to l (step 4).
// self is the thread running it (the writer, or a reaper).
function apply(self: usize, rec: usize, l: usize): void {
  const t = tableOf(l);
  const kind = load<u32>(t + S_KIND);
  store<u32>(t + S_VALUE, load<u32>(rec + RS_VALUE));
  store<u32>(t + S_PHASE, load<u32>(rec + RS_PHASE));
  store<u32>(t + S_BROKEN, load<u32>(rec + RS_BROKEN));
  const flags = load<u32>(rec + RS_FLAGS);
  if ((flags & RSF_ENQUEUE) != 0) {
    const node = <usize>load<u32>(rec + R_INODE);
    if (!queued(l, node)) enqueue(l, node);
  }
  if ((flags & RSF_ABANDON) != 0) store<u32>(l + L_FLAGS, load<u32>(l + L_FLAGS) | LF_ABANDONED);
  store<u32>(t + S_LIMIT, load<u32>(rec + RS_DURING));
  grantWaiters(self, l);
  store<u32>(t + S_LIMIT, load<u32>(rec + RS_AFTER));
  // A latch's or barrier's ABANDONED flag means only "this batch failed".
  if (kind == SK_LATCH || kind == SK_BARRIER) store<u32>(l + L_FLAGS, load<u32>(l + L_FLAGS) & ~LF_ABANDONED);
  changed(l);
}

// Steps 3 to 5, under WORD.
function commit(sh: bool, thr: usize, l: usize): void {
  if (sh) store<u32>(thr + R_OP, OP_SYNC);
  apply(thr, thr, l);
  done(sh, thr);
  dropWord(l);
  wakeWatchers(l);
}

// Under WORD: the record of "no change" (each op then edits what it changes).
function planSame(thr: usize, l: usize, t: usize): void {
  store<u32>(thr + RS_VALUE, load<u32>(t + S_VALUE));
  store<u32>(thr + RS_PHASE, load<u32>(t + S_PHASE));
  store<u32>(thr + RS_BROKEN, load<u32>(t + S_BROKEN));
  const limit = load<u32>(t + S_LIMIT);
  store<u32>(thr + RS_DURING, limit);
  store<u32>(thr + RS_AFTER, limit);
  store<u32>(thr + RS_FLAGS, 0);
}

// @ts-expect-error: decorator
@inline function planLimit(thr: usize, during: u32, after: u32): void {
  store<u32>(thr + RS_DURING, during);
  store<u32>(thr + RS_AFTER, after);
}

// Under WORD (step 2 to 3, before the commit): the new state of op on l, or
// an error code. Returns how many waiters the change grants (a hint).
function plan(thr: usize, l: usize, op: u32, arg: u32): i32 {
  const t = tableOf(l);
  const kind = syncKind(t, load<u32>(t + T_NMODES));
  planSame(thr, l, t);
  const value = load<u32>(t + S_VALUE);
  const held = load<u32>(l + L_HELD);
  const nwait = load<u32>(l + L_NWAIT);
  const broken = load<u32>(t + S_BROKEN) != 0;
  if (kind == SK_EVENT && (op == SO_SET || op == SO_CLEAR)) {
    const set = op == SO_SET;
    store<u32>(thr + RS_VALUE, set ? 1 : 0);
    planLimit(thr, set ? UNLIMITED : 0, set ? UNLIMITED : 0);
    return set ? <i32>nwait : 0;
  }
  if (kind == SK_NOTIFY && (op == SO_NOTIFY_ONE || op == SO_NOTIFY_ALL)) {
    // LIMIT = HELD + stored permit. With waiters, there is no permit (a
    // waiter queues only when none is free).
    if (nwait == 0) {
      if (op == SO_NOTIFY_ONE) planLimit(thr, held + 1, held + 1);
      return 0;
    }
    const k = op == SO_NOTIFY_ONE ? 1 : nwait;
    planLimit(thr, held + k, held + k);
    return <i32>k;
  }
  if (kind == SK_COUNTDOWN && (op == SO_ADD || op == SO_ZERO)) {
    const next = op == SO_ZERO ? <i64>0 : <i64>value + <i64>(<i32>arg);
    if (next < 0 || next > <i64>0x7fffffff) return ERR_RANGE;
    store<u32>(thr + RS_VALUE, <u32>next);
    const open = next == 0 ? UNLIMITED : 0;
    planLimit(thr, open, open);
    return next == 0 ? <i32>nwait : 0;
  }
  if (kind == SK_LATCH && op == SO_COUNT_DOWN) {
    if (broken || value == 0) return 0;
    const next = arg >= value ? 0 : value - arg;
    store<u32>(thr + RS_VALUE, next);
    const open = next == 0 ? UNLIMITED : 0;
    planLimit(thr, open, open);
    return next == 0 ? <i32>nwait : 0;
  }
  if ((kind == SK_LATCH || kind == SK_BARRIER) && op == SO_BREAK) {
    // A completed latch cannot break; a broken one is broken already.
    if (broken || (kind == SK_LATCH && value == 0)) return 0;
    store<u32>(thr + RS_BROKEN, 1);
    if (kind == SK_BARRIER) store<u32>(thr + RS_VALUE, 0);
    store<u32>(thr + RS_FLAGS, RSF_ABANDON);
    // Broken, every wait fails: a latch's later waits are granted at once
    // (and see BROKEN); a barrier refuses arrivals in syncArrive.
    planLimit(thr, UNLIMITED, UNLIMITED);
    return <i32>nwait;
  }
  if (kind == SK_BARRIER && op == SO_RESET) {
    store<u32>(thr + RS_BROKEN, 0);
    store<u32>(thr + RS_VALUE, 0);
    store<u32>(thr + RS_FLAGS, RSF_ABANDON);
    planLimit(thr, UNLIMITED, 0);
    return <i32>nwait;
  }
  if (kind == SK_LIMITER && op == SO_LIMIT) {
    planLimit(thr, arg, arg);
    return 0;
  }
  return ERR_MODE;
}

/** Changes sync object l's state (op: SO_*, with arg) and grants what the
 *  change lets through. Returns >= 0 (how many waiters it granted), ERR_RANGE
 *  (nothing changed), ERR_MODE (op does not fit the kind), ERR_RETRY or
 *  ERR_POISONED. The caller drains its inbox after (self-grants). */
export function syncOp(thr: usize, l: usize, op: u32, arg: u32): i32 {
  const sh = isShared();
  if (sh && poisoned()) return ERR_POISONED;
  intent(sh, thr, OP_SYNC0, l, 0);
  if (!takeWord(thr, l)) {
    done(sh, thr);
    return ERR_RETRY;
  }
  const r = plan(thr, l, op, arg);
  if (r < 0) {
    done(sh, thr);
    dropWord(l);
    return r;
  }
  commit(sh, thr, l);
  return r;
}

/** A latch's arriveAndWait or a barrier's wait: arrives and, unless the
 *  arrival completes the latch or the barrier's phase (0: done, the caller
 *  returns at once), queues a waiter (its node with QUEUED_BIT). The arrival
 *  index and phase are left in the caller's R_OUT_INDEX / R_OUT_PHASE.
 *  ERR_BROKEN when broken (nothing changed), ERR_MODE, ERR_RETRY, ERR_NOMEM. */
export function syncArrive(thr: usize, l: usize): i32 {
  const sh = isShared();
  if (sh && poisoned()) return ERR_POISONED;
  const claimed = claimNode(sh, thr, l, OP_SYNC0);
  if (claimed < 0) return claimed;
  const node = <usize>claimed;
  const t = tableOf(l);
  const kind = syncKind(t, load<u32>(t + T_NMODES));
  planSame(thr, l, t);
  const value = load<u32>(t + S_VALUE);
  const phase = load<u32>(t + S_PHASE);
  let r: i32 = 0;
  let wait = false;
  if (kind != SK_BARRIER && kind != SK_LATCH) r = ERR_MODE;
  else if (load<u32>(t + S_BROKEN) != 0) r = ERR_BROKEN;
  else if (kind == SK_BARRIER) {
    store<u32>(thr + R_OUT_INDEX, value);
    store<u32>(thr + R_OUT_PHASE, phase);
    if (value + 1 >= load<u32>(t + S_PARTIES)) {
      // The last party: the phase completes, its waiters are granted.
      store<u32>(thr + RS_VALUE, 0);
      store<u32>(thr + RS_PHASE, phase + 1);
      planLimit(thr, UNLIMITED, 0);
    } else {
      store<u32>(thr + RS_VALUE, value + 1);
      wait = true;
    }
  } else {
    const next = value > 0 ? value - 1 : 0;
    store<u32>(thr + RS_VALUE, next);
    if (next == 0) planLimit(thr, UNLIMITED, UNLIMITED);
    else wait = true;
  }
  if (r < 0) {
    done(sh, thr);
    dropWord(l);
    cachePush(thr, node);
    return r;
  }
  if (wait) {
    // The node's own fields, before the commit: a redo only links it.
    store<u32>(node + N_LOCK, <u32>l);
    store<u32>(node + N_OWNER, <u32>thr);
    store<u32>(node + N_WEIGHT, 1);
    const gen = load<u32>(node + N_CTL) & ~((1 << CTL_GEN_SHIFT) - 1);
    store<u32>(node + N_CTL, gen | ST_WAITING);
    store<u32>(thr + RS_FLAGS, RSF_ENQUEUE);
    store<u32>(thr + R_INODE, <u32>node); // apply() reads it (intent() skips it while unshared)
  } else {
    cachePush(thr, node); // never published: its generation is unchanged
  }
  commit(sh, thr, l);
  return wait ? <i32>(node | QUEUED_BIT) : 0;
}

/** Releases a sync waiter's grant (node, gen); a Notify waiter's consumes the
 *  permit it was granted by (LIMIT -= its weight, before the hold goes: a
 *  stop in between leaves a hold the reaper removes, the permit consumed).
 *  Returns self-grants, ERR_STALE or ERR_RETRY. */
export function syncRelease(thr: usize, node: usize, gen: u32): i32 {
  const sh = isShared();
  const began = beginRelease(sh, thr, node, gen);
  if (began < 0) return began;
  const l = <usize>began;
  const t = tableOf(l);
  if (syncKind(t, load<u32>(t + T_NMODES)) == SK_NOTIFY) {
    const limit = load<u32>(t + S_LIMIT);
    const w = load<u32>(node + N_WEIGHT);
    store<u32>(t + S_LIMIT, limit > w ? limit - w : 0);
  }
  removeHold(l, node);
  return finishOwn(sh, thr, l, node, load<u32>(l + L_HEAD) != 0);
}

// ---------------------------------------------------------------- condition

/** Condition wait: the caller's held node (node, gen) on a mutex leaves the
 *  mutex's holds and waits on cond's queue, in one step under both words;
 *  the mutex's waiters are granted. Returns self-grants, ERR_STALE (not
 *  held), ERR_RETRY. */
export function condWait(thr: usize, cond: usize, node: usize, gen: u32): i32 {
  const ctl0 = atomic.load<u32>(node + N_CTL);
  if ((ctl0 & CTL_STATE_MASK) != ST_HELD || genOf(ctl0) != gen || <usize>load<u32>(node + N_OWNER) != thr) {
    return ERR_STALE;
  }
  const sh = isShared();
  if (sh && poisoned()) return ERR_POISONED;
  const mutex = <usize>load<u32>(node + N_LOCK);
  if (sh) store<u32>(thr + R_ILOCK2, <u32>mutex);
  intent(sh, thr, OP_CONDWAIT, cond, node);
  if (!takeBoth(sh, thr, cond, mutex)) return ERR_RETRY;
  removeHold(mutex, node); // commits: in flight
  store<u32>(node + N_LOCK, <u32>cond);
  store<u32>(node + N_CTL, (ctl0 & ~(CTL_STATE_MASK | CTL_ABANDONED)) | ST_WAITING);
  enqueue(cond, node); // commits: waiting on cond
  const mine = load<u32>(mutex + L_HEAD) != 0 ? grantWaiters(thr, mutex) : 0;
  changed(mutex);
  done(sh, thr);
  dropWord(mutex);
  dropWord(cond);
  wakeWatchers(mutex);
  return mine;
}

// Takes the condition's WORD, then the mutex's (the condition operations'
// lock order); false, with neither held and the intent cleared, when busy.
function takeBoth(sh: bool, thr: usize, cond: usize, mutex: usize): bool {
  if (!takeWord(thr, cond)) {
    done(sh, thr);
    return false;
  }
  if (!takeWord(thr, mutex)) {
    done(sh, thr);
    dropWord(cond);
    return false;
  }
  return true;
}

/** Moves waiters from cond's queue to the tail of mutex's queue, in FIFO
 *  order (wait morphing): the one waiter (node, gen) if node != 0 (a wait
 *  that gives up: 0 if it is no longer on cond, i.e. a notify moved it
 *  first), else the first n. Grants the mutex's waiters after. Returns how
 *  many moved, or ERR_RETRY / ERR_POISONED. The caller drains its inbox. */
export function condMove(thr: usize, cond: usize, mutex: usize, node: usize, gen: u32, n: u32): i32 {
  const sh = isShared();
  if (sh && poisoned()) return ERR_POISONED;
  if (sh) store<u32>(thr + R_ILOCK2, <u32>mutex);
  intent(sh, thr, OP_CONDMOVE, cond, 0);
  if (!takeBoth(sh, thr, cond, mutex)) return ERR_RETRY;
  let moved: u32 = 0;
  if (node != 0) {
    const ctl = atomic.load<u32>(node + N_CTL);
    if (
      (ctl & CTL_STATE_MASK) == ST_WAITING &&
      genOf(ctl) == gen &&
      <usize>load<u32>(node + N_LOCK) == cond
    ) {
      moveOne(sh, thr, cond, mutex, node);
      moved = 1;
    }
  } else {
    while (moved < n) {
      const head = <usize>load<u32>(cond + L_HEAD);
      if (head == 0) break;
      moveOne(sh, thr, cond, mutex, head);
      moved++;
    }
  }
  if (moved != 0) {
    grantWaiters(thr, mutex);
    changed(mutex);
  }
  done(sh, thr);
  dropWord(mutex);
  dropWord(cond);
  if (moved != 0) wakeWatchers(mutex);
  return <i32>moved;
}

// Under both words: one waiter from cond's queue to mutex's tail.
function moveOne(sh: bool, thr: usize, cond: usize, mutex: usize, node: usize): void {
  if (sh) {
    store<u32>(thr + RS_VALUE, genOf(load<u32>(node + N_CTL)));
    store<u32>(thr + R_INODE, <u32>node);
  }
  unlinkWaiter(cond, node); // commits: in flight
  store<u32>(node + N_LOCK, <u32>mutex);
  enqueue(mutex, node); // commits: waiting on the mutex
}

// ---------------------------------------------------------------- recovery

/** With l's WORD seized from a dead thread and l repaired (reapers only):
 *  applies every dead thread's committed OP_SYNC record on l. */
export function syncRedo(thr: usize, l: usize): void {
  let x = <usize>load<u32>(H_THREADS);
  while (x != 0) {
    if (
      threadState(x) == TS_DEAD &&
      load<u32>(x + R_OP) == OP_SYNC &&
      <usize>load<u32>(x + R_ILOCK) == l
    ) {
      apply(thr, x, l);
      // Done; INODE (if any) is settled like a request's node.
      store<u32>(x + R_OP, OP_SYNC0);
    }
    x = <usize>load<u32>(x + R_NEXT);
  }
  // A latch or barrier waiter of a dead thread (perhaps one that stopped in
  // the middle of cancelling, which breaks it) breaks it now, before any
  // grant loop could grant that waiter as if it had passed.
  const limit = (atomic.load<u32>(H_TOP) >>> 5) + 1;
  let p = <usize>load<u32>(l + L_HEAD);
  for (let i: u32 = 0; p != 0 && i < limit; i++) {
    if (threadState(<usize>load<u32>(p + N_OWNER)) == TS_DEAD) {
      syncPartyDied(l);
      break;
    }
    p = <usize>load<u32>(p + N_NEXT);
  }
}

/** Under l's WORD, before a waiting node leaves l without being granted (a
 *  cancel: a wait that timed out or was aborted; or the reaper removing a
 *  dead thread's wait): a latch or barrier party that goes away breaks it.
 *  Idempotent (a stop after it leaves the node linked, and whoever removes
 *  it repeats this). Returns whether l is (now) a broken latch or barrier,
 *  whose waiters the caller's grant loop must then fail. */
export function syncPartyDied(l: usize): bool {
  const t = tableOf(l);
  const kind = syncKind(t, load<u32>(t + T_NMODES));
  if (kind != SK_LATCH && kind != SK_BARRIER) return false;
  if (load<u32>(t + S_BROKEN) != 0) return true;
  if (kind == SK_LATCH && load<u32>(t + S_VALUE) == 0) return false;
  if (kind == SK_BARRIER) store<u32>(t + S_VALUE, 0);
  store<u32>(l + L_FLAGS, load<u32>(l + L_FLAGS) | LF_ABANDONED);
  store<u32>(t + S_LIMIT, UNLIMITED); // the caller's grant loop fails every waiter
  store<u32>(t + S_BROKEN, 1); // last: a repeat after a stop before it redoes the rest
  return true;
}

/** Reaper, under l's WORD, before it removes dead thread's held node from l:
 *  a Notify notification granted to a thread that died before consuming it
 *  is passed on, but (as for notifyOne) at most one permit is ever stored.
 *  Idempotent (the node is still held if a reaper stops after this). */
export function syncHolderDied(l: usize, node: usize): void {
  const t = tableOf(l);
  if (syncKind(t, load<u32>(t + T_NMODES)) != SK_NOTIFY) return;
  const after = load<u32>(l + L_HELD) - load<u32>(node + N_WEIGHT); // HELD once it is gone
  if (load<u32>(t + S_LIMIT) > after + 1) store<u32>(t + S_LIMIT, after + 1);
}

/** Whether a dead holder of l makes the next grant "abandoned": for plain
 *  locks and limiters yes; a sync waiter's grant guards nothing. */
export function abandonsOnDeath(l: usize): bool {
  const t = tableOf(l);
  const kind = syncKind(t, load<u32>(t + T_NMODES));
  return kind == 0 || kind == SK_LIMITER;
}

/** Whether l is a Condition's queue. */
export function isCond(l: usize): bool {
  const t = tableOf(l);
  return syncKind(t, load<u32>(t + T_NMODES)) == SK_COND;
}
