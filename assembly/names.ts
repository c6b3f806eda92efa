// Named locks: a registry, in shared memory, from names (strings of UTF-16
// code units, compared exactly) to locks, so that every thread of an engine
// finds the same lock by name with no share()/from(). Layout: layout.ts
// (NAMES, the name entry, R_NAMEBUF).
//
// Lifetime: a name exists while used. Its entry holds one reference to its
// lock (the lock's CREATOR is entry | 1), every user holds a handle; when the
// last handle goes (lockUnref sees one reference left), the name is unlinked
// and the entry and lock are freed. So a million names used once each leave
// nothing behind.
//
// Binding a name, in the caller's thread:
//   1. nameAlloc(thr, len): a private entry chain big enough for len code
//      units, recorded in the thread's NAMEBUF (so a reaper frees it if the
//      thread dies before step 3 takes it over or frees it).
//   2. the binding writes HASH, LEN, KIND and the code units into it.
//   3. nameBind(thr, table): under ALLOC, finds the name (hash, length, code
//      units) in its bucket. Found: a handle on its lock, if the kind and mode
//      table match (else ERR_SHAPE, with XKIND/XMODES/XLIMIT filled in for the
//      error). Not found: a new lock on the table, the entry linked into the
//      bucket (NAMEBUF cleared: the registry owns it now), and a handle.
// Every store of step 3 and of the unlinking is in the ALLOC transaction's
// undo log, so a thread that stops anywhere in them is rolled back whole.

import {
  E_CAP,
  E_CHARS,
  E_HASH,
  E_KIND,
  E_LEN,
  E_LOCK,
  E_MORE,
  E_MORE_CHARS,
  E_NEXT,
  E_XKIND,
  E_XLIMIT,
  E_XMODES,
  ERR_RETRY,
  ERR_SHAPE,
  H_ALLOC,
  H_FREE,
  H_LIVE,
  H_NAMES,
  L_TABLE,
  MIN_BLOCK,
  NAME_BLOCK,
  NAME_BUCKETS,
  NAME_CLASS,
  NAME_FIRST_UNITS,
  NAME_MORE_UNITS,
  R_NAMEBUF,
  T_CONFLICT,
  T_NMODES,
} from "./layout";
import { allocLocked, classOf, freeLocked, handleLocked, lockLocked, lockUnref } from "./alloc";
import { allocDone, takeWord, txCommit, txStore } from "./words";

// The class of an entry's first block for a capacity of cap code units.
// @ts-expect-error: decorator
@inline function firstClass(cap: u32): i32 {
  return cap <= <u32>NAME_FIRST_UNITS ? classOf(E_CHARS + (cap << 1)) : NAME_CLASS;
}

// Under ALLOC, in thr's transaction: frees entry e and its overflow blocks.
export function freeChain(thr: usize, e: usize): void {
  const more = <usize>load<u32>(e + E_MORE);
  if (more != 0) {
    let last = more;
    let n: u32 = 1;
    while (load<u32>(last + E_MORE) != 0) {
      last = <usize>load<u32>(last + E_MORE);
      n++;
    }
    const slot = <usize>(H_FREE + (NAME_CLASS << 2));
    txStore(thr, last + E_MORE, load<u32>(slot));
    txStore(thr, slot, <u32>more);
    txStore(thr, H_LIVE, load<u32>(H_LIVE) - n);
  }
  freeLocked(thr, e, firstClass(load<u32>(e + E_CAP)));
}

/** Makes thr's name buffer (NAMEBUF) big enough for len code units, one block
 *  per transaction. Returns the entry, 0 (no memory) or ERR_RETRY. */
export function nameAlloc(thr: usize, len: u32): i32 {
  if (!takeWord(thr, H_ALLOC)) return ERR_RETRY;
  let e = <usize>load<u32>(thr + R_NAMEBUF);
  if (e != 0 && len > load<u32>(e + E_CAP)) {
    freeChain(thr, e);
    txStore(thr, thr + R_NAMEBUF, 0);
    txCommit(thr);
    e = 0;
  }
  if (e == 0) {
    let cap = len <= <u32>NAME_FIRST_UNITS ? ((<u32>(MIN_BLOCK << firstClass(len)) - E_CHARS) >> 1) : <u32>NAME_FIRST_UNITS;
    e = allocLocked(thr, firstClass(len));
    if (e == 0) {
      allocDone(thr);
      return 0;
    }
    store<u32>(e + E_MORE, 0);
    store<u32>(e + E_CAP, cap);
    txStore(thr, thr + R_NAMEBUF, <u32>e);
    txCommit(thr);
    // Overflow blocks, each linked at the tail in its own transaction.
    let tail = e;
    while (cap < len) {
      const b = allocLocked(thr, NAME_CLASS);
      if (b == 0) {
        allocDone(thr);
        return 0;
      }
      store<u32>(b + E_MORE, 0);
      txStore(thr, tail + E_MORE, <u32>b);
      cap += NAME_MORE_UNITS;
      txStore(thr, e + E_CAP, cap);
      txCommit(thr);
      tail = b;
    }
  }
  allocDone(thr);
  return <i32>e;
}

// Code unit i of the name in entry e.
// @ts-expect-error: decorator
@inline function unitAt(e: usize, i: u32): u32 {
  if (i < <u32>NAME_FIRST_UNITS) return load<u16>(e + E_CHARS + (i << 1));
  i -= NAME_FIRST_UNITS;
  let b = <usize>load<u32>(e + E_MORE);
  while (i >= <u32>NAME_MORE_UNITS) {
    b = <usize>load<u32>(b + E_MORE);
    i -= NAME_MORE_UNITS;
  }
  return load<u16>(b + E_MORE_CHARS + (i << 1));
}

function sameName(a: usize, b: usize): bool {
  const len = load<u32>(a + E_LEN);
  if (load<u32>(a + E_HASH) != load<u32>(b + E_HASH) || load<u32>(b + E_LEN) != len) return false;
  const first = min(len, <u32>NAME_FIRST_UNITS);
  if (memory.compare(a + E_CHARS, b + E_CHARS, first << 1) != 0) return false;
  for (let i = first; i < len; i++) if (unitAt(a, i) != unitAt(b, i)) return false;
  return true;
}

function sameTable(a: usize, b: usize): bool {
  if (a == b) return true;
  const n = load<u32>(a + T_NMODES);
  return n == load<u32>(b + T_NMODES) && memory.compare(a + T_CONFLICT, b + T_CONFLICT, n << 3) == 0;
}

/** Binds thr's filled name buffer (see above) to a lock on table t. Returns a
 *  handle of thr on the name's lock, 0 (no memory), ERR_SHAPE or ERR_RETRY. */
export function nameBind(thr: usize, t: usize): i32 {
  if (!takeWord(thr, H_ALLOC)) return ERR_RETRY;
  const buf = <usize>load<u32>(thr + R_NAMEBUF);
  let buckets = <usize>load<u32>(H_NAMES);
  if (buckets == 0) {
    buckets = allocLocked(thr, NAME_CLASS);
    if (buckets == 0) {
      allocDone(thr);
      return 0;
    }
    memory.fill(buckets, 0, NAME_BLOCK);
    txStore(thr, H_NAMES, <u32>buckets);
  }
  const bucket = buckets + ((load<u32>(buf + E_HASH) & (NAME_BUCKETS - 1)) << 2);
  let e = <usize>load<u32>(bucket);
  while (e != 0 && !sameName(e, buf)) e = <usize>load<u32>(e + E_NEXT);
  let h: usize = 0;
  if (e != 0) {
    const l = <usize>load<u32>(e + E_LOCK);
    const lt = <usize>load<u32>(l + L_TABLE);
    if (load<u32>(e + E_KIND) != load<u32>(buf + E_KIND) || !sameTable(lt, t)) {
      store<u32>(buf + E_XKIND, load<u32>(e + E_KIND));
      store<u32>(buf + E_XMODES, load<u32>(lt + T_NMODES));
      store<u32>(buf + E_XLIMIT, load<u32>(lt + T_CONFLICT + (load<u32>(lt + T_NMODES) << 2)));
      allocDone(thr);
      return ERR_SHAPE;
    }
    h = handleLocked(thr, l, false);
    if (h != 0) {
      // The buffer is not needed: give it back (NAMEBUF is only ever set
      // between nameAlloc and nameBind, or after ERR_SHAPE until the next nameAlloc).
      txStore(thr, thr + R_NAMEBUF, 0);
      freeChain(thr, buf);
    }
  } else {
    const l = lockLocked(thr, t, buf | 1);
    if (l != 0) {
      h = handleLocked(thr, l, false);
      if (h == 0) {
        lockUnref(thr, l); // its only reference: frees it
        allocDone(thr);
        return 0;
      }
      txStore(thr, buf + E_LOCK, <u32>l);
      txStore(thr, buf + E_NEXT, load<u32>(bucket));
      txStore(thr, bucket, <u32>buf);
      txStore(thr, thr + R_NAMEBUF, 0);
    }
  }
  allocDone(thr);
  return <i32>h;
}

// Under ALLOC (from lockUnref): unlinks entry e from its bucket and frees it.
export function unname(thr: usize, e: usize): void {
  let at = <usize>load<u32>(H_NAMES) + ((load<u32>(e + E_HASH) & (NAME_BUCKETS - 1)) << 2);
  while (<usize>load<u32>(at) != e) at = <usize>load<u32>(at) + E_NEXT;
  txStore(thr, at, load<u32>(e + E_NEXT));
  freeChain(thr, e);
}
