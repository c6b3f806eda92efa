// ringlock engine: strict-FIFO mode locks over one shared WebAssembly.Memory.
//
// The only code that knows the layout (assembly/layout.ts) and the grant rule.
// No managed objects, strings, throw or static data: every instance (one per
// thread) runs over the same memory, so all state lives there; wasm globals
// would belong to one thread only.
//
// One file per concern:
//   words.ts   internal words stamped with their holder, bounded waits, the
//              undo log of ALLOC transactions
//   alloc.ts   allocator, node caches, thread records, tables, locks, handles
//   queue.ts   requests, releases, cancellations, the grant loop, repairLock
//   reaper.ts  owner death: reapAll
//   names.ts   the registry of named locks
//
// Lock order: REAP, then ALLOC, then one lock's WORD. Normal operations take
// one word at a time (frees under a WORD go to the thread's cache); only the
// reaper nests them. Every export that needs a word returns ERR_RETRY, having
// changed nothing, when the word stays busy: no thread waits for ever inside
// the engine.

import {
  H_ID,
  H_LIVE,
  H_MAGIC,
  H_MAXBYTES,
  H_READY,
  H_SHARED,
  H_THREADS,
  H_TOP,
  H_VERSION,
  HEADER_SIZE,
  L_WATCH,
  LAYOUT_VERSION,
  MAGIC_VALUE,
  R_NEXT,
} from "./layout";
import { threadState } from "./alloc";
import { ERR_RETRY } from "./layout";
import { dropWord, takeWord } from "./words";

export { attach, handleDrop, handleNew, lockDrop, lockNew, tableDrop, tableNew, tableSet } from "./alloc";
export { acquire, canAcquire, cancel, release, steal, takeInbox, tryAcquire } from "./queue";
export { deadPending, markDead, reapAll } from "./reaper";
export { nameAlloc, nameBind } from "./names";
export { condMove, condWait, syncArrive, syncOp, syncRelease, syncTable } from "./sync";

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
  }
  // A memory that is shared was initialised before it was posted: READY is 1.
  return atomic.load<u32>(H_VERSION);
}

/** Called by the binding before the memory first leaves this thread. */
export function markShared(): void {
  atomic.store<u32>(H_SHARED, 1);
}

/** Blocks in use (for leak tests: thread records not recycled count too) and
 *  the bump pointer (bytes ever used). */
export function liveBlocks(): u32 {
  let n = atomic.load<u32>(H_LIVE);
  let t = <usize>atomic.load<u32>(H_THREADS);
  while (t != 0) {
    if (threadState(t) != 0) n++;
    t = <usize>load<u32>(t + R_NEXT);
  }
  return n;
}
export function heapTop(): u32 {
  return atomic.load<u32>(H_TOP);
}

/** Registers (+1) or unregisters (-1) a whenAcquirable watcher on l. */
export function watch(l: usize, delta: i32): void {
  atomic.add<i32>(l + L_WATCH, delta);
}

/** Brackets a consistent read of a lock's queue and holds by the binding.
 *  enter returns 0, or ERR_RETRY when the lock's word stayed busy. */
export function enter(thr: usize, l: usize): i32 {
  return takeWord(thr, l) ? 0 : ERR_RETRY;
}
export function leave(thr: usize, l: usize): void {
  dropWord(l);
}
