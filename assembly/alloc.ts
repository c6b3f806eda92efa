// The allocator and everything else guarded by the header's ALLOC word: free
// lists, the thread, lock and table registries, and reference counts. Every
// write under ALLOC goes through txStore() (words.ts), so a thread that dies
// inside one of these transactions is rolled back by the reaper as if it had
// never started.
//
// Segregated free lists, one per size class (32 << c bytes), over a bump
// pointer; the free link is the block's word 4 (a node's LOCK), so a node's
// CTL (and its generation) survives a trip through the free list. Class 0
// holds only nodes and handles (which leave word 0 alone), so a node's
// generation is never overwritten by another kind of block.
//
// Per-thread node cache: a chain through N_LOCK from R_CACHE, touched only by
// its thread (and by reapers once the thread is dead). Pops and pushes commit
// with the single store to R_CACHE; nodes move between a cache and the free
// list only inside ALLOC transactions.

import {
  ERR_NOMEM,
  ERR_RETRY,
  H_ALLOC,
  H_FREE,
  H_LIVE,
  H_LOCKS,
  H_MAXBYTES,
  H_TABLES,
  H_THREADS,
  H_TOP,
  HD_LOCK,
  HD_NEXT,
  HD_PREV,
  HEADER_SIZE,
  L_CREATOR,
  L_HELD,
  L_LNEXT,
  L_LPREV,
  L_REFS,
  L_TABLE,
  MIN_BLOCK,
  N_LOCK,
  PAGE,
  R_ALIVE,
  R_CACHE,
  R_CANBLOCK,
  R_HANDLES,
  R_NCACHE,
  R_NEXT,
  R_TID,
  S_KIND,
  T_CONFLICT,
  T_CREATOR,
  T_NEXT,
  T_NMODES,
  T_REFS,
  THREAD_CACHE_MAX,
  THREAD_ALIGN,
  THREAD_SIZE,
  TS_ALIVE,
  TS_MASK,
} from "./layout";
import { unname } from "./names";
import { allocDone, pushLockFree, takeWord, txCommit, txStore } from "./words";

/** Whether p can be a block: inside the heap and aligned. */
// @ts-expect-error: decorator
@inline export function inHeap(p: usize): bool {
  return p >= <usize>HEADER_SIZE && p < <usize>atomic.load<u32>(H_TOP) && (p & <usize>(MIN_BLOCK - 1)) == 0;
}

// @ts-expect-error: decorator
@inline export function classOf(bytes: u32): i32 {
  return bytes <= <u32>MIN_BLOCK ? 0 : <i32>(32 - clz<u32>((bytes - 1) >> 5));
}

// Tables never use class 0, which is kept for nodes (see above).
// @ts-expect-error: decorator
@inline export function tableClass(n: u32): i32 {
  return max(1, classOf(T_CONFLICT + 8 * n));
}

// @ts-expect-error: decorator
@inline export function lockBytes(n: u32): u32 {
  return L_HELD + (n << 2);
}

// Carves size bytes off the top of the heap, lock-free (attach() needs that
// before the thread has a record to stamp ALLOC with). Never undone: a
// transaction rolled back after a bump leaves that one block unused.
// Returns 0 at the memory maximum.
export function bump(size: usize): usize {
  while (true) {
    const top = <usize>atomic.load<u32>(H_TOP);
    const end = top + size;
    if (end > <usize>load<u32>(H_MAXBYTES)) return 0;
    const have = <usize>memory.size() * PAGE;
    // Growing is atomic; two threads growing at once only over-grow a page.
    if (end > have && memory.grow(<i32>((end - have + PAGE - 1) / PAGE)) < 0) return 0;
    if (atomic.cmpxchg<u32>(H_TOP, <u32>top, <u32>end) == <u32>top) return top;
  }
}

// Under ALLOC, in thr's transaction: a block of class cls, or 0 (no memory).
export function allocLocked(thr: usize, cls: i32): usize {
  const slot = <usize>(H_FREE + (cls << 2));
  let p = <usize>load<u32>(slot);
  if (p != 0) {
    txStore(thr, slot, load<u32>(p + 4));
  } else {
    p = bump(<usize>MIN_BLOCK << cls);
    if (p == 0) return 0;
  }
  txStore(thr, H_LIVE, load<u32>(H_LIVE) + 1);
  return p;
}

// Under ALLOC, in thr's transaction.
// @ts-expect-error: decorator
@inline export function freeLocked(thr: usize, p: usize, cls: i32): void {
  const slot = <usize>(H_FREE + (cls << 2));
  txStore(thr, p + 4, load<u32>(slot));
  txStore(thr, slot, <u32>p);
  txStore(thr, H_LIVE, load<u32>(H_LIVE) - 1);
}

// ---------------------------------------------------------------- node cache

const REFILL = 8; // nodes moved from the free list per refill transaction
const MOVE = 10; // nodes moved back per trim transaction (4 log entries each)

/** Fills thr's empty cache. Returns 0, ERR_NOMEM or ERR_RETRY. */
export function refill(thr: usize): i32 {
  if (!takeWord(thr, H_ALLOC)) return ERR_RETRY;
  // The new nodes are chained in the order they were carved, so that the
  // cache hands them out by ascending address: the binding keeps its waiters
  // in an array indexed by node address, which stays dense that way (popping
  // them in descending order made every drain of a long queue ~2x slower).
  let got = 0;
  let first: usize = 0;
  let last: usize = 0;
  for (; got < REFILL; got++) {
    const p = allocLocked(thr, 0);
    if (p == 0) break;
    if (last != 0) txStore(thr, last + N_LOCK, <u32>p);
    else first = p;
    last = p;
  }
  if (got != 0) {
    txStore(thr, last + N_LOCK, load<u32>(thr + R_CACHE));
    txStore(thr, thr + R_CACHE, <u32>first);
  }
  allocDone(thr);
  store<u32>(thr + R_NCACHE, load<u32>(thr + R_NCACHE) + got);
  return got == 0 ? ERR_NOMEM : 0;
}

/** Moves nodes of `from`'s cache to the free list until at most `keep` stay.
 *  thr runs the transactions (from is thr, or a dead thread being reaped).
 *  Call with ALLOC held. */
export function cacheToFree(thr: usize, from: usize, keep: u32): void {
  let n = load<u32>(from + R_NCACHE);
  let moved = 0;
  let p = <usize>load<u32>(from + R_CACHE);
  while (p != 0 && (keep == 0 || n > keep)) {
    txStore(thr, from + R_CACHE, load<u32>(p + N_LOCK));
    freeLocked(thr, p, 0);
    if (n > 0) n--;
    // One transaction per MOVE nodes keeps within the undo log.
    if (++moved % MOVE == 0) txCommit(thr);
    p = <usize>load<u32>(from + R_CACHE);
  }
  store<u32>(from + R_NCACHE, n);
}

/** Returns cache overflow to the free list; skipped when ALLOC is busy. */
export function trimCache(thr: usize): void {
  if (load<u32>(thr + R_NCACHE) <= <u32>THREAD_CACHE_MAX) return;
  if (!takeWord(thr, H_ALLOC)) return;
  cacheToFree(thr, thr, THREAD_CACHE_MAX >> 1);
  allocDone(thr);
}

// ---------------------------------------------------------------- threads
// Thread records are never returned to the free lists: a reaped record goes
// back to FREE in the thread list, and attach() claims a FREE one before it
// carves a new one. That is what lets attach() work before its thread has a
// record: claiming is one compare-and-swap that also stamps the record with
// the thread's id, and a new record is linked with one lock-free push.

/** Registers the calling thread; returns its record, or 0 (no memory). */
export function attach(tid: i32, canBlock: i32): usize {
  const stamp = ((<u32>tid) << 2) | TS_ALIVE;
  let t = <usize>atomic.load<u32>(H_THREADS);
  while (t != 0) {
    if (atomic.load<u32>(t + R_ALIVE) == 0 && atomic.cmpxchg<u32>(t + R_ALIVE, 0, stamp) == 0) break;
    t = <usize>load<u32>(t + R_NEXT);
  }
  const fresh = t == 0;
  if (fresh) {
    // Blocks are 32-byte aligned: carve half a line more and align to a line.
    t = bump(THREAD_SIZE + THREAD_ALIGN - MIN_BLOCK);
    if (t == 0) return 0;
    t = (t + THREAD_ALIGN - 1) & ~(<usize>THREAD_ALIGN - 1);
  }
  // Everything but ALIVE and NEXT: nobody reads a record's other words
  // before its thread first uses it.
  memory.fill(t, 0, R_ALIVE);
  memory.fill(t + R_ALIVE + 4, 0, R_NEXT - R_ALIVE - 4);
  memory.fill(t + R_NEXT + 4, 0, THREAD_SIZE - R_NEXT - 4);
  store<i32>(t + R_TID, tid);
  store<u32>(t + R_CANBLOCK, canBlock != 0 ? 1 : 0);
  if (fresh) {
    atomic.store<u32>(t + R_ALIVE, stamp);
    pushLockFree(H_THREADS, t, R_NEXT);
  }
  return t;
}

/** The state of a thread record (TS_*), without its id. */
// @ts-expect-error: decorator
@inline export function threadState(t: usize): u32 {
  return atomic.load<u32>(t + R_ALIVE) & TS_MASK;
}

// ---------------------------------------------------------------- tables
// The thread that creates a table keeps one reference (its binding caches the
// table for every lock of that shape) until it dies; each lock keeps one.

/** A table of n modes, all compatible and unlimited until tableSet().
 *  Returns the table, 0 (no memory) or ERR_RETRY. */
export function tableNew(thr: usize, n: i32): i32 {
  if (n < 1 || n > 32) return 0;
  if (!takeWord(thr, H_ALLOC)) return ERR_RETRY;
  const t = allocLocked(thr, tableClass(n));
  if (t != 0) {
    txStore(thr, t + T_REFS, 1);
    store<u32>(t + T_NMODES, n);
    if (n == 1) store<u32>(t + S_KIND, 0); // a plain table, not a sync object's (layout.ts)
    store<u32>(t + T_CREATOR, <u32>thr);
    for (let m = 0; m < n; m++) {
      store<u32>(t + T_CONFLICT + (m << 2), 0);
      store<u32>(t + T_CONFLICT + ((n + m) << 2), u32.MAX_VALUE);
    }
    store<u32>(t + T_NEXT, load<u32>(H_TABLES));
    txStore(thr, H_TABLES, <u32>t);
  }
  allocDone(thr);
  return <i32>t;
}

/** Fills row m before the table is used. The binding symmetrises. */
export function tableSet(t: usize, m: i32, conflicts: u32, limit: u32): void {
  const n = load<i32>(t + T_NMODES);
  store<u32>(t + T_CONFLICT + (m << 2), conflicts);
  store<u32>(t + T_CONFLICT + ((n + m) << 2), limit);
}

// Under ALLOC: drops one reference to table t; the last frees it.
export function tableUnref(thr: usize, t: usize): void {
  const refs = load<u32>(t + T_REFS) - 1;
  txStore(thr, t + T_REFS, refs);
  if (refs != 0) return;
  let at = <usize>H_TABLES;
  while (<usize>load<u32>(at) != t) at = <usize>load<u32>(at) + T_NEXT;
  txStore(thr, at, load<u32>(t + T_NEXT));
  freeLocked(thr, t, tableClass(load<u32>(t + T_NMODES)));
}

/** Drops thr's creator reference to table t (its binding no longer caches
 *  it). 0 or ERR_RETRY. */
export function tableDrop(thr: usize, t: usize): i32 {
  if (!takeWord(thr, H_ALLOC)) return ERR_RETRY;
  if (<usize>load<u32>(t + T_CREATOR) == thr) {
    txStore(thr, t + T_CREATOR, 0);
    tableUnref(thr, t);
  }
  allocDone(thr);
  return 0;
}

// ---------------------------------------------------------------- locks
// A lock's references: its creator's (L_CREATOR: the thread whose binding
// object made it and has not shared it) and one per handle. The last dropped
// frees it; a lock with holders or waiters always has a reference left (each
// requester's binding keeps one).

/** A new lock on table t, referenced by thr as its creator. Returns the lock,
 *  0 (no memory) or ERR_RETRY. */
export function lockNew(thr: usize, t: usize): i32 {
  if (!takeWord(thr, H_ALLOC)) return ERR_RETRY;
  const l = lockLocked(thr, t, thr);
  allocDone(thr);
  return <i32>l;
}

// Under ALLOC: a new lock on table t with one reference, its creator's
// (a thread record, or a name entry | 1); 0 when out of memory.
export function lockLocked(thr: usize, t: usize, creator: usize): usize {
  const bytes = lockBytes(load<u32>(t + T_NMODES));
  const l = allocLocked(thr, classOf(bytes));
  if (l != 0) {
    txStore(thr, l + L_TABLE, <u32>t);
    store<u32>(l, 0);
    memory.fill(l + 8, 0, bytes - 8);
    store<u32>(l + L_REFS, 1);
    store<u32>(l + L_CREATOR, <u32>creator);
    const first = load<u32>(H_LOCKS);
    store<u32>(l + L_LNEXT, first);
    if (first != 0) txStore(thr, first + L_LPREV, <u32>l);
    txStore(thr, H_LOCKS, <u32>l);
    txStore(thr, t + T_REFS, load<u32>(t + T_REFS) + 1);
  }
  return l;
}

// Under ALLOC: drops one reference to lock l; the last frees it. A named
// lock left with only its name's reference is unnamed and freed too (every
// user holds a handle, so no one holds or awaits it).
export function lockUnref(thr: usize, l: usize): void {
  let refs = load<u32>(l + L_REFS) - 1;
  const creator = <usize>load<u32>(l + L_CREATOR);
  if (refs == 1 && (creator & 1) != 0) {
    unname(thr, creator & ~(<usize>1));
    txStore(thr, l + L_CREATOR, 0);
    refs = 0;
  }
  txStore(thr, l + L_REFS, refs);
  if (refs != 0) return;
  const t = <usize>load<u32>(l + L_TABLE);
  const prev = load<u32>(l + L_LPREV);
  const next = load<u32>(l + L_LNEXT);
  if (prev != 0) txStore(thr, prev + L_LNEXT, next);
  else txStore(thr, H_LOCKS, next);
  if (next != 0) txStore(thr, next + L_LPREV, prev);
  freeLocked(thr, l, classOf(lockBytes(load<u32>(t + T_NMODES))));
  tableUnref(thr, t);
}

/** Drops thr's creator reference to l. 0 or ERR_RETRY. */
export function lockDrop(thr: usize, l: usize): i32 {
  if (!takeWord(thr, H_ALLOC)) return ERR_RETRY;
  txStore(thr, l + L_CREATOR, 0);
  lockUnref(thr, l);
  allocDone(thr);
  return 0;
}

// Under ALLOC: a handle of thr on l, holding one reference. owned: the
// reference is thr's creator reference, turned into the handle's.
export function handleLocked(thr: usize, l: usize, owned: bool): usize {
  const h = allocLocked(thr, 0);
  if (h == 0) return 0;
  store<u32>(h + HD_LOCK, <u32>l);
  const first = load<u32>(thr + R_HANDLES);
  store<u32>(h + HD_PREV, 0);
  store<u32>(h + HD_NEXT, first);
  if (first != 0) txStore(thr, first + HD_PREV, <u32>h);
  txStore(thr, thr + R_HANDLES, <u32>h);
  if (owned) txStore(thr, l + L_CREATOR, 0);
  else txStore(thr, l + L_REFS, load<u32>(l + L_REFS) + 1);
  return h;
}

/** Records that thread thr holds a reference to the shared lock l (and takes
 *  it; with owned != 0, turns its creator reference into it), so that the
 *  reference is dropped if the thread dies. The handle, 0 (no memory) or
 *  ERR_RETRY. */
export function handleNew(thr: usize, l: usize, owned: i32): i32 {
  if (!takeWord(thr, H_ALLOC)) return ERR_RETRY;
  const h = handleLocked(thr, l, owned != 0);
  allocDone(thr);
  return <i32>h;
}

// Under ALLOC: unlinks handle h of thread owner, frees it, drops its reference.
export function handleUnref(thr: usize, owner: usize, h: usize): void {
  const l = <usize>load<u32>(h + HD_LOCK);
  const prev = load<u32>(h + HD_PREV);
  const next = load<u32>(h + HD_NEXT);
  if (prev != 0) txStore(thr, prev + HD_NEXT, next);
  else txStore(thr, owner + R_HANDLES, next);
  if (next != 0) txStore(thr, next + HD_PREV, prev);
  freeLocked(thr, h, 0);
  lockUnref(thr, l);
}

/** Gives back a reference taken by handleNew. 0 or ERR_RETRY. */
export function handleDrop(thr: usize, h: usize): i32 {
  if (!takeWord(thr, H_ALLOC)) return ERR_RETRY;
  handleUnref(thr, thr, h);
  allocDone(thr);
  return 0;
}
