// ringlock engine: strict-FIFO mode locks over one shared WebAssembly.Memory.
//
// The only code that knows the layout (assembly/layout.ts) and the grant rule.
// No managed objects, strings, throw or static data: every instance (one per
// thread) runs over the same memory, so all state lives there; wasm globals
// would belong to one thread only.
//
// Invariants (checked by validate() in the debug build, after every test step):
//  I1  MASK bit m is set iff HELD[m] > 0, and HELD[m] is the sum of WEIGHT over
//      the lock's HELD nodes of mode m; NHOLD counts them; HELD[m] <= LIMIT[m].
//  I2  No two held modes conflict (CONFLICT is symmetric).
//  I3  The queue HEAD..TAIL is doubly linked, holds exactly NWAIT WAITING nodes.
//  I4  Strict FIFO: if the queue is not empty, its head is not grantable
//      (after every state change the grant loop ran to the first refusal).
//
// Lock order: a lock's WORD, then (never the other way round) nothing.
// ALLOC is taken only with no WORD held, except by reap(), which holds ALLOC
// and then takes each WORD in turn; that is safe because no path takes ALLOC
// while holding a WORD (frees under a WORD go to the thread's cache and are
// trimmed to the global lists after the WORD is released).

import { grantable } from "./grant";
import {
  CTL_ABANDONED,
  CTL_GEN_SHIFT,
  CTL_MODE_MASK,
  CTL_MODE_SHIFT,
  CTL_STATE_MASK,
  ERR_GRANTED,
  ERR_RETRY,
  ERR_MODE,
  ERR_NOMEM,
  ERR_STALE,
  ERR_WEIGHT,
  H_ALLOC,
  H_FREE,
  HD_LOCK,
  HD_NEXT,
  HD_PREV,
  H_ID,
  H_SHARED,
  H_LIVE,
  H_LOCKS,
  H_MAGIC,
  H_MAXBYTES,
  H_READY,
  H_THREADS,
  H_TOP,
  H_VERSION,
  HEADER_SIZE,
  L_FLAGS,
  L_HEAD,
  L_HELD,
  L_HOLDS,
  L_LNEXT,
  L_LPREV,
  L_MASK,
  L_NHOLD,
  L_NWAIT,
  L_REFS,
  L_TABLE,
  L_TAIL,
  L_VERSION,
  L_WATCH,
  L_WORD,
  LAYOUT_VERSION,
  LF_ABANDONED,
  MAGIC_VALUE,
  MAX_MODES,
  MIN_BLOCK,
  N_CTL,
  N_HNEXT,
  N_HPREV,
  N_LOCK,
  N_NEXT,
  N_OWNER,
  N_PREV,
  N_WEIGHT,
  OK,
  PAGE,
  QUEUED_BIT,
  R_ALIVE,
  R_CACHE,
  R_HANDLES,
  R_INBOX,
  R_INSIDE,
  R_NCACHE,
  R_NEXT,
  R_TID,
  R_WAKE,
  SIZE_CLASSES,
  ST_FREE,
  ST_HELD,
  ST_WAITING,
  T_CONFLICT,
  T_NMODES,
  T_REFS,
  THREAD_CACHE_MAX,
  THREAD_SIZE,
} from "./layout";

// ---------------------------------------------------------------- spin words
// Drepper's futex mutex: 0 free, 1 held, 2 held and someone may sleep on it.
// Critical sections are a few hundred instructions, so spin first; sleep with
// a timeout so a holder that was killed mid-section cannot hang us for good
// (reap() clears such words).

const SPIN_LIMIT = 64;
const SLEEP_NS: i64 = 200_000;

// Whether another thread may touch the memory (see H_SHARED in layout.ts).
@inline function isShared(): bool {
  return load<u32>(H_SHARED) != 0;
}

@inline function wordLock(w: usize): void {
  if (isShared() && atomic.cmpxchg<u32>(w, 0, 1) != 0) wordLockSlow(0, w);
}

// Records in thr's INSIDE (unless thr is 0) that it now holds w. Every path
// that takes the word records it before any loop back-edge or call, where a
// terminated worker could stop (see enterWord).
function wordLockSlow(thr: usize, w: usize): void {
  for (let i = 0; i < SPIN_LIMIT; i++) {
    if (atomic.load<u32>(w) == 0 && atomic.cmpxchg<u32>(w, 0, 1) == 0) {
      if (thr != 0) store<u32>(thr + R_INSIDE, <u32>w);
      return;
    }
  }
  while (true) {
    if (atomic.xchg<u32>(w, 2) == 0) {
      if (thr != 0) store<u32>(thr + R_INSIDE, <u32>w);
      return;
    }
    atomic.wait<i32>(w, 2, SLEEP_NS);
  }
}

@inline function wordUnlock(w: usize): void {
  if (isShared() && atomic.xchg<u32>(w, 0) == 2) atomic.notify(w, 1);
}

// The same, for a thread's critical sections that contain loops or calls: a
// worker can be terminated only at such points (V8 checks for termination at
// wasm function entries and loop back-edges), so the thread records which
// word it holds in INSIDE, set right after it gets the word and cleared right
// before it lets go, with no such point in between. reap() takes over a word
// its dead owner held, and every loop below leaves its structure consistent at
// each back-edge.
@inline function enterWord(thr: usize, w: usize): void {
  if (!isShared()) return;
  if (atomic.cmpxchg<u32>(w, 0, 1) == 0) store<u32>(thr + R_INSIDE, <u32>w);
  else wordLockSlow(thr, w);
}

@inline function exitWord(thr: usize, w: usize): void {
  if (!isShared()) return;
  store<u32>(thr + R_INSIDE, 0);
  if (atomic.xchg<u32>(w, 0) == 2) atomic.notify(w, 1);
}

/** Called by the binding before the memory first leaves this thread. */
export function markShared(): void {
  atomic.store<u32>(H_SHARED, 1);
}

// ---------------------------------------------------------------- allocator
// Segregated free lists, one per size class (32 << c bytes), over a bump
// pointer; the free link is the block's second word, so a node's CTL (and its
// generation) survives a trip through the free list. Class 0 holds only nodes
// and handles (which leave word 0 alone), so a node's generation is never
// overwritten by another kind of block.

@inline function classOf(bytes: u32): i32 {
  return bytes <= <u32>MIN_BLOCK ? 0 : <i32>(32 - clz<u32>((bytes - 1) >> 5));
}

function blockAlloc(cls: i32): usize {
  const size = <usize>(MIN_BLOCK << cls);
  wordLock(H_ALLOC);
  const slot = <usize>(H_FREE + (cls << 2));
  let p = <usize>load<u32>(slot);
  if (p != 0) {
    store<u32>(slot, load<u32>(p + 4));
  } else {
    const top = <usize>load<u32>(H_TOP);
    const end = top + size;
    const have = <usize>memory.size() * PAGE;
    if (end > have) {
      const max = <usize>load<u32>(H_MAXBYTES);
      if (end > max) {
        wordUnlock(H_ALLOC);
        return 0;
      }
      const pages = <i32>((end - have + PAGE - 1) / PAGE);
      if (memory.grow(pages) < 0) {
        wordUnlock(H_ALLOC);
        return 0;
      }
    }
    store<u32>(H_TOP, <u32>end);
    p = top;
  }
  store<u32>(H_LIVE, load<u32>(H_LIVE) + 1);
  wordUnlock(H_ALLOC);
  return p;
}

// Caller holds ALLOC.
@inline function blockFreeLocked(p: usize, cls: i32): void {
  const slot = <usize>(H_FREE + (cls << 2));
  store<u32>(p + 4, load<u32>(slot));
  store<u32>(slot, <u32>p);
  store<u32>(H_LIVE, load<u32>(H_LIVE) - 1);
}

function blockFree(p: usize, cls: i32): void {
  wordLock(H_ALLOC);
  blockFreeLocked(p, cls);
  wordUnlock(H_ALLOC);
}

// Nodes come from the calling thread's cache (no shared lock), else class 0.
@inline function nodeAlloc(thr: usize): usize {
  const n = load<u32>(thr + R_NCACHE);
  if (n != 0) {
    const p = <usize>load<u32>(thr + R_CACHE);
    store<u32>(thr + R_CACHE, load<u32>(p + N_LOCK));
    store<u32>(thr + R_NCACHE, n - 1);
    return p;
  }
  return blockAlloc(0);
}

// Marks the node FREE with a new generation (stale handles now miss) and puts
// it in thr's cache. Safe under a WORD: it takes no shared lock.
@inline function nodeFree(thr: usize, node: usize): void {
  const ctl = load<u32>(node + N_CTL);
  store<u32>(node + N_CTL, ((ctl >>> CTL_GEN_SHIFT) + 1) << CTL_GEN_SHIFT);
  cachePush(thr, node);
}

@inline function cachePush(thr: usize, node: usize): void {
  store<u32>(node + N_LOCK, load<u32>(thr + R_CACHE));
  store<u32>(thr + R_CACHE, <u32>node);
  store<u32>(thr + R_NCACHE, load<u32>(thr + R_NCACHE) + 1);
}

// Returns cache overflow to the global list. Call with no WORD held.
function trimCache(thr: usize): void {
  let n = load<u32>(thr + R_NCACHE);
  if (n <= <u32>THREAD_CACHE_MAX) return;
  enterWord(thr, H_ALLOC);
  while (n > <u32>(THREAD_CACHE_MAX >> 1)) {
    const p = <usize>load<u32>(thr + R_CACHE);
    store<u32>(thr + R_CACHE, load<u32>(p + N_LOCK));
    store<u32>(thr + R_NCACHE, --n);
    blockFreeLocked(p, 0);
  }
  exitWord(thr, H_ALLOC);
}

// ---------------------------------------------------------------- engine

/** Initialises the header once per memory; every thread calls it. Returns the
 *  layout version found, or 0 when the memory holds something else. */
export function init(maxBytes: u32, id0: u32, id1: u32): u32 {
  const m = atomic.cmpxchg<u32>(H_MAGIC, 0, MAGIC_VALUE);
  if (m == 0) {
    store<u32>(H_VERSION, LAYOUT_VERSION);
    store<u32>(H_ID, id0);
    store<u32>(H_ID + 4, id1);
    store<u32>(H_MAXBYTES, maxBytes);
    store<u32>(H_TOP, HEADER_SIZE);
    atomic.store<u32>(H_READY, 1);
  } else if (m != MAGIC_VALUE) {
    return 0;
  } else {
    while (atomic.load<u32>(H_READY) == 0) atomic.wait<i32>(H_READY, 0, SLEEP_NS);
  }
  return atomic.load<u32>(H_VERSION);
}

/** Registers the calling thread; returns its thread record (0: out of memory). */
export function attach(tid: i32): usize {
  const t = blockAlloc(classOf(THREAD_SIZE));
  if (t == 0) return 0;
  memory.fill(t, 0, THREAD_SIZE);
  store<i32>(t + R_TID, tid);
  atomic.store<u32>(t + R_ALIVE, 1);
  wordLock(H_ALLOC);
  store<u32>(t + R_NEXT, load<u32>(H_THREADS));
  store<u32>(H_THREADS, <u32>t);
  wordUnlock(H_ALLOC);
  return t;
}

/** Blocks in use (for leak tests) and the bump pointer (bytes ever used). */
export function liveBlocks(): u32 {
  return atomic.load<u32>(H_LIVE);
}
export function heapTop(): u32 {
  return atomic.load<u32>(H_TOP);
}

// ---------------------------------------------------------------- mode tables

/** A table of n modes, all compatible and unlimited until tableSet(). */
// Tables never use class 0, which is kept for nodes (see the allocator).
@inline function tableClass(n: u32): i32 {
  return max(1, classOf(T_CONFLICT + 8 * n));
}

export function tableNew(n: i32): usize {
  if (n < 1 || n > MAX_MODES) return 0;
  const t = blockAlloc(tableClass(n));
  if (t == 0) return 0;
  store<u32>(t + T_NMODES, n);
  atomic.store<u32>(t + T_REFS, 1);
  for (let m = 0; m < n; m++) {
    store<u32>(t + T_CONFLICT + (m << 2), 0);
    store<u32>(t + T_CONFLICT + ((n + m) << 2), u32.MAX_VALUE);
  }
  return t;
}

/** Fills row m before the table is published. The binding symmetrises. */
export function tableSet(t: usize, m: i32, conflicts: u32, limit: u32): void {
  const n = load<i32>(t + T_NMODES);
  store<u32>(t + T_CONFLICT + (m << 2), conflicts);
  store<u32>(t + T_CONFLICT + ((n + m) << 2), limit);
}

export function tableRetain(t: usize): void {
  atomic.add<u32>(t + T_REFS, 1);
}

export function tableDrop(t: usize): void {
  if (atomic.sub<u32>(t + T_REFS, 1) == 1) {
    blockFree(t, tableClass(load<u32>(t + T_NMODES)));
  }
}

@inline function lockBytes(n: u32): u32 {
  return L_HELD + (n << 2);
}

// ---------------------------------------------------------------- locks

export function lockNew(t: usize): usize {
  const n = load<u32>(t + T_NMODES);
  const bytes = lockBytes(n);
  const l = blockAlloc(classOf(bytes));
  if (l == 0) return 0;
  memory.fill(l, 0, bytes);
  store<u32>(l + L_TABLE, <u32>t);
  atomic.store<u32>(l + L_REFS, 1);
  tableRetain(t);
  wordLock(H_ALLOC);
  const first = load<u32>(H_LOCKS);
  store<u32>(l + L_LNEXT, first);
  if (first != 0) store<u32>(first + L_LPREV, <u32>l);
  store<u32>(H_LOCKS, <u32>l);
  wordUnlock(H_ALLOC);
  return l;
}

export function lockRetain(l: usize): void {
  atomic.add<u32>(l + L_REFS, 1);
}

/** Drops one handle. The last drop frees the lock; a lock that still has
 *  holders or waiters at that point cannot exist (each keeps a handle). */
export function lockDrop(l: usize): void {
  if (atomic.sub<u32>(l + L_REFS, 1) != 1) return;
  wordLock(H_ALLOC);
  const t = lockFreeLocked(l);
  wordUnlock(H_ALLOC);
  tableDrop(t);
}

// With ALLOC held: unlinks a lock nobody references and frees its block.
// Returns its table, whose reference the caller drops.
function lockFreeLocked(l: usize): usize {
  const t = <usize>load<u32>(l + L_TABLE);
  const prev = load<u32>(l + L_LPREV);
  const next = load<u32>(l + L_LNEXT);
  if (prev != 0) store<u32>(prev + L_LNEXT, next);
  else store<u32>(H_LOCKS, next);
  if (next != 0) store<u32>(next + L_LPREV, prev);
  blockFreeLocked(l, classOf(lockBytes(load<u32>(t + T_NMODES))));
  return t;
}

/** Records that thread thr holds a reference to the shared lock l (and takes
 *  it), so that the reference is dropped if the thread dies. 0: no memory. */
export function handleNew(thr: usize, l: usize): usize {
  const h = blockAlloc(0);
  if (h == 0) return 0;
  lockRetain(l);
  store<u32>(h + HD_LOCK, <u32>l);
  const first = load<u32>(thr + R_HANDLES);
  store<u32>(h + HD_PREV, 0);
  store<u32>(h + HD_NEXT, first);
  if (first != 0) store<u32>(first + HD_PREV, <u32>h);
  store<u32>(thr + R_HANDLES, <u32>h);
  return h;
}

/** Gives back a reference taken by handleNew. */
export function handleDrop(thr: usize, h: usize): void {
  const l = <usize>load<u32>(h + HD_LOCK);
  const prev = load<u32>(h + HD_PREV);
  const next = load<u32>(h + HD_NEXT);
  if (prev != 0) store<u32>(prev + HD_NEXT, next);
  else store<u32>(thr + R_HANDLES, next);
  if (next != 0) store<u32>(next + HD_PREV, prev);
  blockFree(h, 0);
  lockDrop(l);
}

// Under WORD: counts the node as a holder and links it into the hold list.
@inline function addHold(l: usize, node: usize, m: u32, w: u32): void {
  const slot = l + L_HELD + (m << 2);
  store<u32>(slot, load<u32>(slot) + w);
  store<u32>(l + L_MASK, load<u32>(l + L_MASK) | (1 << m));
  store<u32>(l + L_NHOLD, load<u32>(l + L_NHOLD) + 1);
  const first = load<u32>(l + L_HOLDS);
  store<u32>(node + N_HPREV, 0);
  store<u32>(node + N_HNEXT, first);
  if (first != 0) store<u32>(first + N_HPREV, <u32>node);
  store<u32>(l + L_HOLDS, <u32>node);
}

// Under WORD: the reverse of addHold.
@inline function removeHold(l: usize, node: usize, m: u32, w: u32): void {
  const slot = l + L_HELD + (m << 2);
  const left = load<u32>(slot) - w;
  store<u32>(slot, left);
  if (left == 0) store<u32>(l + L_MASK, load<u32>(l + L_MASK) & ~(1 << m));
  store<u32>(l + L_NHOLD, load<u32>(l + L_NHOLD) - 1);
  const prev = load<u32>(node + N_HPREV);
  const next = load<u32>(node + N_HNEXT);
  if (prev != 0) store<u32>(prev + N_HNEXT, next);
  else store<u32>(l + L_HOLDS, next);
  if (next != 0) store<u32>(next + N_HPREV, prev);
}

// Hands a granted node to its owner thread: a lock-free push onto the owner's
// inbox, then a bump of its WAKE word. The owner reads WAKE before it empties
// the inbox and parks on the value it read, so a push it missed always changes
// WAKE first and its wait returns at once: no lost wake-up. A grant to the
// calling thread is not notified: the binding drains its own inbox after each
// call that reports self-grants.
function deliver(self: usize, node: usize): void {
  const owner = <usize>load<u32>(node + N_OWNER);
  const inbox = owner + R_INBOX;
  if (!isShared()) {
    store<u32>(node + N_NEXT, load<u32>(inbox));
    store<u32>(inbox, <u32>node);
    return;
  }
  let head = atomic.load<u32>(inbox);
  while (true) {
    store<u32>(node + N_NEXT, head);
    const seen = atomic.cmpxchg<u32>(inbox, head, <u32>node);
    if (seen == head) break;
    head = seen;
  }
  if (owner != self) {
    atomic.add<u32>(owner + R_WAKE, 1);
    atomic.notify(owner + R_WAKE, 1);
  }
}

// Under WORD: grants the longest grantable prefix of the queue (I4). Returns
// how many of the grants went to `self`.
function grantWaiters(self: usize, l: usize): i32 {
  let head = <usize>load<u32>(l + L_HEAD);
  if (head == 0) return 0;
  const t = <usize>load<u32>(l + L_TABLE);
  const n = load<u32>(t + T_NMODES);
  const abandoned = (load<u32>(l + L_FLAGS) & LF_ABANDONED) != 0 ? CTL_ABANDONED : 0;
  let mine = 0;
  while (head != 0) {
    const ctl = load<u32>(head + N_CTL);
    const m = (ctl >>> CTL_MODE_SHIFT) & CTL_MODE_MASK;
    const w = load<u32>(head + N_WEIGHT);
    if (!grantable(l, t, n, m, w)) break;
    // Unlink the head first: each iteration leaves the lock consistent.
    const next = <usize>load<u32>(head + N_NEXT);
    store<u32>(l + L_HEAD, <u32>next);
    if (next != 0) store<u32>(next + N_PREV, 0);
    else store<u32>(l + L_TAIL, 0);
    store<u32>(l + L_NWAIT, load<u32>(l + L_NWAIT) - 1);
    addHold(l, head, m, w);
    // The linearisation point of grant vs cancel: WAITING -> HELD under WORD.
    store<u32>(head + N_CTL, (ctl & ~CTL_STATE_MASK) | ST_HELD | abandoned);
    if (<usize>load<u32>(head + N_OWNER) == self) mine++;
    deliver(self, head);
    if (abandoned != 0) store<u32>(l + L_FLAGS, load<u32>(l + L_FLAGS) & ~LF_ABANDONED);
    head = next;
  }
  return mine;
}

// Under WORD: records that a try may now pass (whenAcquirable watches this).
@inline function changed(l: usize): void {
  store<u32>(l + L_VERSION, load<u32>(l + L_VERSION) + 1);
}

// After WORD is released: wakes whenAcquirable watchers. A watcher bumps WATCH
// (a full barrier), then reads VERSION and tests the lock; we store VERSION,
// release WORD (xchg: a full barrier), then read WATCH. One of the two sees
// the other's write, so a watcher is never left parked on a stale VERSION.
@inline function wakeWatchers(l: usize): void {
  if (atomic.load<u32>(l + L_WATCH) != 0) atomic.notify(l + L_VERSION, -1);
}

@inline function checkRequest(l: usize, m: u32, w: u32): i32 {
  const t = <usize>load<u32>(l + L_TABLE);
  const n = load<u32>(t + T_NMODES);
  if (m >= n) return ERR_MODE;
  const limit = load<u32>(t + T_CONFLICT + ((n + m) << 2));
  if (w < 1 || w > limit) return ERR_WEIGHT;
  return OK;
}

/** Requests mode m with weight w. Returns the node: held at once, or with
 *  QUEUED_BIT set when it joined the queue; or a negative error code. */
export function acquire(thr: usize, l: usize, m: u32, w: u32): i32 {
  return request(thr, l, m, w, true);
}

/** Like acquire, but never queues: the node if held at once, 0 if not. */
export function tryAcquire(thr: usize, l: usize, m: u32, w: u32): i32 {
  // Refuse without allocating when the answer is plainly no.
  if (atomic.load<u32>(l + L_HEAD) != 0) return checkRequest(l, m, w);
  return request(thr, l, m, w, false);
}

function request(thr: usize, l: usize, m: u32, w: u32, mayQueue: bool): i32 {
  const bad = checkRequest(l, m, w);
  if (bad != OK) return bad;
  const node = nodeAlloc(thr);
  if (node == 0) return ERR_NOMEM;
  store<u32>(node + N_LOCK, <u32>l);
  store<u32>(node + N_OWNER, <u32>thr);
  store<u32>(node + N_WEIGHT, w);
  const gen = load<u32>(node + N_CTL) & ~((1 << CTL_GEN_SHIFT) - 1);
  enterWord(thr, l);
  const t = <usize>load<u32>(l + L_TABLE);
  if (load<u32>(l + L_HEAD) == 0 && grantable(l, t, load<u32>(t + T_NMODES), m, w)) {
    let ctl = gen | (m << CTL_MODE_SHIFT) | ST_HELD;
    const flags = load<u32>(l + L_FLAGS);
    if ((flags & LF_ABANDONED) != 0) {
      ctl |= CTL_ABANDONED;
      store<u32>(l + L_FLAGS, flags & ~LF_ABANDONED);
    }
    addHold(l, node, m, w);
    store<u32>(node + N_CTL, ctl);
    exitWord(thr, l);
    return <i32>node;
  }
  if (!mayQueue) {
    exitWord(thr, l);
    // Never published: back to the cache with its generation unchanged.
    cachePush(thr, node);
    return 0;
  }
  store<u32>(node + N_CTL, gen | (m << CTL_MODE_SHIFT) | ST_WAITING);
  const tail = load<u32>(l + L_TAIL);
  store<u32>(node + N_PREV, tail);
  store<u32>(node + N_NEXT, 0);
  if (tail != 0) store<u32>(tail + N_NEXT, <u32>node);
  else store<u32>(l + L_HEAD, <u32>node);
  store<u32>(l + L_TAIL, <u32>node);
  store<u32>(l + L_NWAIT, load<u32>(l + L_NWAIT) + 1);
  exitWord(thr, l);
  return <i32>(node | QUEUED_BIT);
}

/** Whether a tryAcquire(m, w) would pass now: a hint, taken without WORD. */
export function canAcquire(l: usize, m: u32, w: u32): i32 {
  if (atomic.load<u32>(l + L_HEAD) != 0) return 0;
  const t = <usize>load<u32>(l + L_TABLE);
  return grantable(l, t, load<u32>(t + T_NMODES), m, w) ? 1 : 0;
}

@inline function genOf(ctl: u32): u32 {
  return ctl >>> CTL_GEN_SHIFT;
}

/** Releases a held node named by (node, gen). Returns how many waiters were
 *  granted to the calling thread (its inbox), or ERR_STALE. */
export function release(thr: usize, node: usize, gen: u32): i32 {
  const ctl0 = atomic.load<u32>(node + N_CTL);
  if ((ctl0 & CTL_STATE_MASK) != ST_HELD || genOf(ctl0) != gen) return ERR_STALE;
  const l = <usize>load<u32>(node + N_LOCK);
  enterWord(thr, l);
  // Only the owner thread (or the reaper, after its death) releases a node,
  // so the state cannot have moved since the check above.
  const m = (ctl0 >>> CTL_MODE_SHIFT) & CTL_MODE_MASK;
  removeHold(l, node, m, load<u32>(node + N_WEIGHT));
  nodeFree(thr, node);
  // Test the head here, not only in grantWaiters: with nobody queued this
  // critical section then makes no call, so a terminated worker cannot stop
  // inside it (V8 checks for termination at calls and loop back-edges).
  const mine = load<u32>(l + L_HEAD) != 0 ? grantWaiters(thr, l) : 0;
  changed(l);
  exitWord(thr, l);
  wakeWatchers(l);
  trimCache(thr);
  return mine;
}

/** Withdraws a waiting node. Returns the number of self-grants the removal
 *  caused (>= 0), ERR_GRANTED when the grant won the race (the caller holds
 *  the lock), or ERR_STALE. */
export function cancel(thr: usize, node: usize, gen: u32): i32 {
  const ctl0 = atomic.load<u32>(node + N_CTL);
  if ((ctl0 & CTL_STATE_MASK) == ST_FREE || genOf(ctl0) != gen) return ERR_STALE;
  const l = <usize>load<u32>(node + N_LOCK);
  enterWord(thr, l);
  const ctl = load<u32>(node + N_CTL);
  if ((ctl & CTL_STATE_MASK) == ST_HELD) {
    exitWord(thr, l);
    return ERR_GRANTED;
  }
  const mine = unqueue(thr, l, node);
  exitWord(thr, l);
  wakeWatchers(l);
  trimCache(thr);
  return mine;
}

// Under WORD: takes a WAITING node out of the queue; returns its predecessor.
@inline function unlinkWaiter(l: usize, node: usize): u32 {
  const prev = load<u32>(node + N_PREV);
  const next = load<u32>(node + N_NEXT);
  if (prev != 0) store<u32>(prev + N_NEXT, next);
  else store<u32>(l + L_HEAD, next);
  if (next != 0) store<u32>(next + N_PREV, prev);
  else store<u32>(l + L_TAIL, prev);
  store<u32>(l + L_NWAIT, load<u32>(l + L_NWAIT) - 1);
  return prev;
}

// Under WORD: removes a WAITING node, frees it into thr's cache and, if it was
// the head, lets the followers it was blocking through.
function unqueue(thr: usize, l: usize, node: usize): i32 {
  const prev = unlinkWaiter(l, node);
  nodeFree(thr, node);
  const mine = prev == 0 ? grantWaiters(thr, l) : 0;
  changed(l);
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

/** Registers (+1) or unregisters (-1) a whenAcquirable watcher on l. */
export function watch(l: usize, delta: i32): void {
  atomic.add<i32>(l + L_WATCH, delta);
}

/** Brackets a consistent read of a lock's queue and holds by the binding. */
export function enter(thr: usize, l: usize): void {
  enterWord(thr, l);
}
export function leave(thr: usize, l: usize): void {
  exitWord(thr, l);
}

// ---------------------------------------------------------------- owner death

// Bounded attempt at a spin word: reap() must never wait for a word that
// another dead, not yet reaped, thread holds (it would wait for ever).
function wordTry(w: usize): bool {
  if (!isShared()) return true;
  for (let i = 0; i < 1024; i++) {
    if (atomic.load<u32>(w) == 0 && atomic.cmpxchg<u32>(w, 0, 1) == 0) return true;
  }
  return false;
}

/** Releases every hold and withdraws every waiter of the dead thread `dead`,
 *  on every lock, and grants what that lets through (the next holders of a
 *  lock whose holder died see ABANDONED). Run by a live thread `thr` after
 *  `dead` has stopped for good. Returns self-grants (>= 0); ERR_RETRY when a
 *  word it needs is held (perhaps by another dead thread, reaped next): call
 *  again later, the work done so far stands; -1 once reaped. */
export function reap(thr: usize, dead: usize): i32 {
  const state = atomic.load<u32>(dead + R_ALIVE);
  if (state == 0) return -1;
  if (state == 1 && atomic.cmpxchg<u32>(dead + R_ALIVE, 1, 2) != 1) return -1;
  let mine = 0;
  // A word the dead thread held (see enterWord) is ours now: take it over.
  const inside = <usize>load<u32>(dead + R_INSIDE);
  if (inside == H_ALLOC) {
    store<u32>(dead + R_INSIDE, 0);
  } else if (!wordTry(H_ALLOC)) {
    return ERR_RETRY;
  }
  store<u32>(thr + R_INSIDE, H_ALLOC);
  let incomplete = false;
  let l = <usize>load<u32>(H_LOCKS);
  while (l != 0) {
    // The lock the dead thread was inside may be half way through a grant
    // loop: always finish it.
    let touched = inside == l;
    if (touched) store<u32>(dead + R_INSIDE, 0);
    else if (!wordTry(l)) {
      incomplete = true;
      l = <usize>load<u32>(l + L_LNEXT);
      continue;
    }
    let p = <usize>load<u32>(l + L_HOLDS);
    while (p != 0) {
      const next = <usize>load<u32>(p + N_HNEXT);
      if (<usize>load<u32>(p + N_OWNER) == dead) {
        const ctl = load<u32>(p + N_CTL);
        removeHold(l, p, (ctl >>> CTL_MODE_SHIFT) & CTL_MODE_MASK, load<u32>(p + N_WEIGHT));
        nodeFree(thr, p);
        store<u32>(l + L_FLAGS, load<u32>(l + L_FLAGS) | LF_ABANDONED);
        touched = true;
      }
      p = next;
    }
    p = <usize>load<u32>(l + L_HEAD);
    while (p != 0) {
      const next = <usize>load<u32>(p + N_NEXT);
      if (<usize>load<u32>(p + N_OWNER) == dead) {
        unlinkWaiter(l, p);
        nodeFree(thr, p);
        touched = true;
      }
      p = next;
    }
    if (touched) {
      mine += grantWaiters(thr, l);
      // Nobody took over a dead holder's place: the next grant reports it.
      changed(l);
    }
    wordUnlock(l);
    if (touched) wakeWatchers(l);
    l = <usize>load<u32>(l + L_LNEXT);
  }
  if (incomplete) {
    exitWord(thr, H_ALLOC);
    trimCache(thr);
    return ERR_RETRY; // the binding drains its inbox after every reap() anyway
  }
  // The references the dead thread held on shared locks.
  let h = <usize>load<u32>(dead + R_HANDLES);
  while (h != 0) {
    const next = <usize>load<u32>(h + HD_NEXT);
    const l = <usize>load<u32>(h + HD_LOCK);
    store<u32>(dead + R_HANDLES, next);
    blockFreeLocked(h, 0);
    if (atomic.sub<u32>(l + L_REFS, 1) == 1) {
      const t = lockFreeLocked(l);
      if (atomic.sub<u32>(t + T_REFS, 1) == 1) blockFreeLocked(t, tableClass(load<u32>(t + T_NMODES)));
    }
    h = next;
  }
  // The dead thread's node cache goes back to the global list.
  let c = <usize>load<u32>(dead + R_CACHE);
  while (c != 0) {
    const next = <usize>load<u32>(c + N_LOCK);
    store<u32>(dead + R_CACHE, next);
    blockFreeLocked(c, 0);
    c = next;
  }
  store<u32>(dead + R_NCACHE, 0);
  // Nodes granted to it but never taken from its inbox were released above.
  atomic.store<u32>(dead + R_INBOX, 0);
  atomic.store<u32>(dead + R_ALIVE, 0);
  exitWord(thr, H_ALLOC);
  trimCache(thr);
  return mine;
}

/** The thread record whose TID is tid and that is not yet reaped, or 0. */
export function findThread(tid: i32): usize {
  wordLock(H_ALLOC);
  let t = <usize>load<u32>(H_THREADS);
  while (t != 0 && !(load<i32>(t + R_TID) == tid && atomic.load<u32>(t + R_ALIVE) != 0)) {
    t = <usize>load<u32>(t + R_NEXT);
  }
  wordUnlock(H_ALLOC);
  return t;
}
