// A grant on the Redis engine and its lease: the guard renews it while held,
// and aborts `lost` at the local deadline, before the server's lease can
// expire, so a live process learns first that it may no longer hold the lock.
//
// The local deadline is conservative. A script that grants or renews sets the
// server lease to (server time of the script) + leaseMs; the script ran after
// the request left this process, so the lease cannot run out before
// (local time the request was sent) + leaseMs of elapsed time. The deadline is
// that, less a drift allowance for the two clocks' rates (1% + 2 ms, as
// Redlock allows). Local time is performance.now() (monotonic); the server's
// is TIME, never this process's wall clock.

import { LockError } from "../errors.js";
import { redisError } from "./client.js";
import type { RedisLockCore } from "./core.js";
import { RELEASE, RENEW } from "./scripts.js";

/** A lock held on Redis. Release it exactly once (extra calls return the same promise). */
export interface RedisGuard {
  /** The lock's name. */
  readonly name: string;
  /** The mode granted: 'exclusive', 'read', 'write', 'permit', 'shared', or a fifoLock mode name. */
  readonly mode: string;
  /** Weight granted (1 unless asked otherwise). */
  readonly weight: number;
  /** Fencing token: strictly increasing per lock across all grants (pass it to the resource you guard). */
  readonly token: bigint;
  /** True when a previous holder's lease ran out while it held the lock: check the data it guarded. */
  readonly abandoned: boolean;
  /** Aborted once this process can no longer be sure it holds the lock (lease not renewed in time, or gone). */
  readonly lost: AbortSignal;
  readonly released: boolean;
  /** Releases the grant. Rejects with ERR_RINGLOCK_LOST if the server no longer had it (its lease ran out). */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export const now = (): number => performance.now();

/** Runs fn holding g, and releases g after it, whether fn succeeded or not. */
export async function whileHeld<T>(g: RedisGuard, fn: (g: RedisGuard) => T | PromiseLike<T>): Promise<T> {
  let r: T;
  try {
    r = await fn(g);
  } catch (err) {
    await g.release().catch(() => {});
    throw err;
  }
  await g.release();
  return r;
}

/** @internal */
export class Grant implements RedisGuard {
  readonly #core: RedisLockCore;
  readonly #id: string;
  readonly mode: string;
  readonly weight: number;
  readonly token: bigint;
  readonly abandoned: boolean;
  /** @internal the waiter's arrival number (queue order), if it waited */ readonly seq: bigint | undefined;
  // Created when first read (most guards are never asked): aborted at once
  // with the stored reason if the lease was lost before that.
  #lost: AbortController | undefined;
  #lostReason: LockError | undefined;
  #deadline: number;
  // When to send the next renewal; one timer serves both it and the deadline.
  #renewAt: number;
  #renewing = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #released: Promise<void> | undefined;

  constructor(
    core: RedisLockCore,
    id: string,
    m: number,
    weight: number,
    token: string,
    abandoned: boolean,
    sentAt: number,
    seq: bigint | undefined,
  ) {
    this.#core = core;
    this.#id = id;
    this.mode = core.names[m];
    this.weight = weight;
    this.token = BigInt(token);
    this.abandoned = abandoned;
    this.seq = seq;
    this.#deadline = this.#deadlineFrom(sentAt);
    this.#renewAt = this.#nextRenewal(now());
    core.locks.held.add(this);
    this.#arm();
  }

  get name(): string {
    return this.#core.name;
  }

  // Checked on every read as well as by the timer: a process that was paused
  // (SIGSTOP, a long GC, a suspended VM) may read it before its timers run.
  get lost(): AbortSignal {
    if (this.#lost === undefined) {
      this.#lost = new AbortController();
      if (this.#lostReason !== undefined) this.#lost.abort(this.#lostReason);
    }
    if (this.#lostReason === undefined && this.#released === undefined && now() >= this.#deadline) {
      this.#lose("the lease was not renewed in time");
    }
    return this.#lost.signal;
  }

  get released(): boolean {
    return this.#released !== undefined;
  }

  #deadlineFrom(sentAt: number): number {
    const { leaseMs, driftMs } = this.#core.locks.timing;
    return sentAt + leaseMs - driftMs;
  }

  // A third of the lease from t, or half of what is left if that is sooner
  // (a grant learned late).
  #nextRenewal(t: number): number {
    return t + Math.min(this.#core.locks.timing.renewMs, (this.#deadline - t) / 2);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const at = this.#renewing ? this.#deadline : Math.min(this.#renewAt, this.#deadline);
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, at - now()));
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#released !== undefined || this.#lostReason !== undefined) return;
    const t = now();
    if (t >= this.#deadline) this.#lose("the lease was not renewed in time");
    else if (!this.#renewing && t >= this.#renewAt) void this.#renew();
    else this.#arm();
  }

  async #renew(): Promise<void> {
    const sentAt = now();
    this.#renewing = true;
    this.#arm();
    let r: unknown[] | undefined;
    try {
      r = (await this.#core.call(RENEW, [this.#id, this.token.toString()])) as unknown[];
    } catch {
      // Try again soon; the deadline still stands.
      r = undefined;
    }
    this.#renewing = false;
    if (this.#released !== undefined || this.#lostReason !== undefined) return;
    const t = now();
    if (r === undefined) {
      this.#renewAt = t + Math.max(1, Math.min(this.#core.locks.timing.renewMs, (this.#deadline - t) / 3));
    } else if (Number(r[0]) !== 1) {
      return this.#lose("the server no longer has this grant (its lease ran out)");
    } else {
      this.#deadline = this.#deadlineFrom(sentAt);
      this.#renewAt = this.#nextRenewal(t);
    }
    this.#arm();
  }

  #lose(why: string): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lostReason !== undefined) return;
    this.#lostReason = new LockError("ERR_RINGLOCK_LOST", `ringlock: lock '${this.#core.name}' lost: ${why}`);
    this.#lost?.abort(this.#lostReason);
  }

  release(): Promise<void> {
    this.#released ??= this.#release();
    return this.#released;
  }

  async #release(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#core.locks.held.delete(this);
    let r: unknown[];
    try {
      r = (await this.#core.call(RELEASE, [this.#id, this.token.toString()])) as unknown[];
    } catch (err) {
      throw redisError(err);
    }
    if (Number(r[0]) !== 1) {
      this.#lose("the server no longer had this grant at release (its lease ran out)");
      throw new LockError(
        "ERR_RINGLOCK_LOST",
        `ringlock: lock '${this.#core.name}' was no longer held at release (its lease ran out; another holder may have been granted meanwhile)`,
      );
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
