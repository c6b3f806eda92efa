// The generic binding of sync objects (Event, Notify, CountdownEvent, Latch,
// Barrier, CapacityLimiter, a Condition's queue): a LockCore whose block is
// made at construction and kept (its state lives there: assembly/sync.ts),
// whose waiters are ordinary requests of mode 0 and weight 1, and whose state
// changes are syncOp() calls. One file per family builds on it: event.ts,
// barrier.ts, condition.ts, capacity.ts.

import { ERR_BROKEN, ERR_NOMEM, ERR_RANGE, ERR_RETRY, S_KIND, T_NMODES } from "../assembly/layout.js";
import { assertCanBlock } from "./blocking.js";
import type { Engine } from "./engine.js";
import { engineError, rangeError, typeError } from "./errors.js";
import {
  type AcquireOptions,
  type Adopted,
  type Guard,
  LockCore,
  type LockOptions,
  refusal,
  sharedTarget,
} from "./lock.js";

/** @internal The engine's sync exports (assembly/sync.ts). */
export interface SyncExports {
  syncTable(thr: number, kind: number, limit: number, value: number, parties: number): number;
  syncOp(thr: number, l: number, op: number, arg: number): number;
  syncArrive(thr: number, l: number): number;
  syncRelease(thr: number, node: number, gen: number): number;
  condWait(thr: number, cond: number, node: number, gen: number): number;
  condMove(thr: number, cond: number, mutex: number, node: number, gen: number, n: number): number;
}

/** @internal */
export function sx(e: Engine): SyncExports {
  return e.x as unknown as SyncExports;
}

export const UNLIMITED = 0xffffffff;

const rows = () => [{ name: "wait", conflicts: 0, limit: UNLIMITED }];

/** @internal Checks a count argument: an integer from min to 2^31 - 1. */
export function count(name: string, n: unknown, min: number): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > 0x7fffffff) {
    throw rangeError(`${name} must be an integer from ${min} to ${0x7fffffff}, got ${String(n)}`);
  }
  return n;
}

/** The shared machinery of sync objects (not constructed directly). */
export abstract class SyncCore extends LockCore {
  /** @internal */
  constructor(kind: number, limit: number, value: number, parties: number, opts?: LockOptions, adopt?: Adopted) {
    super(rows(), opts, adopt);
    if (adopt) return;
    const e = this.engine;
    const x = sx(e);
    const t = e.sync(() => x.syncTable(e.thr, kind, limit >>> 0, value, parties));
    if (t === 0) throw engineError(ERR_NOMEM, e.maxMemoryBytes);
    const l = e.sync(() => e.x.lockNew(e.thr, t));
    // The lock holds its own reference to its table from now on.
    e.later(() => e.x.tableDrop(e.thr, t) !== ERR_RETRY);
    if (l === 0) throw engineError(ERR_NOMEM, e.maxMemoryBytes);
    this.pinNow(l, t);
  }

  /** @internal A state word of the object's table (layout.ts, S_*). */
  word(off: number): number {
    const t = this.table;
    return Atomics.load(this.engine.view(t), (t + off) >> 2) >>> 0;
  }

  /** @internal Runs a state change (SO_*); returns its result (>= 0). */
  op(op: number, arg: number): number {
    const e = this.engine;
    const l = this.peek();
    const r = e.sync(() => sx(e).syncOp(e.thr, l, op, arg | 0));
    if (r === ERR_RANGE) throw rangeError("the value would go below 0; nothing changed");
    if (r < 0) throw engineError(r, e.maxMemoryBytes);
    e.drain();
    return r;
  }

  /** @internal Arrives (latch, barrier): 0 done at once, a queued node, or ERR_BROKEN. */
  arrive(): number {
    const e = this.engine;
    const l = this.peek();
    const r = e.sync(() => sx(e).syncArrive(e.thr, l));
    if (r < 0 && r !== ERR_BROKEN) throw engineError(r, e.maxMemoryBytes);
    // Not while our own node is queued and not yet parked: a grant of it that
    // arrived meanwhile would be drained with nobody to take it (lost).
    if (r === 0) e.drain();
    return r;
  }

  /** @internal Waits for a grant of the object's queue (async). */
  waitGrant(o: AcquireOptions | undefined): Promise<Guard> {
    return this.acquireIndex(0, 1, o);
  }

  /** @internal Waits for a grant of the object's queue, blocking the thread. */
  waitGrantSync(o: AcquireOptions | undefined, what: string): Guard {
    assertCanBlock(what);
    const no = refusal(o);
    if (no !== undefined) throw no;
    const e = this.engine;
    const l = this.peek();
    const r = e.sync(() => e.x.acquire(e.thr, l, 0, 1));
    if (r < 0) throw engineError(r, e.maxMemoryBytes);
    return this.submitSync(r, 1, o, -1);
  }
}

/** @internal Rebuilds a sync object from share()'s value. */
export function adoptSync<L extends SyncCore>(shared: unknown, kind: string, sk: number, make: (a: Adopted) => L): L {
  const { s, engine, ptr, i32, top, t } = sharedTarget(shared, kind, "object");
  if (!(t > 0 && t < top) || i32[(t + T_NMODES) >> 2] !== 1 || i32[(t + S_KIND) >> 2] !== sk) {
    throw typeError(`the shared value is not a ${kind} of its engine (corrupted descriptor)`);
  }
  const known = engine.locks.get(ptr)?.deref();
  if (known instanceof LockCore && known.ptr === ptr) {
    if (known.kind !== kind) throw typeError(`${kind}.from was given a shared ${known.kind}`);
    return known as L;
  }
  return make({ engine, ptr, rows: rows(), value: s.value });
}
