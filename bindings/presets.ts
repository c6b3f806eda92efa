// FifoLock (user-defined modes) and the presets Mutex, RWLock and Semaphore:
// each is LockCore with a fixed mode table and method names to match.

import { rangeError } from "./errors.js";
import {
  type AcquireOptions,
  type Adopted,
  adoptShared,
  type Guard,
  LockCore,
  type LockOptions,
  type LockState,
  type ModeTable,
  normaliseModes,
  rejecting,
  type SharedLock,
  type WeightedAcquireOptions,
} from "./lock.js";

/** A lock with user-defined modes: any symmetric conflict table with per-mode limits. Strictly FIFO. */
export class FifoLock<M extends string = string> extends LockCore {
  /** @internal */ readonly kind: string = "FifoLock";

  constructor(modes: ModeTable<M>, opts?: LockOptions);
  /** @internal */ constructor(modes: ModeTable<M> | null, opts: LockOptions | undefined, adopt: Adopted);
  constructor(modes: ModeTable<M> | null, opts?: LockOptions, adopt?: Adopted) {
    super(adopt ? adopt.rows : normaliseModes(modes), opts, adopt);
  }

  acquire(mode: M, o?: WeightedAcquireOptions): Promise<Guard> {
    return rejecting(() => {
      const m = this.modeIndex(mode);
      return this.acquireIndex(m, this.checkWeight(m, o?.weight), o);
    });
  }

  /** Blocking acquire, for threads that may block (workers); shares the one FIFO queue with acquire(). */
  acquireSync(mode: M, o?: WeightedAcquireOptions): Guard {
    const m = this.modeIndex(mode);
    return this.acquireSyncIndex(m, this.checkWeight(m, o?.weight), o);
  }

  tryAcquire(mode: M, weight?: number): Guard | null {
    const m = this.modeIndex(mode);
    return this.tryIndex(m, this.checkWeight(m, weight));
  }

  run<T>(mode: M, fn: (g: Guard) => T | PromiseLike<T>, o?: WeightedAcquireOptions): Promise<T> {
    return rejecting(() => {
      const m = this.modeIndex(mode);
      return this.runIndex(m, this.checkWeight(m, o?.weight), fn, o);
    });
  }

  whenAcquirable(mode: M, weight?: number, o?: AcquireOptions): Promise<void> {
    return rejecting(() => {
      const m = this.modeIndex(mode);
      return this.whenIndex(m, this.checkWeight(m, weight), o);
    });
  }

  /** Total weight of `mode` held, across all threads. */
  held(mode: M): number {
    return this.heldIndex(this.modeIndex(mode));
  }

  /** Holders and waiters (in queue order), across all threads. */
  query(): LockState<M> {
    return this.snapshot() as LockState<M>;
  }

  static from<M extends string = string>(shared: SharedLock): FifoLock<M> {
    return adoptShared(shared, "FifoLock", (a) => new FifoLock<M>(null, undefined, a));
  }
}

export interface GuardedOptions<T> extends LockOptions {
  /** A value only reachable through a guard (guard.value). */
  value?: T;
}

const MUTEX = { exclusive: { conflicts: ["exclusive"] } } as const;

/** Mutual exclusion, strictly FIFO. A FifoLock with one self-conflicting mode, 'exclusive'. */
export class Mutex<T = undefined> extends LockCore {
  /** @internal */ readonly kind: string = "Mutex";

  constructor(opts?: GuardedOptions<T>);
  /** @internal */ constructor(opts: GuardedOptions<T> | undefined, adopt: Adopted);
  constructor(opts?: GuardedOptions<T>, adopt?: Adopted) {
    super(adopt ? adopt.rows : normaliseModes(MUTEX), opts, adopt);
    if (!adopt) this.value = opts?.value;
  }

  acquire(o?: AcquireOptions): Promise<Guard<T>> {
    return this.acquireIndex(0, 1, o) as Promise<Guard<T>>;
  }

  /** Blocking acquire, for threads that may block (workers); shares the one FIFO queue with acquire(). */
  acquireSync(o?: AcquireOptions): Guard<T> {
    return this.acquireSyncIndex(0, 1, o) as Guard<T>;
  }

  tryAcquire(): Guard<T> | null {
    return this.tryIndex(0, 1) as Guard<T> | null;
  }

  run<R>(fn: (g: Guard<T>) => R | PromiseLike<R>, o?: AcquireOptions): Promise<R> {
    return this.runIndex(0, 1, fn as (g: Guard) => R | PromiseLike<R>, o);
  }

  whenAcquirable(o?: AcquireOptions): Promise<void> {
    return this.whenIndex(0, 1, o);
  }

  get locked(): boolean {
    return this.heldIndex(0) !== 0;
  }

  query(): LockState<"exclusive"> {
    return this.snapshot() as LockState<"exclusive">;
  }

  static from<T = undefined>(shared: SharedLock): Mutex<T> {
    return adoptShared(shared, "Mutex", (a) => new Mutex<T>(undefined, a));
  }
}

const RW = { read: { conflicts: ["write"] }, write: { conflicts: ["read", "write"] } } as const;

/** Readers-writer lock, strictly FIFO: a reader arriving behind a queued writer waits for it. */
export class RWLock<T = undefined> extends LockCore {
  /** @internal */ readonly kind: string = "RWLock";

  constructor(opts?: GuardedOptions<T>);
  /** @internal */ constructor(opts: GuardedOptions<T> | undefined, adopt: Adopted);
  constructor(opts?: GuardedOptions<T>, adopt?: Adopted) {
    super(adopt ? adopt.rows : normaliseModes(RW), opts, adopt);
    if (!adopt) this.value = opts?.value;
  }

  read(o?: AcquireOptions): Promise<Guard<Readonly<T>>> {
    return this.acquireIndex(0, 1, o) as Promise<Guard<Readonly<T>>>;
  }

  write(o?: AcquireOptions): Promise<Guard<T>> {
    return this.acquireIndex(1, 1, o) as Promise<Guard<T>>;
  }

  /** Blocking read, for threads that may block (workers). */
  readSync(o?: AcquireOptions): Guard<Readonly<T>> {
    return this.acquireSyncIndex(0, 1, o) as Guard<Readonly<T>>;
  }

  /** Blocking write, for threads that may block (workers). */
  writeSync(o?: AcquireOptions): Guard<T> {
    return this.acquireSyncIndex(1, 1, o) as Guard<T>;
  }

  tryRead(): Guard<Readonly<T>> | null {
    return this.tryIndex(0, 1) as Guard<Readonly<T>> | null;
  }

  tryWrite(): Guard<T> | null {
    return this.tryIndex(1, 1) as Guard<T> | null;
  }

  runRead<R>(fn: (g: Guard<Readonly<T>>) => R | PromiseLike<R>, o?: AcquireOptions): Promise<R> {
    return this.runIndex(0, 1, fn as (g: Guard) => R | PromiseLike<R>, o);
  }

  runWrite<R>(fn: (g: Guard<T>) => R | PromiseLike<R>, o?: AcquireOptions): Promise<R> {
    return this.runIndex(1, 1, fn as (g: Guard) => R | PromiseLike<R>, o);
  }

  whenReadable(o?: AcquireOptions): Promise<void> {
    return this.whenIndex(0, 1, o);
  }

  whenWritable(o?: AcquireOptions): Promise<void> {
    return this.whenIndex(1, 1, o);
  }

  /** Number of read holds, across all threads. */
  get readers(): number {
    return this.heldIndex(0);
  }

  get writing(): boolean {
    return this.heldIndex(1) !== 0;
  }

  query(): LockState<"read" | "write"> {
    return this.snapshot() as LockState<"read" | "write">;
  }

  static from<T = undefined>(shared: SharedLock): RWLock<T> {
    return adoptShared(shared, "RWLock", (a) => new RWLock<T>(undefined, a));
  }
}

/** Counting semaphore, strictly FIFO: a heavy request at the head blocks lighter ones behind it. */
export class Semaphore extends LockCore {
  /** @internal */ readonly kind: string = "Semaphore";
  /** Total permits. */
  readonly permits: number;

  constructor(permits: number, opts?: LockOptions);
  /** @internal */ constructor(permits: number, opts: LockOptions | undefined, adopt: Adopted);
  constructor(permits: number, opts?: LockOptions, adopt?: Adopted) {
    if (!adopt && (typeof permits !== "number" || !Number.isInteger(permits) || permits < 1 || permits > 0xffffffff)) {
      throw rangeError(`permits must be an integer from 1 to ${0xffffffff}, got ${String(permits)}`);
    }
    super(adopt ? adopt.rows : normaliseModes({ permit: { limit: permits } }), opts, adopt);
    this.permits = this.rows[0].limit;
  }

  acquire(o?: WeightedAcquireOptions): Promise<Guard> {
    if (o?.weight === undefined) return this.acquireIndex(0, 1, o);
    return rejecting(() => this.acquireIndex(0, this.checkWeight(0, o.weight), o));
  }

  /** Blocking acquire, for threads that may block (workers). */
  acquireSync(o?: WeightedAcquireOptions): Guard {
    return this.acquireSyncIndex(0, this.checkWeight(0, o?.weight), o);
  }

  tryAcquire(weight?: number): Guard | null {
    return this.tryIndex(0, this.checkWeight(0, weight));
  }

  run<R>(fn: (g: Guard) => R | PromiseLike<R>, o?: WeightedAcquireOptions): Promise<R> {
    return rejecting(() => this.runIndex(0, this.checkWeight(0, o?.weight), fn, o));
  }

  whenAcquirable(weight?: number, o?: AcquireOptions): Promise<void> {
    return rejecting(() => this.whenIndex(0, this.checkWeight(0, weight), o));
  }

  /** Permits not held right now (some may be promised to the queue's head). */
  get available(): number {
    return this.permits - this.heldIndex(0);
  }

  query(): LockState<"permit"> {
    return this.snapshot() as LockState<"permit">;
  }

  static from(shared: SharedLock): Semaphore {
    return adoptShared(shared, "Semaphore", (a) => new Semaphore(0, undefined, a));
  }
}
