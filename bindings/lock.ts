// The one generic binding over the engine: a lock with named modes. FifoLock
// is this class with the user's table; Mutex, RWLock and Semaphore
// (presets.ts) are fixed tables with friendlier method names.

import {
  CTL_ABANDONED,
  CTL_GEN_SHIFT,
  CTL_MODE_MASK,
  CTL_MODE_SHIFT,
  ERR_GRANTED,
  ERR_NOMEM,
  ERR_RETRY,
  H_TOP,
  HD_LOCK,
  L_HEAD,
  L_HELD,
  L_HOLDS,
  L_NWAIT,
  L_TABLE,
  L_VERSION,
  MIN_BLOCK,
  N_CTL,
  N_HNEXT,
  N_NEXT,
  N_OWNER,
  N_WEIGHT,
  QUEUED_BIT,
  R_TID,
  T_CONFLICT,
  T_NMODES,
} from "../assembly/layout.js";
import { assertCanBlock, blockUntil, cancelSync, deadlockError, selfDeadlock } from "./blocking.js";
import { Engine, type GrantSink, type SharedEngine } from "./engine.js";
import { engineError, LockError, rangeError, TimeoutError, typeError } from "./errors.js";
import { bindName } from "./names.js";

export interface AcquireOptions {
  /** Abort the wait; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Give up after this many milliseconds (rejects with a TimeoutError). 0: only if free now. */
  timeout?: number;
}

export interface WeightedAcquireOptions extends AcquireOptions {
  /** How much of the mode's limit this request takes (a positive integer, default 1). */
  weight?: number;
}

/** Proof of a grant. Release it exactly once (extra calls do nothing), or let `using` do it. */
export interface Guard<T = unknown> {
  /** The mode granted: 'exclusive', 'read', 'write', 'permit', or a FifoLock mode name. */
  readonly mode: string;
  /** Weight granted (1 unless asked otherwise). */
  readonly weight: number;
  readonly released: boolean;
  /** True when the previous holder died holding the lock (its worker ended): check the data it guarded. */
  readonly abandoned: boolean;
  /** The guarded value of a `new Mutex({ value })` / `new RWLock({ value })`; throws once released. */
  value: T;
  release(): void;
  [Symbol.dispose](): void;
}

export interface ModeSpec<M extends string> {
  /** Modes that may not be held together with this one (symmetrised: A conflicts B makes B conflict A). */
  conflicts?: readonly M[];
  /** Most total weight of this mode held at once (positive integer; default: unlimited). */
  limit?: number;
}

export type ModeTable<M extends string> = { readonly [K in M]: ModeSpec<NoInfer<M>> };

export interface QueryEntry<M extends string> {
  mode: M;
  weight: number;
  /** Id of the requesting thread (Engine.threadId in that thread: worker_threads threadId where there is one). */
  threadId: number;
}

export interface LockState<M extends string> {
  held: QueryEntry<M>[];
  /** Waiters, in queue (grant) order. */
  pending: QueryEntry<M>[];
}

export interface LockOptions {
  engine?: Engine;
  /** The same lock in every thread of the engine that asks for this name (see README: named locks). */
  name?: string;
}

/** A structured-clonable description of a lock (see share()). */
export interface SharedLock {
  readonly ringlock: "lock";
  readonly kind: string;
  readonly engine: SharedEngine;
  readonly ptr: number;
  readonly modes: readonly NormalMode[];
  readonly value?: unknown;
}

interface NormalMode {
  name: string;
  conflicts: number;
  limit: number;
}

const UNLIMITED = 0xffffffff;
const MAX_TIMER_MS = 0x7fffffff;

// Drops the engine's handle on locks that became unreachable. A lock object
// can be collected while this thread still holds or awaits it (a guard that was
// dropped unreleased): then the handle stays, so that the lock outlives the
// hold, and the reaper drops both when the thread ends.
const finalizer = new FinalizationRegistry<Cell>((h) => {
  const e = h.engine;
  const known = e.locks.get(h.ptr);
  if (known !== undefined && known.deref() === undefined) e.locks.delete(h.ptr);
  e.later(() => {
    const mine = hasRequests(e, h.ptr);
    if (mine === ERR_RETRY) return false;
    return mine === 1 || e.x.handleDrop(e.thr, h.handle) !== ERR_RETRY;
  });
});

// 1 if this thread holds or awaits lock l, 0 if not, ERR_RETRY if its word is busy.
function hasRequests(e: Engine, l: number): number {
  if (e.x.enter(e.thr, l) !== 0) return ERR_RETRY;
  try {
    const i32 = e.refresh();
    for (let p = i32[(l + L_HOLDS) >> 2]; p !== 0; p = i32[(p + N_HNEXT) >> 2]) {
      if (i32[(p + N_OWNER) >> 2] === e.thr) return 1;
    }
    for (let p = i32[(l + L_HEAD) >> 2]; p !== 0; p = i32[(p + N_NEXT) >> 2]) {
      if (i32[(p + N_OWNER) >> 2] === e.thr) return 1;
    }
    return 0;
  } finally {
    e.x.leave(e.thr, l);
  }
}

/** Turns a user's mode table into rows of masks and limits, checking everything. */
export function normaliseModes(modes: unknown): NormalMode[] {
  if (modes === null || typeof modes !== "object" || Array.isArray(modes)) {
    throw typeError("modes must be an object mapping mode names to { conflicts?, limit? }");
  }
  const names = Object.keys(modes);
  if (names.length === 0 || names.length > 32) {
    throw rangeError(`a lock has 1 to 32 modes, got ${names.length}`);
  }
  const index = new Map(names.map((n, i) => [n, i]));
  const rows = names.map((name) => ({ name, conflicts: 0, limit: UNLIMITED }));
  names.forEach((name, i) => {
    const spec = (modes as Record<string, unknown>)[name];
    if (spec === undefined) return;
    if (spec === null || typeof spec !== "object") throw typeError(`mode '${name}' must be an object`);
    const { conflicts, limit } = spec as { conflicts?: unknown; limit?: unknown };
    if (conflicts !== undefined) {
      if (!Array.isArray(conflicts)) throw typeError(`mode '${name}': conflicts must be an array of mode names`);
      for (const c of conflicts) {
        const j = index.get(c);
        if (j === undefined) throw typeError(`mode '${name}' conflicts with unknown mode '${String(c)}'`);
        rows[i].conflicts |= 1 << j;
        rows[j].conflicts |= 1 << i;
      }
    }
    if (limit !== undefined) {
      if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > UNLIMITED) {
        throw rangeError(`mode '${name}': limit must be an integer from 1 to ${UNLIMITED}, got ${String(limit)}`);
      }
      rows[i].limit = limit;
    }
  });
  for (const r of rows) r.conflicts >>>= 0;
  return rows;
}

// A request, first queued (a waiter the engine's grant or its cancellation
// settles) and then granted (the guard its promise resolves to). One object
// serves both, so a handoff allocates nothing: in a drain of 100k waiters that
// keeps the young generation, and so the garbage collector, out of the way.
// One lives per queued request, so it is kept to five fields; mode and
// generation come from the node's CTL word, and the promise's reject function
// is not kept (a cancel resolves the promise with a rejected one instead).
/** @internal */
export class Ticket<T = unknown> implements Guard<T>, GrantSink {
  readonly #lock: LockCore;
  readonly #node: number;
  // 0 while queued; the node's CTL word once granted (generation, mode,
  // abandoned), with RELEASED set once released.
  #ctl: number;
  // The promise's resolve function while queued; the granted weight after.
  #aux: ((g: Guard | Promise<never>) => void) | number;
  // Timer and abort listener while queued; only when a timeout or signal is given.
  /** @internal */ extra: WaiterExtra | undefined = undefined;

  constructor(lock: LockCore, node: number, ctl: number, weight: number) {
    this.#lock = lock;
    this.#node = node;
    this.#ctl = ctl;
    this.#aux = weight;
  }

  /** @internal A queued request's promise; settles with this ticket as the guard. */
  promise(): Promise<Guard> {
    return new Promise<Guard>((resolve) => {
      this.#aux = resolve;
    });
  }

  get mode(): string {
    return this.#lock.names[(this.#ctl >>> CTL_MODE_SHIFT) & CTL_MODE_MASK];
  }

  get weight(): number {
    return typeof this.#aux === "number" ? this.#aux : 0;
  }

  get abandoned(): boolean {
    return (this.#ctl & CTL_ABANDONED) !== 0;
  }

  get released(): boolean {
    return (this.#ctl & RELEASED) !== 0;
  }

  release(): void {
    const ctl = this.#ctl;
    if ((ctl & RELEASED) !== 0 || ctl === 0) return;
    this.#ctl = ctl | RELEASED;
    const lock = this.#lock;
    const node = this.#node;
    const gen = ctl >>> CTL_GEN_SHIFT;
    let ok: boolean;
    try {
      ok = lock.releaseNode(node, gen);
    } catch (err) {
      lock.settled();
      throw err;
    }
    if (ok) lock.settled();
    else releaseLater(lock, node, gen);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  get value(): T {
    if ((this.#ctl & RELEASED) !== 0) throw usedAfterRelease();
    return this.#lock.value as T;
  }

  set value(v: T) {
    if ((this.#ctl & RELEASED) !== 0) throw usedAfterRelease();
    if (this.mode === "read") throw typeError("a read guard cannot replace the guarded value");
    this.#lock.value = v;
  }

  /** @internal The node this request or grant lives on. */
  get node(): number {
    return this.#node;
  }

  /** @internal The lock this request or grant belongs to. */
  get owner(): LockCore {
    return this.#lock;
  }

  /** @internal Generation of the grant (valid once granted). */
  get gen(): number {
    return this.#ctl >>> CTL_GEN_SHIFT;
  }

  /** @internal Whether the request was granted (it may have been released since). */
  get isGranted(): boolean {
    return this.#ctl !== 0;
  }

  /** @internal A Condition wait re-acquired the lock on this node: the grant's new CTL word. */
  regranted(ctl: number): void {
    this.#ctl = ctl;
  }

  /** @internal Tries to cancel now: false when the engine stayed busy. */
  cancelNow(reason: unknown): boolean {
    return this.done || this.#tryCancel(reason);
  }

  /** Whether the request has settled (granted or cancelled). */
  get done(): boolean {
    return this.#lock.engine.parked(this.#node) !== this;
  }

  granted(node: number, ctl: number): void {
    if (this.extra !== undefined) this.#cleanup();
    const resolve = this.#aux as (g: Guard) => void;
    this.#aux = this.#lock.engine.view(node)[(node + N_WEIGHT) >> 2] >>> 0;
    this.#ctl = ctl;
    resolve(this);
  }

  // Timeout or abort. The engine decides who won: if the grant did, the abort
  // is ignored and the grant is delivered instead. The node's generation is
  // read back from memory: it changes only when the node is freed, which
  // cannot happen while this request is parked on it.
  cancel(reason: unknown): void {
    if (!this.#tryCancel(reason)) this.#cancelLater(reason);
  }

  // Out of line: a closure in cancel() itself would cost every call a context.
  #cancelLater(reason: unknown): void {
    this.#lock.engine.later(() => this.done || this.#tryCancel(reason));
  }

  // False when the engine was busy (nothing done: try again later).
  #tryCancel(reason: unknown): boolean {
    const e = this.#lock.engine;
    const node = this.#node;
    // As for a release (Engine.release): a waiter left queued while this
    // thread blocks could be granted and then held with nobody to release it.
    const r = e.persist(() => e.x.cancel(e.thr, node, e.gen(node)));
    if (r === ERR_RETRY) return false;
    if (r === ERR_GRANTED) {
      e.drain();
      return true;
    }
    this.#cleanup();
    e.unpark(node);
    (this.#aux as (g: Promise<never>) => void)(Promise.reject(reason));
    if (r > 0) e.drain();
    this.#lock.settled();
    return true;
  }

  setTimer(ms: number): void {
    this.extra ??= {};
    if (ms <= MAX_TIMER_MS) this.extra.timer = setTimeout(timedOut, ms, this, ms);
    else this.extra.long = new Deadline(ms, () => this.cancel(new TimeoutError(ms)));
  }

  listen(signal: AbortSignal): void {
    const listener = () => this.cancel(signal.reason);
    this.extra ??= {};
    this.extra.signal = signal;
    this.extra.listener = listener;
    signal.addEventListener("abort", listener, { once: true });
  }

  #cleanup(): void {
    const x = this.extra;
    if (x === undefined) return;
    this.extra = undefined;
    if (x.timer !== undefined) clearTimeout(x.timer);
    x.long?.clear();
    if (x.signal !== undefined && x.listener !== undefined) x.signal.removeEventListener("abort", x.listener);
  }
}

// The engine is busy recovering from a dead thread: the guard is released as
// far as its holder is concerned, and in the engine as soon as it can be.
// Out of line: a closure in release() itself would cost every call a context.
function releaseLater(lock: LockCore, node: number, gen: number): void {
  const e = lock.engine;
  e.later(() => {
    if (!lock.releaseNode(node, gen)) return false;
    lock.settled();
    return true;
  });
}

// Set in a released ticket's CTL copy: state bits 3 never occur in the engine.
const RELEASED = 1;

function usedAfterRelease(): LockError {
  return new LockError("ERR_RINGLOCK_RELEASED", "ringlock: guard used after release");
}

/** setTimeout without its 2^31 - 1 ms cap (a longer delay would fire after
 *  1 ms): re-arms for what is left until the whole time has passed. */
class Deadline {
  #timer: ReturnType<typeof setTimeout> | undefined;
  constructor(ms: number, fire: () => void) {
    this.#arm(ms, fire);
  }
  #arm(left: number, fire: () => void): void {
    const step = Math.min(left, MAX_TIMER_MS);
    this.#timer = setTimeout(() => (left > step ? this.#arm(left - step, fire) : fire()), step);
  }
  clear(): void {
    clearTimeout(this.#timer);
  }
}

function timedOut(w: Ticket, ms: number): void {
  w.cancel(new TimeoutError(ms));
}

interface WaiterExtra {
  timer?: ReturnType<typeof setTimeout>;
  long?: Deadline;
  signal?: AbortSignal;
  listener?: () => void;
}

// The error for bad acquire options, or undefined: promise-returning calls
// reject with it rather than throw.
function checkOptions(o: AcquireOptions): Error | undefined {
  if (o === null || typeof o !== "object") return typeError("options must be an object");
  const { signal, timeout } = o;
  if (signal !== undefined && !(signal instanceof AbortSignal)) return typeError("signal must be an AbortSignal");
  if (timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0))) {
    return rangeError(`timeout must be a number of milliseconds >= 0, got ${String(timeout)}`);
  }
  return undefined;
}

// Why a request with these options is refused before it starts (bad options,
// or an already-aborted signal: its reason), or undefined. An aborted signal's
// reason is never undefined (abort() without one gives an AbortError).
/** @internal Also used by the Redis engine (bindings/redis/). */
export function refusal(o: AcquireOptions | undefined): unknown {
  if (o === undefined) return undefined;
  const bad = checkOptions(o);
  if (bad !== undefined) return bad;
  return o.signal?.aborted ? o.signal.reason : undefined;
}

function disposed(): TypeError {
  return typeError("lock is disposed");
}

const noop = () => {};

/** @internal Runs `start` unless computing its arguments throws: a promise
 *  API reports bad input by rejecting, never by throwing. */
export function rejecting<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (err) {
    return Promise.reject(err);
  }
}

// A pinned lock's reference (an engine handle record), as the finalizer sees it.
interface Cell {
  engine: Engine;
  ptr: number;
  handle: number;
}

const DISPOSED = -1;

/** The shared machinery of every lock type (not constructed directly).
 *
 *  A lock that was never shared occupies shared memory only while it is in
 *  use: its block is created by the first request, and once the last request
 *  settles (`outstanding` drops to 0) the lock joins its engine's ring of
 *  recently idle locks. A lock pushed out of the ring while still idle gives
 *  its block back. So a hot lock keeps its block, and a program with a
 *  million idle locks, or one that drops locks faster than the garbage
 *  collector finds them, holds at most IDLE_RING idle blocks for them. Once
 *  shared (share() or from()) the block is pinned until the lock object is
 *  disposed or collected in every thread that has it.
 */
export abstract class LockCore {
  /** @internal */ readonly engine: Engine;
  /** @internal the lock's address; 0 while dormant (no block), DISPOSED once disposed */ ptr: number;
  /** @internal */ readonly names: readonly string[];
  /** @internal */ readonly rows: readonly NormalMode[];
  /** @internal holds + waits + watchers of this thread through this object */ outstanding = 0;
  /** @internal the guarded value, if any */ value: unknown;
  /** @internal the block outlives idleness: other threads may know its address */ pinned: boolean;
  /** @internal mode table, shared by every lock of this shape in the engine; 0 until first needed */ table: number;
  readonly #tableKey: string;
  /** @internal position in the engine's idle ring when this lock last went idle */ idleAt = -1;
  #cell: Cell | undefined = undefined;

  /** @internal the class name share() and from() use */ abstract readonly kind: string;
  /** The name this lock was asked for by (options.name), if any. */
  readonly name: string | undefined;

  /** @internal */
  constructor(rows: NormalMode[], opts: LockOptions | undefined, adopt?: Adopted) {
    this.rows = rows;
    this.names = rows.map((r) => r.name);
    if (adopt) {
      this.engine = adopt.engine;
      this.ptr = adopt.ptr;
      this.value = adopt.value;
      this.pinned = false;
      this.table = this.engine.view(adopt.ptr)[(adopt.ptr + L_TABLE) >> 2];
      this.#tableKey = "";
      this.name = undefined;
      this.#pin(adopt.ptr, false);
    } else {
      if (opts !== undefined && (opts === null || typeof opts !== "object"))
        throw typeError("options must be an object");
      const engine = opts?.engine ?? Engine.default;
      if (!(engine instanceof Engine)) throw typeError("options.engine must be an Engine");
      this.engine = engine;
      const name = opts?.name;
      if (name !== undefined && typeof name !== "string") {
        throw typeError(`options.name must be a string, got ${typeof name}`);
      }
      this.name = name;
      // The table (and a named lock's block) is made on first use: a constructor never waits for the engine.
      this.#tableKey = rows.map((r) => `${r.conflicts}/${r.limit}`).join(",");
      this.table = 0;
      this.ptr = 0;
      this.pinned = false;
    }
  }

  // From now on other threads may know the block's address: keep it until
  // this object is disposed or collected. The reference is held through a
  // handle record of this thread, which the reaper drops if the thread dies.
  // `owned`: this object already holds the reference lockNew() returned.
  #pin(l: number, owned: boolean): void {
    const e = this.engine;
    const handle = e.sync(() => e.x.handleNew(e.thr, l, owned ? 1 : 0));
    if (handle === 0) throw engineError(ERR_NOMEM, e.maxMemoryBytes);
    this.#pinned(l, handle);
  }

  #pinned(l: number, handle: number): void {
    const e = this.engine;
    this.pinned = true;
    this.#cell = { engine: e, ptr: l, handle };
    finalizer.register(this, this.#cell, this);
    e.locks.set(l, new WeakRef(this));
  }

  /** @internal The lock's block, created if dormant, or ERR_RETRY when the
   *  engine is busy; throws once disposed. */
  block(): number {
    const l = this.ptr;
    if (l > 0) return l;
    if (l === DISPOSED) throw disposed();
    const e = this.engine;
    if (this.table === 0) {
      const t = e.table(this.#tableKey, this.rows);
      if (t === ERR_RETRY) return t;
      this.table = t;
    }
    if (this.name !== undefined) return this.#bindName(this.name);
    const ptr = e.x.lockNew(e.thr, this.table);
    if (ptr === ERR_RETRY) return ptr;
    if (ptr === 0) throw engineError(ERR_NOMEM, e.maxMemoryBytes);
    this.ptr = ptr;
    return ptr;
  }

  // A named lock: the name's lock, found or made, pinned through a handle.
  #bindName(name: string): number {
    const e = this.engine;
    const rows = this.rows;
    const h = bindName(e, name, { kind: this.kind, modes: rows.length, firstLimit: rows[0].limit }, this.table);
    if (h === ERR_RETRY) return h;
    const l = e.view(h)[(h + HD_LOCK) >> 2];
    this.ptr = l;
    this.#pinned(l, h);
    return l;
  }

  /** @internal Releases a granted node of this lock (a sync object's waiter
   *  may release differently: bindings/sync.ts). False when the engine was busy. */
  releaseNode(node: number, gen: number): boolean {
    return this.engine.release(node, gen);
  }

  /** @internal The weight limit of mode m (a sync object's may change). */
  limitOf(m: number): number {
    return this.rows[m].limit;
  }

  /** @internal Creates the block now and keeps it for this object's lifetime
   *  (sync objects: their state lives in the block). */
  pinNow(ptr: number, table: number): void {
    this.ptr = ptr;
    this.table = table;
    this.#pin(ptr, true);
  }

  /** @internal A request the engine took (a node, with QUEUED_BIT if it waits),
   *  as a Promise of its guard: timeout and signal as for acquire. */
  submit(r: number, w: number, o: AcquireOptions | undefined): Promise<Guard> {
    this.outstanding++;
    return this.#submitted(r, w, o?.signal, o?.timeout);
  }

  /** @internal Blocking form of submit(), for threads that may block
   *  (bindings/blocking.ts): returns the guard, or throws. */
  submitSync(r: number, w: number, o: AcquireOptions | undefined, m: number): Guard {
    const e = this.engine;
    this.outstanding++;
    if ((r & QUEUED_BIT) === 0) return new Ticket(this, r, e.view(r)[(r + N_CTL) >> 2], w);
    const node = r & ~QUEUED_BIT;
    const waiter = new Ticket(this, node, 0, 0);
    waiter.promise().catch(noop);
    e.park(node, waiter);
    if (!waiter.done && m >= 0 && selfDeadlock(this, node, m, w)) {
      cancelSync(waiter, deadlockError());
      if (waiter.isGranted) return waiter;
      throw deadlockError();
    }
    const timeout = o?.timeout;
    if (!blockUntil(e, node, () => waiter.done, timeout)) {
      const err = new TimeoutError(timeout ?? 0);
      cancelSync(waiter, err);
      if (!waiter.isGranted) throw err;
    }
    return waiter;
  }

  /** @internal Blocking acquire of mode m, weight w. */
  acquireSyncIndex(m: number, w: number, o: AcquireOptions | undefined): Guard {
    assertCanBlock("acquireSync");
    const no = refusal(o);
    if (no !== undefined) throw no;
    const e = this.engine;
    const l = e.sync(() => this.block());
    const r = e.sync(() => e.x.acquire(e.thr, l, m, w));
    if (r < 0) throw engineError(r, e.maxMemoryBytes);
    return this.submitSync(r, w, o, m);
  }

  /** @internal One request through this object settled. */
  settled(): void {
    if (--this.outstanding !== 0 || this.pinned) return;
    // Idle and known to nobody else: into the ring; evict the lock the ring
    // drops if it stayed idle all the while.
    const e = this.engine;
    const ring = e.idleRing as (LockCore | undefined)[];
    const at = e.idlePos++;
    const slot = at & (ring.length - 1);
    const old = ring[slot];
    ring[slot] = this;
    this.idleAt = at;
    if (old !== undefined && old !== this && old.idleAt === at - ring.length) old.#sleep();
  }

  #sleep(): void {
    const l = this.ptr;
    if (l > 0 && this.outstanding === 0 && !this.pinned) {
      const e = this.engine;
      this.ptr = 0;
      e.later(() => e.x.lockDrop(e.thr, l) !== ERR_RETRY);
    }
  }

  /** @internal The block for reading state, or 0 when dormant (free, nobody waiting). */
  peek(): number {
    const l = this.ptr;
    if (l === DISPOSED) throw disposed();
    // A named lock may be in use elsewhere: find it before reporting.
    if (l === 0 && this.name !== undefined) return this.engine.sync(() => this.block());
    return l;
  }

  /** @internal */
  modeIndex(mode: unknown): number {
    return modeIndexOf(this.names, mode);
  }

  /** @internal */
  checkWeight(m: number, w: unknown): number {
    return checkWeightOf(this.rows, m, w);
  }

  /** @internal */
  acquireIndex(m: number, w: number, o: AcquireOptions | undefined): Promise<Guard> {
    const no = refusal(o);
    if (no !== undefined) return Promise.reject(no);
    const e = this.engine;
    const l = this.ptr;
    if (l > 0 && !e.deferring) {
      // Fast path: the block exists and nothing of this thread waits before us.
      const r = e.x.acquire(e.thr, l, m, w);
      if (r > 0) {
        this.outstanding++;
        if ((r & QUEUED_BIT) === 0) return Promise.resolve(new Ticket(this, r, e.view(r)[(r + N_CTL) >> 2], w));
        return this.#submitted(r, w, o?.signal, o?.timeout);
      }
      if (r !== ERR_RETRY) return Promise.reject(engineError(r, e.maxMemoryBytes));
    }
    if (l === DISPOSED) return Promise.reject(disposed());
    this.outstanding++;
    let r: number;
    try {
      r = this.engine.deferring ? ERR_RETRY : this.#request(m, w);
    } catch (err) {
      this.settled();
      return Promise.reject(err);
    }
    if (r === ERR_RETRY) return this.#deferAcquire(m, w, o);
    return this.#submitted(r, w, o?.signal, o?.timeout);
  }

  // Creates the block if dormant and asks the engine: the node (with
  // QUEUED_BIT if it waits), or ERR_RETRY when the engine is busy.
  #request(m: number, w: number): number {
    const l = this.block();
    if (l === ERR_RETRY) return l;
    const e = this.engine;
    const r = e.x.acquire(e.thr, l, m, w);
    if (r < 0 && r !== ERR_RETRY) throw engineError(r, e.maxMemoryBytes);
    return r;
  }

  // The engine took the request: granted at once, or queued.
  #submitted(r: number, w: number, signal: AbortSignal | undefined, timeout: number | undefined): Promise<Guard> {
    const e = this.engine;
    if ((r & QUEUED_BIT) === 0) {
      return Promise.resolve(new Ticket(this, r, e.view(r)[(r + N_CTL) >> 2], w));
    }
    const node = r & ~QUEUED_BIT;
    const waiter = new Ticket(this, node, 0, 0);
    const p = waiter.promise();
    // park() may settle the grant at once (it drains the inbox when it arms
    // the wake-up): a granted request must get no timer and no cancel.
    e.park(node, waiter);
    if (waiter.done) return p;
    if (timeout === 0) {
      waiter.cancel(new TimeoutError(0));
      return p;
    }
    // Another thread may hand the lock over within a microsecond or two; not
    // worth a spin when this thread holds it (only its event loop can release
    // it). The newest holder is read without the lock's word: a hint.
    const l = this.ptr;
    const newest = l > 0 ? Atomics.load(e.i32, (l + L_HOLDS) >> 2) : 0;
    if (newest === 0 || e.i32[(newest + N_OWNER) >> 2] !== e.thr) e.spin();
    if (waiter.done) return p;
    if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) waiter.setTimer(timeout);
    if (signal !== undefined) waiter.listen(signal);
    return p;
  }

  // The engine was busy (recovering from a dead thread): the request reaches
  // it from the engine's retry timer, in this thread's order; its timeout and
  // signal count from now.
  #deferAcquire(m: number, w: number, o: AcquireOptions | undefined): Promise<Guard> {
    const signal = o?.signal;
    const timeout = o?.timeout;
    if (timeout === 0) {
      this.settled();
      return Promise.reject(new TimeoutError(0));
    }
    const start = performance.now();
    return new Promise<Guard>((resolve, reject) => {
      let over = false;
      let timer: Deadline | undefined;
      const end = () => {
        over = true;
        timer?.clear();
        signal?.removeEventListener("abort", onAbort);
      };
      const give = (err: unknown) => {
        if (over) return;
        end();
        this.settled();
        reject(err);
      };
      const onAbort = () => give(signal?.reason);
      if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) {
        timer = new Deadline(timeout, () => give(new TimeoutError(timeout)));
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.engine.later(() => {
        if (over) return true;
        let r: number;
        try {
          r = this.#request(m, w);
        } catch (err) {
          give(err);
          return true;
        }
        if (r === ERR_RETRY) return false;
        end();
        const left = timeout === undefined ? undefined : Math.max(1, timeout - (performance.now() - start));
        resolve(this.#submitted(r, w, signal, left));
        return true;
      });
    });
  }

  /** @internal */
  tryIndex(m: number, w: number): Guard | null {
    const e = this.engine;
    // Requests of this thread still waiting for a busy engine come first.
    if (e.deferring) return null;
    const l = this.block();
    if (l === ERR_RETRY) return null;
    this.outstanding++;
    const r = e.x.tryAcquire(e.thr, l, m, w);
    if (r <= 0) {
      this.settled();
      if (r === 0 || r === ERR_RETRY) return null;
      throw engineError(r, e.maxMemoryBytes);
    }
    return new Ticket(this, r, e.view(r)[(r + N_CTL) >> 2], w);
  }

  /** @internal Takes the lock at once in mode m, whatever holds it (Web
   *  Locks' steal): its holders are told through Engine.watchStolen. */
  stealIndex(m: number, w: number): Guard {
    const e = this.engine;
    const l = e.sync(() => this.block());
    this.outstanding++;
    let r: number;
    try {
      r = e.sync(() => e.x.steal(e.thr, l, m, w));
    } catch (err) {
      this.settled();
      throw err;
    }
    if (r <= 0) {
      this.settled();
      throw engineError(r, e.maxMemoryBytes);
    }
    const g = new Ticket(this, r, e.view(r)[(r + N_CTL) >> 2], w);
    e.drain();
    e.checkStolen();
    return g;
  }

  /** @internal Calls onStolen if guard g's hold is stolen (see stealIndex). */
  watchSteal(g: Guard, onStolen: () => void): void {
    const t = g as Ticket;
    this.engine.watchStolen(t.node, t.gen, onStolen);
  }

  /** @internal */
  unwatchSteal(g: Guard): void {
    this.engine.unwatchStolen((g as Ticket).node);
  }

  /** @internal */
  async runIndex<T>(m: number, w: number, fn: (g: Guard) => T | PromiseLike<T>, o?: AcquireOptions): Promise<T> {
    if (typeof fn !== "function") throw typeError("run() needs a function");
    const g = await this.acquireIndex(m, w, o);
    let r: T | PromiseLike<T>;
    try {
      r = fn(g);
    } catch (err) {
      g.release();
      throw err;
    }
    // Only a thenable result is awaited: awaiting a plain value costs a tick.
    if (
      r === null ||
      (typeof r !== "object" && typeof r !== "function") ||
      typeof (r as PromiseLike<T>).then !== "function"
    ) {
      g.release();
      return r as T;
    }
    try {
      return await r;
    } finally {
      g.release();
    }
  }

  /** @internal Resolves the next time tryAcquire(m, w) would succeed (a hint: no reservation). */
  whenIndex(m: number, w: number, o: AcquireOptions | undefined): Promise<void> {
    const no = refusal(o);
    if (no !== undefined) return Promise.reject(no);
    const signal = o?.signal;
    const timeout = o?.timeout;
    const l = this.ptr;
    if (l === DISPOSED) return Promise.reject(disposed());
    const e = this.engine;
    // A dormant lock is free with nobody waiting: a try would pass.
    if (l === 0 || e.x.canAcquire(l, m, w) === 1) return Promise.resolve();
    // Watching keeps the block: its VERSION word is what we park on.
    this.outstanding++;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      let timer: Deadline | undefined;
      const finish = (err?: unknown) => {
        if (done) return;
        done = true;
        e.x.watch(l, -1);
        e.watchers(-1);
        timer?.clear();
        signal?.removeEventListener("abort", onAbort);
        this.settled();
        if (err === undefined) resolve();
        else reject(err);
      };
      const onAbort = () => finish(signal?.reason);
      const index = (l + L_VERSION) >> 2;
      const check = () => {
        while (!done) {
          const i32 = e.refresh();
          const v = Atomics.load(i32, index);
          if (e.x.canAcquire(l, m, w) === 1) return finish();
          const r = e.waitAsync(i32, index, v);
          if (r.async) {
            r.value.then(check);
            return;
          }
        }
      };
      e.x.watch(l, 1);
      e.watchers(1);
      if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) {
        timer = new Deadline(timeout, () => finish(new TimeoutError(timeout)));
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      check();
    });
  }

  /** @internal Weight held in mode m, across all threads. */
  heldIndex(m: number): number {
    const l = this.peek();
    return l === 0 ? 0 : Atomics.load(this.engine.view(l), (l + L_HELD + 4 * m) >> 2) >>> 0;
  }

  /** Number of requests queued on this lock, across all threads. */
  get waiting(): number {
    const l = this.peek();
    return l === 0 ? 0 : Atomics.load(this.engine.view(l), (l + L_NWAIT) >> 2);
  }

  /** @internal A consistent snapshot of holders and waiters (taken under the lock's internal word). */
  snapshot(): LockState<string> {
    const e = this.engine;
    const l = this.peek();
    const held: QueryEntry<string>[] = [];
    const pending: QueryEntry<string>[] = [];
    if (l === 0) return { held, pending };
    // Busy (a dead thread's word, not yet reaped): read without the word, a
    // snapshot that may be one step stale, bounded so it cannot loop.
    const locked = e.x.enter(e.thr, l) === 0;
    try {
      const i32 = e.refresh();
      const top = i32[H_TOP >> 2];
      const ok = (p: number) => p > 0 && p < top && (p & (MIN_BLOCK - 1)) === 0;
      const entry = (p: number): QueryEntry<string> => ({
        mode: this.names[(i32[(p + N_CTL) >> 2] >>> CTL_MODE_SHIFT) & CTL_MODE_MASK],
        weight: i32[(p + N_WEIGHT) >> 2] >>> 0,
        threadId: i32[(i32[(p + N_OWNER) >> 2] + R_TID) >> 2],
      });
      const limit = top >>> 5;
      for (let p = i32[(l + L_HOLDS) >> 2]; ok(p) && held.length < limit; p = i32[(p + N_HNEXT) >> 2]) {
        held.push(entry(p));
      }
      for (let p = i32[(l + L_HEAD) >> 2]; ok(p) && pending.length < limit; p = i32[(p + N_NEXT) >> 2]) {
        pending.push(entry(p));
      }
    } finally {
      if (locked) e.x.leave(e.thr, l);
    }
    // The hold list is newest first; report in grant order.
    held.reverse();
    return { held, pending };
  }

  /** A structured-clonable value (postMessage, workerData) that `from()` turns back into this lock in any thread. */
  share(): SharedLock {
    const kind = this.kind;
    const value = this.value;
    if (this.ptr === DISPOSED) throw disposed();
    if (value !== undefined && !isShareableValue(value)) {
      throw typeError(
        "share(): the guarded value must be a SharedArrayBuffer or a typed array/DataView over one to travel to another thread (other values are copied by postMessage and would no longer be guarded)",
      );
    }
    const e = this.engine;
    const l = e.sync(() => this.block());
    if (!this.pinned) this.#pin(l, true);
    return {
      ringlock: "lock",
      kind,
      engine: this.engine.share(),
      ptr: l,
      modes: this.rows.map((r) => ({ ...r })),
      ...(value === undefined ? {} : { value }),
    };
  }

  /** Gives this handle's share of the lock back to the engine. The lock must not be held or awaited through it. */
  dispose(): void {
    const l = this.ptr;
    if (l === DISPOSED) return;
    if (this.outstanding > 0) {
      throw new LockError("ERR_RINGLOCK_BUSY", "ringlock: cannot dispose a lock that this thread holds or awaits");
    }
    finalizer.unregister(this);
    this.ptr = DISPOSED;
    const cell = this.#cell;
    const e = this.engine;
    if (cell !== undefined) {
      e.locks.delete(l);
      e.later(() => e.x.handleDrop(e.thr, cell.handle) !== ERR_RETRY);
    } else if (l > 0) {
      e.later(() => e.x.lockDrop(e.thr, l) !== ERR_RETRY);
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function isShareableValue(v: unknown): boolean {
  if (v instanceof SharedArrayBuffer) return true;
  return ArrayBuffer.isView(v) && v.buffer instanceof SharedArrayBuffer;
}

/** @internal A mode's index by name, or a TypeError naming the lock's modes
 *  (shared with the Redis locks). */
export function modeIndexOf(names: readonly string[], mode: unknown): number {
  const i = typeof mode === "string" ? names.indexOf(mode) : -1;
  if (i < 0) throw typeError(`unknown mode '${String(mode)}'; this lock has ${names.join(", ")}`);
  return i;
}

/** @internal A request's weight (default 1), or a RangeError (shared with the Redis locks). */
export function checkWeightOf(rows: readonly NormalMode[], m: number, w: unknown): number {
  if (w === undefined) return 1;
  if (typeof w !== "number" || !Number.isInteger(w) || w < 1) {
    throw rangeError(`weight must be a positive integer, got ${String(w)}`);
  }
  const limit = rows[m].limit;
  if (w > limit) throw rangeError(`weight ${w} exceeds the limit ${limit} of mode '${rows[m].name}'`);
  return w;
}

/** @internal The engine, address and table a share() value names, checked to
 *  lie inside its engine (locks and sync objects alike). */
export function sharedTarget(shared: unknown, kind: string, what: string) {
  const s = shared as SharedLock;
  if (s === null || typeof s !== "object" || s.ringlock !== "lock") {
    throw typeError(`${kind}.from expects the value returned by share()`);
  }
  if (s.kind !== kind) throw typeError(`${kind}.from was given a shared ${String(s.kind)}`);
  const engine = Engine.from(s.engine);
  const ptr = s.ptr;
  const i32 = engine.refresh();
  const top = i32[H_TOP >> 2];
  if (!Number.isInteger(ptr) || ptr <= 0 || ptr % MIN_BLOCK !== 0 || ptr >= top) {
    throw typeError(`the shared ${what}'s address is not inside its engine (corrupted descriptor)`);
  }
  return { s, engine, ptr, i32, top, t: i32[(ptr + L_TABLE) >> 2] };
}

/** @internal Rebuilds a lock from share()'s value: checks it names a live
 *  lock of this shape; the same lock object for the same lock in one thread. */
export function adoptShared<L extends LockCore>(shared: unknown, kind: string, make: (adopt: Adopted) => L): L {
  if (!Array.isArray((shared as SharedLock | null)?.modes)) {
    throw typeError(`${kind}.from expects the value returned by share()`);
  }
  const { s, engine, ptr, i32, top, t } = sharedTarget(shared, kind, "lock");
  const n = t > 0 && t < top ? i32[(t + T_NMODES) >> 2] : -1;
  if (n !== s.modes.length) throw typeError("the shared lock does not match its engine (corrupted descriptor)");
  const rows = s.modes.map((r, i) => {
    const row = {
      name: String(r.name),
      conflicts: i32[(t + T_CONFLICT + 4 * i) >> 2] >>> 0,
      limit: i32[(t + T_CONFLICT + 4 * (n + i)) >> 2] >>> 0,
    };
    if (row.conflicts !== r.conflicts >>> 0 || row.limit !== r.limit >>> 0) {
      throw typeError("the shared lock's modes do not match its engine (corrupted descriptor)");
    }
    return row;
  });
  const known = engine.locks.get(ptr)?.deref();
  if (known instanceof LockCore && known.ptr === ptr) {
    if (known.kind !== kind) throw typeError(`${kind}.from was given a shared ${known.kind}`);
    if (known.names.some((n, i) => n !== rows[i].name)) {
      throw typeError("the shared lock's mode names differ from the lock's (corrupted descriptor)");
    }
    return known as L;
  }
  return make({ engine, ptr, rows, value: s.value });
}

/** @internal What a lock is rebuilt from in another thread. */
export interface Adopted {
  engine: Engine;
  ptr: number;
  rows: NormalMode[];
  value: unknown;
}
