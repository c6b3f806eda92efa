// The debug build's validator: checks invariants I1-I4 of every live lock and
// the allocator's bounds. Returns 0, or the number of the first failed check
// (see FAIL_* below; bindings/errors.ts prints their names).
// Runs with ALLOC held, taking each lock's WORD in turn (the reap() order).

import { grantable, syncKind } from "./grant";
import { inHeap } from "./alloc";
import { dropWord, takeWord } from "./words";
import {
  CTL_MODE_MASK,
  CTL_MODE_SHIFT,
  CTL_STATE_MASK,
  H_ALLOC,
  H_FREE,
  H_LOCKS,
  H_THREADS,
  R_ALIVE,
  R_CACHE,
  R_NEXT,
  TS_ALIVE,
  TS_MASK,
  H_TOP,
  L_HEAD,
  L_HELD,
  L_HOLDS,
  L_LNEXT,
  L_LPREV,
  L_MASK,
  L_NWAIT,
  L_TABLE,
  L_TAIL,
  MAX_MODES,
  N_CTL,
  N_HNEXT,
  N_HPREV,
  N_LOCK,
  N_NEXT,
  N_PREV,
  N_WEIGHT,
  ST_FREE,
  ST_HELD,
  ST_WAITING,
  T_CONFLICT,
  T_NMODES,
} from "./layout";

const FAIL_BOUNDS = 1; // a pointer outside the heap or misaligned
const FAIL_TABLE = 2; // mode table malformed (n, asymmetric conflicts, limit 0)
const FAIL_HELD_SUM = 3; // HELD[m] != sum of held weights of mode m
const FAIL_MASK = 4; // MASK disagrees with HELD
const FAIL_HOLD_LINK = 5; // hold list back links inconsistent
const FAIL_HOLD_NODE = 6; // hold list node not HELD or not of this lock
const FAIL_LIMIT = 7; // HELD[m] > LIMIT[m]
const FAIL_CONFLICT = 8; // two conflicting modes held at once
const FAIL_QUEUE_LINK = 9; // queue prev/next/tail inconsistent
const FAIL_QUEUE_NODE = 10; // queued node not WAITING or not of this lock
const FAIL_NWAIT = 11; // NWAIT != queue length
const FAIL_FIFO = 12; // queue head is grantable: the grant loop stopped early
const FAIL_FREE_NODE = 13; // a free-list node is not FREE
const FAIL_REGISTRY = 14; // registry links broken
const FAIL_BUSY = 15; // an internal word stayed busy (a thread died holding it and is not reaped)
const FAIL_CACHE_NODE = 16; // a node in a live thread's cache is not FREE

export function validate(thr: usize): i32 {
  // Same order as the reaper: ALLOC, then each lock's WORD in turn.
  if (!takeWord(thr, H_ALLOC)) return FAIL_BUSY;
  let r = checkFreeLists() || checkCaches();
  let prev: usize = 0;
  let l = <usize>load<u32>(H_LOCKS);
  while (r == 0 && l != 0) {
    if (!inHeap(l) || <usize>load<u32>(l + L_LPREV) != prev) {
      r = FAIL_REGISTRY;
      break;
    }
    if (!takeWord(thr, l)) {
      r = FAIL_BUSY;
      break;
    }
    r = checkLock(l);
    dropWord(l);
    prev = l;
    l = <usize>load<u32>(l + L_LNEXT);
  }
  dropWord(H_ALLOC);
  return r;
}

function checkFreeLists(): i32 {
  let p = <usize>load<u32>(H_FREE);
  while (p != 0) {
    if (!inHeap(p)) return FAIL_BOUNDS;
    if ((load<u32>(p + N_CTL) & CTL_STATE_MASK) != ST_FREE) return FAIL_FREE_NODE;
    p = <usize>load<u32>(p + N_LOCK);
  }
  return 0;
}

function checkCaches(): i32 {
  let t = <usize>load<u32>(H_THREADS);
  while (t != 0) {
    if ((atomic.load<u32>(t + R_ALIVE) & TS_MASK) == TS_ALIVE) {
      let p = <usize>load<u32>(t + R_CACHE);
      let n: u32 = 0;
      while (p != 0) {
        if (!inHeap(p)) return FAIL_BOUNDS;
        if ((load<u32>(p + N_CTL) & CTL_STATE_MASK) != ST_FREE) return FAIL_CACHE_NODE;
        if (++n > (load<u32>(H_TOP) >>> 5)) return FAIL_CACHE_NODE;
        p = <usize>load<u32>(p + N_LOCK);
      }
    }
    t = <usize>load<u32>(t + R_NEXT);
  }
  return 0;
}

function checkLock(l: usize): i32 {
  const t = <usize>load<u32>(l + L_TABLE);
  if (!inHeap(t)) return FAIL_BOUNDS;
  const n = load<u32>(t + T_NMODES);
  if (n < 1 || n > <u32>MAX_MODES) return FAIL_TABLE;
  for (let a: u32 = 0; a < n; a++) {
    if (load<u32>(t + T_CONFLICT + ((n + a) << 2)) == 0 && syncKind(t, n) == 0) return FAIL_TABLE;
    const ca = load<u32>(t + T_CONFLICT + (a << 2));
    for (let b: u32 = 0; b < n; b++) {
      const cb = load<u32>(t + T_CONFLICT + (b << 2));
      if (((ca >>> b) & 1) != ((cb >>> a) & 1)) return FAIL_TABLE;
    }
  }
  return checkHolds(l, t, n) || checkQueue(l, t, n);
}

// I1, I2: recompute HELD and MASK from the hold list.
function checkHolds(l: usize, t: usize, n: u32): i32 {
  let count: u32 = 0;
  let mask: u32 = 0;
  for (let m: u32 = 0; m < n; m++) {
    let sum: u64 = 0;
    count = 0;
    let p = <usize>load<u32>(l + L_HOLDS);
    let back: usize = 0;
    while (p != 0) {
      if (!inHeap(p)) return FAIL_BOUNDS;
      if (<usize>load<u32>(p + N_HPREV) != back) return FAIL_HOLD_LINK;
      const ctl = load<u32>(p + N_CTL);
      if ((ctl & CTL_STATE_MASK) < <u32>ST_HELD || <usize>load<u32>(p + N_LOCK) != l) return FAIL_HOLD_NODE;
      // A STOLEN node stays in the list until its owner frees it, uncounted.
      const counted = (ctl & CTL_STATE_MASK) == ST_HELD;
      if (counted && ((ctl >>> CTL_MODE_SHIFT) & CTL_MODE_MASK) == m) sum += load<u32>(p + N_WEIGHT);
      if (++count > (load<u32>(H_TOP) >>> 5)) return FAIL_HOLD_LINK;
      back = p;
      p = <usize>load<u32>(p + N_HNEXT);
    }
    const held = load<u32>(l + L_HELD + (m << 2));
    if (<u64>held != sum) return FAIL_HELD_SUM;
    if (held > load<u32>(t + T_CONFLICT + ((n + m) << 2)) && syncKind(t, n) == 0) return FAIL_LIMIT;
    if (held != 0) mask |= 1 << m;
  }
  if (mask != load<u32>(l + L_MASK)) return FAIL_MASK;
  for (let m: u32 = 0; m < n; m++) {
    if (((mask >>> m) & 1) != 0 && (load<u32>(t + T_CONFLICT + (m << 2)) & mask & ~(1 << m)) != 0) {
      return FAIL_CONFLICT;
    }
  }
  return 0;
}

// I3, I4: walk the queue both ways' links and test its head.
function checkQueue(l: usize, t: usize, n: u32): i32 {
  let count: u32 = 0;
  let back: usize = 0;
  let p = <usize>load<u32>(l + L_HEAD);
  while (p != 0) {
    if (!inHeap(p)) return FAIL_BOUNDS;
    if (<usize>load<u32>(p + N_PREV) != back) return FAIL_QUEUE_LINK;
    const ctl = load<u32>(p + N_CTL);
    if ((ctl & CTL_STATE_MASK) != ST_WAITING || <usize>load<u32>(p + N_LOCK) != l) return FAIL_QUEUE_NODE;
    count++;
    back = p;
    p = <usize>load<u32>(p + N_NEXT);
  }
  if (<usize>load<u32>(l + L_TAIL) != back) return FAIL_QUEUE_LINK;
  if (count != load<u32>(l + L_NWAIT)) return FAIL_NWAIT;
  const head = <usize>load<u32>(l + L_HEAD);
  if (head != 0) {
    // I4: the head must be refused by the grant test.
    const m = (load<u32>(head + N_CTL) >>> CTL_MODE_SHIFT) & CTL_MODE_MASK;
    if (grantable(l, t, n, m, load<u32>(head + N_WEIGHT))) return FAIL_FIFO;
  }
  return 0;
}
