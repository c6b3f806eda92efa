// RedisFifoLock (user-defined modes) and the presets RedisMutex, RedisRWLock
// and RedisSemaphore: each is RedisLockCore with a fixed mode table and the
// in-process class's method names (bindings/presets.ts), every one returning a Promise.

import { rangeError } from "../errors.js";
import {
  type AcquireOptions,
  type ModeTable,
  normaliseModes,
  rejecting,
  type WeightedAcquireOptions,
} from "../lock.js";
import { RedisLockCore, type RedisLockState } from "./core.js";
import type { RedisGuard } from "./lease.js";
import type { RedisLocks } from "./locks.js";

/** A Redis lock with user-defined modes: any symmetric conflict table with per-mode limits. Strictly FIFO. */
export class RedisFifoLock<M extends string = string> extends RedisLockCore {
  /** @internal */
  constructor(locks: RedisLocks, name: string, modes: ModeTable<M>) {
    super(locks, name, normaliseModes(modes));
  }

  acquire(mode: M, o?: WeightedAcquireOptions): Promise<RedisGuard> {
    return rejecting(() => {
      const m = this.modeIndex(mode);
      return this.acquireIndex(m, this.checkWeight(m, o?.weight), o);
    });
  }

  tryAcquire(mode: M, weight?: number): Promise<RedisGuard | null> {
    return rejecting(() => {
      const m = this.modeIndex(mode);
      return this.tryIndex(m, this.checkWeight(m, weight));
    });
  }

  run<T>(mode: M, fn: (g: RedisGuard) => T | PromiseLike<T>, o?: WeightedAcquireOptions): Promise<T> {
    return rejecting(() => {
      const m = this.modeIndex(mode);
      return this.runIndex(m, this.checkWeight(m, o?.weight), fn, o);
    });
  }

  /** Holders and waiters (in queue order), across every process. */
  query(): Promise<RedisLockState<M>> {
    return this.snapshot() as Promise<RedisLockState<M>>;
  }
}

const MUTEX = { exclusive: { conflicts: ["exclusive"] } } as const;

/** Mutual exclusion on Redis, strictly FIFO. A fifoLock with one self-conflicting mode, 'exclusive'. */
export class RedisMutex extends RedisLockCore {
  /** @internal */
  constructor(locks: RedisLocks, name: string) {
    super(locks, name, normaliseModes(MUTEX));
  }

  acquire(o?: AcquireOptions): Promise<RedisGuard> {
    return this.acquireIndex(0, 1, o);
  }

  tryAcquire(): Promise<RedisGuard | null> {
    return rejecting(() => this.tryIndex(0, 1));
  }

  run<R>(fn: (g: RedisGuard) => R | PromiseLike<R>, o?: AcquireOptions): Promise<R> {
    return this.runIndex(0, 1, fn, o);
  }

  query(): Promise<RedisLockState<"exclusive">> {
    return this.snapshot() as Promise<RedisLockState<"exclusive">>;
  }
}

const RW = { read: { conflicts: ["write"] }, write: { conflicts: ["read", "write"] } } as const;

/** Readers-writer lock on Redis, strictly FIFO: a reader arriving behind a queued writer waits for it. */
export class RedisRWLock extends RedisLockCore {
  /** @internal */
  constructor(locks: RedisLocks, name: string) {
    super(locks, name, normaliseModes(RW));
  }

  read(o?: AcquireOptions): Promise<RedisGuard> {
    return this.acquireIndex(0, 1, o);
  }

  write(o?: AcquireOptions): Promise<RedisGuard> {
    return this.acquireIndex(1, 1, o);
  }

  tryRead(): Promise<RedisGuard | null> {
    return rejecting(() => this.tryIndex(0, 1));
  }

  tryWrite(): Promise<RedisGuard | null> {
    return rejecting(() => this.tryIndex(1, 1));
  }

  runRead<R>(fn: (g: RedisGuard) => R | PromiseLike<R>, o?: AcquireOptions): Promise<R> {
    return this.runIndex(0, 1, fn, o);
  }

  runWrite<R>(fn: (g: RedisGuard) => R | PromiseLike<R>, o?: AcquireOptions): Promise<R> {
    return this.runIndex(1, 1, fn, o);
  }

  query(): Promise<RedisLockState<"read" | "write">> {
    return this.snapshot() as Promise<RedisLockState<"read" | "write">>;
  }
}

/** Counting semaphore on Redis, strictly FIFO: a heavy request at the head blocks lighter ones behind it. */
export class RedisSemaphore extends RedisLockCore {
  /** Total permits. */
  readonly permits: number;

  /** @internal */
  constructor(locks: RedisLocks, name: string, permits: number) {
    if (typeof permits !== "number" || !Number.isInteger(permits) || permits < 1 || permits > 0xffffffff) {
      throw rangeError(`permits must be an integer from 1 to ${0xffffffff}, got ${String(permits)}`);
    }
    super(locks, name, normaliseModes({ permit: { limit: permits } }));
    this.permits = permits;
  }

  acquire(o?: WeightedAcquireOptions): Promise<RedisGuard> {
    return rejecting(() => this.acquireIndex(0, this.checkWeight(0, o?.weight), o));
  }

  tryAcquire(weight?: number): Promise<RedisGuard | null> {
    return rejecting(() => this.tryIndex(0, this.checkWeight(0, weight)));
  }

  run<R>(fn: (g: RedisGuard) => R | PromiseLike<R>, o?: WeightedAcquireOptions): Promise<R> {
    return rejecting(() => this.runIndex(0, this.checkWeight(0, o?.weight), fn, o));
  }

  query(): Promise<RedisLockState<"permit">> {
    return this.snapshot() as Promise<RedisLockState<"permit">>;
  }
}
