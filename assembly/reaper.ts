// The reaper: releases everything a dead thread held, withdraws its waits,
// drops its references and recycles its record. Any live thread may reap; one
// at a time (the header's REAP word). A reaper may itself die at any point:
// every step below is idempotent, so the next reaper (which seizes REAP,
// ALLOC and each lock's WORD from the dead one, repairing what they guard:
// see words.ts and queue.ts) simply runs them again.
//
// State of a thread record (R_ALIVE, low two bits; the thread's id above):
//
//   FREE  (0)  recycled; attach() may claim it
//   ALIVE (1)  attached                       set by attach()
//   DEAD  (2)  ended; waiting to be reaped    set by markDead() (the binding,
//                                             on the thread's exit event)
//
// Intent record of a thread (layout.ts: OP, ILOCK, INODE), as step 1 reads it.
// The owner writes ILOCK and INODE, then OP, before the operation's first
// shared write, and clears OP after its last; only the owner writes it while
// alive, only reapers once it is DEAD.
//
//   OP        written by            INODE is                   after a stop it is
//   NONE      -                     -                          nothing to settle
//   REQUEST   acquire, tryAcquire   the caller's node, being   in the cache, linked on ILOCK,
//                                   popped from its cache      or in flight
//   RELEASE   release               the caller's held node     linked (held), in the cache,
//                                                              or in flight
//   CANCEL    cancel                the caller's waiting node  linked (waiting or just
//                                                              granted), in the cache, or in flight
//   REAPNODE  a reaper              a dead thread's node it    linked, in that thread's
//                                   is removing                cache, or in flight
//   SYNC0     syncOp, syncArrive    0, or the caller's node    nothing written to ILOCK yet;
//             (sync.ts)             for a waiter               the node as for REQUEST
//   SYNC      syncOp, syncArrive    as SYNC0; the redo record  ILOCK's WORD held by the dead
//                                   (RS_*) is complete         thread: enterLock applies the
//                                                              record (syncRedo) on seizing it
//   CONDWAIT  condWait              the caller's held node,    held on ILOCK2 (the mutex),
//                                   moving to ILOCK's queue    in flight, or waiting on ILOCK
//   CONDMOVE  condMove              a waiter (any thread's)    on ILOCK's queue, in flight
//                                   moving to ILOCK2's queue   (settleCond finishes the
//                                                              move), or on ILOCK2's queue
//
// "Linked" nodes are the dead thread's holds and waits, which step 2 removes;
// "in flight" ones go back to their owner's cache; a record left over from an
// operation that finished (OP not yet cleared) names a node that is linked or
// cached, so settling it changes nothing. IGRANT and IGEN (a grant loop's node)
// are settled by repairLock() when a lock's word is seized (queue.ts).
//
// reapAll(), with REAP and ALLOC held (ALLOC seized from a dead holder is first
// rolled back: undoAll()):
//   1. For every DEAD thread, settle the node its intent record names (its
//      own node in REQUEST / RELEASE / CANCEL, or, for a reaper that died, the
//      dead thread's node it was removing): if the node is linked on its lock
//      or in its owner's cache, nothing is lost; otherwise it goes back into
//      its owner's cache. All of these run before any record is recycled in 2,
//      since the owner of a reaper's in-flight node is the thread it reaped.
//   2. For every DEAD thread x:
//      a. on every lock: remove x's holds (the lock becomes ABANDONED) and
//         waits into x's cache, and grant what that lets through;
//      b. drop x's handles, its creator references to locks and tables;
//      c. move x's cache to the free list;
//      d. mark the record FREE (no word is stamped with it any more: every
//         word it held was seized on the way).

import { cacheToFree, handleUnref, inHeap, lockUnref, tableUnref, threadState } from "./alloc";
import {
  CTL_GEN_SHIFT,
  CTL_STATE_MASK,
  ERR_POISONED,
  ERR_RETRY,
  H_ALLOC,
  H_LOCKS,
  H_REAP,
  H_TABLES,
  H_THREADS,
  H_TOP,
  L_CREATOR,
  L_FLAGS,
  L_HEAD,
  L_HOLDS,
  L_LNEXT,
  LF_ABANDONED,
  N_CTL,
  N_HNEXT,
  N_LOCK,
  N_NEXT,
  N_OWNER,
  OP_CONDMOVE,
  OP_CONDWAIT,
  OP_NONE,
  OP_REAPNODE,
  OP_SYNC,
  OP_SYNC0,
  R_ALIVE,
  R_CACHE,
  R_HANDLES,
  R_NAMEBUF,
  ST_HELD,
  R_IGRANT,
  R_ILOCK,
  R_ILOCK2,
  R_INBOX,
  R_INODE,
  R_NEXT,
  R_OP,
  RS_VALUE,
  ST_WAITING,
  T_CREATOR,
  T_NEXT,
  TS_ALIVE,
  TS_DEAD,
} from "./layout";
import { freeChain } from "./names";
import { changed, grantWaiters, nodeFree, removeHold, repairLock, unlinkWaiter, wakeWatchers } from "./queue";
import { abandonsOnDeath, enqueue, queued, syncHolderDied, syncPartyDied, syncRedo } from "./sync";
import { allocDone, dropWord, poisoned, SEIZE_BUSY, SEIZE_DEAD, seizeWord, txCommit, txStore, undoAll } from "./words";

/** Marks the live thread whose id is tid as dead. Returns 1 if one was found. */
export function markDead(tid: i32): i32 {
  const alive = ((<u32>tid) << 2) | TS_ALIVE;
  let t = <usize>atomic.load<u32>(H_THREADS);
  while (t != 0) {
    if (atomic.load<u32>(t + R_ALIVE) == alive) {
      return atomic.cmpxchg<u32>(t + R_ALIVE, alive, ((<u32>tid) << 2) | TS_DEAD) == alive ? 1 : 0;
    }
    t = <usize>load<u32>(t + R_NEXT);
  }
  return 0;
}

/** Whether any thread is marked dead and not yet reaped. */
export function deadPending(): i32 {
  let t = <usize>atomic.load<u32>(H_THREADS);
  while (t != 0) {
    if (threadState(t) == TS_DEAD) return 1;
    t = <usize>load<u32>(t + R_NEXT);
  }
  return 0;
}

/** Reaps every thread marked dead. Returns how many grants went to thr
 *  (>= 0) once all are reaped; ERR_RETRY when a word it needs stayed busy
 *  (the work done so far stands: call again later); ERR_POISONED. */
export function reapAll(thr: usize): i32 {
  if (poisoned()) return ERR_POISONED;
  if (seizeWord(thr, H_REAP) == SEIZE_BUSY) return ERR_RETRY;
  const a = seizeWord(thr, H_ALLOC);
  if (a == SEIZE_BUSY) {
    dropWord(H_REAP);
    return ERR_RETRY;
  }
  if (a == SEIZE_DEAD) undoAll();
  let r = 0;
  let x = <usize>load<u32>(H_THREADS);
  while (r >= 0 && x != 0) {
    if (threadState(x) == TS_DEAD) r = settleIntent(thr, x, r);
    x = <usize>load<u32>(x + R_NEXT);
  }
  x = <usize>load<u32>(H_THREADS);
  while (r >= 0 && x != 0) {
    if (threadState(x) == TS_DEAD) r = reapOne(thr, x, r);
    x = <usize>load<u32>(x + R_NEXT);
  }
  allocDone(thr);
  dropWord(H_REAP);
  return poisoned() ? ERR_POISONED : r;
}

// ---------------------------------------------------------------- lock steps

// Takes l's WORD for the reaper; a word seized from a dead holder is repaired.
// Returns -1 (busy or beyond repair), 0 (taken), 1 (taken and repaired: the
// grant loop must run before the word is let go).
function enterLock(thr: usize, l: usize): i32 {
  const s = seizeWord(thr, l);
  if (s == SEIZE_BUSY) return -1;
  if (s == SEIZE_DEAD) {
    if (!repairLock(l)) return -1;
    syncRedo(thr, l); // a sync operation committed by the dead holder (sync.ts)
    return 1;
  }
  return 0;
}

// Lets l go; if it was touched, grants what that let through first. Returns
// the self-grants added to mine.
function leaveLock(thr: usize, l: usize, touched: bool, mine: i32): i32 {
  if (touched) {
    mine += grantWaiters(thr, l);
    changed(l);
  }
  dropWord(l);
  store<u32>(thr + R_OP, OP_NONE);
  if (touched) wakeWatchers(l);
  return mine;
}

// Whether node n is on a chain that starts at word `at` and continues at
// offset `link` of each element (bounded, so a corrupt chain cannot loop).
function onChain(at: usize, link: usize, n: usize): bool {
  const limit = (atomic.load<u32>(H_TOP) >>> 5) + 1;
  let p = <usize>load<u32>(at);
  for (let i: u32 = 0; p != 0 && i < limit; i++) {
    if (p == n) return true;
    p = <usize>load<u32>(p + link);
  }
  return false;
}

// Step 1 for dead thread x (see the top). Returns mine, or ERR_RETRY.
function settleIntent(thr: usize, x: usize, mine: i32): i32 {
  const op = load<u32>(x + R_OP);
  const n = <usize>load<u32>(x + R_INODE);
  const l = <usize>load<u32>(x + R_ILOCK);
  if (op == OP_CONDWAIT || op == OP_CONDMOVE) return settleCond(thr, x, op, mine);
  // A sync operation (sync.ts) may have no node, but its lock needs seizing:
  // enterLock applies its redo record if it stopped holding the word.
  const sync = op == OP_SYNC0 || op == OP_SYNC;
  if (op == OP_NONE || (!inHeap(n) && !sync) || !inHeap(l)) {
    store<u32>(x + R_OP, OP_NONE);
    return mine;
  }
  const s = enterLock(thr, l);
  if (s < 0) return poisoned() ? ERR_POISONED : ERR_RETRY;
  const owner = op == OP_REAPNODE ? <usize>load<u32>(n + N_OWNER) : x;
  if (
    inHeap(n) &&
    !onChain(l + L_HEAD, N_NEXT, n) &&
    !onChain(l + L_HOLDS, N_HNEXT, n) &&
    threadState(owner) == TS_DEAD &&
    !onChain(owner + R_CACHE, N_LOCK, n)
  ) {
    nodeFree(owner, n);
  }
  mine = leaveLock(thr, l, s > 0, mine);
  store<u32>(x + R_OP, OP_NONE);
  return mine;
}

// Step 2 for dead thread x. Returns mine, or ERR_RETRY / ERR_POISONED.
function reapOne(thr: usize, x: usize, mine: i32): i32 {
  let l = <usize>load<u32>(H_LOCKS);
  while (l != 0) {
    const s = enterLock(thr, l);
    if (s < 0) return poisoned() ? ERR_POISONED : ERR_RETRY;
    let touched = s > 0;
    let p = <usize>load<u32>(l + L_HOLDS);
    while (p != 0) {
      const next = <usize>load<u32>(p + N_HNEXT);
      if (<usize>load<u32>(p + N_OWNER) == x) {
        intentReap(thr, l, p);
        // A stolen hold no longer counted: its death abandons nothing.
        const counted = (load<u32>(p + N_CTL) & CTL_STATE_MASK) == ST_HELD;
        if (counted && abandonsOnDeath(l)) store<u32>(l + L_FLAGS, load<u32>(l + L_FLAGS) | LF_ABANDONED);
        syncHolderDied(l, p); // a Notify keeps at most one permit
        removeHold(l, p);
        nodeFree(x, p);
        touched = true;
      }
      p = next;
    }
    p = <usize>load<u32>(l + L_HEAD);
    while (p != 0) {
      const next = <usize>load<u32>(p + N_NEXT);
      if (<usize>load<u32>(p + N_OWNER) == x) {
        intentReap(thr, l, p);
        syncPartyDied(l); // a latch or barrier party died waiting: it breaks
        unlinkWaiter(l, p);
        nodeFree(x, p);
        touched = true;
      }
      p = next;
    }
    mine = leaveLock(thr, l, touched, mine);
    l = <usize>load<u32>(l + L_LNEXT);
  }
  // References, each drop its own transaction (ALLOC is held).
  let h = <usize>load<u32>(x + R_HANDLES);
  while (h != 0) {
    handleUnref(thr, x, h);
    txCommit(thr);
    h = <usize>load<u32>(x + R_HANDLES);
  }
  // A name buffer it was filling (names.ts).
  const nb = <usize>load<u32>(x + R_NAMEBUF);
  if (nb != 0) {
    freeChain(thr, nb);
    txStore(thr, x + R_NAMEBUF, 0);
    txCommit(thr);
  }
  l = <usize>load<u32>(H_LOCKS);
  while (l != 0) {
    const next = <usize>load<u32>(l + L_LNEXT);
    if (<usize>load<u32>(l + L_CREATOR) == x) {
      txStore(thr, l + L_CREATOR, 0);
      lockUnref(thr, l);
      txCommit(thr);
    }
    l = next;
  }
  let t = <usize>load<u32>(H_TABLES);
  while (t != 0) {
    const next = <usize>load<u32>(t + T_NEXT);
    if (<usize>load<u32>(t + T_CREATOR) == x) {
      txStore(thr, t + T_CREATOR, 0);
      tableUnref(thr, t);
      txCommit(thr);
    }
    t = next;
  }
  cacheToFree(thr, x, 0);
  txCommit(thr);
  store<u32>(x + R_IGRANT, 0);
  atomic.store<u32>(x + R_INBOX, 0);
  atomic.store<u32>(x + R_ALIVE, 0); // recycled: attach() may claim it
  return mine;
}

// @ts-expect-error: decorator
@inline function intentReap(thr: usize, l: usize, n: usize): void {
  store<u32>(thr + R_ILOCK, <u32>l);
  store<u32>(thr + R_INODE, <u32>n);
  store<u32>(thr + R_OP, OP_REAPNODE);
}

// Step 1 for a dead thread x that stopped in a Condition operation (sync.ts):
// with the condition's word and then the mutex's taken, an in-flight node is
// settled: condWait's (x's own) goes to x's cache; condMove's (a waiter,
// perhaps of a live thread) finishes its move to the mutex's queue.
function settleCond(thr: usize, x: usize, op: u32, mine: i32): i32 {
  const cond = <usize>load<u32>(x + R_ILOCK);
  const mutex = <usize>load<u32>(x + R_ILOCK2);
  const n = <usize>load<u32>(x + R_INODE);
  if (!inHeap(cond) || !inHeap(mutex)) {
    store<u32>(x + R_OP, OP_NONE);
    return mine;
  }
  const a = enterLock(thr, cond);
  if (a < 0) return poisoned() ? ERR_POISONED : ERR_RETRY;
  const b = enterLock(thr, mutex);
  if (b < 0) {
    mine = leaveLock(thr, cond, a > 0, mine);
    return poisoned() ? ERR_POISONED : ERR_RETRY;
  }
  let touched = b > 0;
  if (
    inHeap(n) &&
    !queued(cond, n) &&
    !queued(mutex, n) &&
    !onChain(mutex + L_HOLDS, N_HNEXT, n)
  ) {
    const ctl = load<u32>(n + N_CTL);
    if (op == OP_CONDWAIT) {
      if (!onChain(x + R_CACHE, N_LOCK, n)) nodeFree(x, n);
    } else if ((ctl & CTL_STATE_MASK) == ST_WAITING && ctl >>> CTL_GEN_SHIFT == load<u32>(x + RS_VALUE)) {
      store<u32>(n + N_LOCK, <u32>mutex);
      enqueue(mutex, n);
      touched = true;
    }
  }
  mine = leaveLock(thr, mutex, touched, mine);
  mine = leaveLock(thr, cond, a > 0, mine);
  store<u32>(x + R_OP, OP_NONE);
  return mine;
}
