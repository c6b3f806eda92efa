// The one generic Redis lock: a lock with named modes over the scripts in
// scripts.ts. RedisFifoLock is this class with the user's table; RedisMutex,
// RedisRWLock and RedisSemaphore (presets.ts) are fixed tables with the
// in-process classes' method names. Also the client side of a queued request
// (Waiter): how it learns of its grant (pub/sub message, or its own heartbeat
// poll when a message is lost), and how a timeout or abort dequeues it.

import { LockError, TimeoutError, typeError } from "../errors.js";
import { type AcquireOptions, checkWeightOf, modeIndexOf, type normaliseModes, refusal } from "../lock.js";
import { redisError } from "./client.js";
import { Grant, now, type RedisGuard, whileHeld } from "./lease.js";
import type { RedisLocks } from "./locks.js";
import { ACQUIRE, CANCEL, lockChannel, lockKeys, POLL, QUERY, type Script, TRY, tableArg } from "./scripts.js";

export type NormalMode = ReturnType<typeof normaliseModes>[number];

export interface RedisQueryEntry<M extends string> {
  mode: M;
  weight: number;
  /** The RedisLocks instance that asked (RedisLocks.owner: host/pid/random). */
  owner: string;
  /** Holders only: the grant's fencing token. */
  token?: bigint;
}

export interface RedisLockState<M extends string> {
  /** Holders, in grant order. */
  held: RedisQueryEntry<M>[];
  /** Waiters, in queue (grant) order. */
  pending: RedisQueryEntry<M>[];
}

/** The shared machinery of every Redis lock type (not constructed directly). */
export abstract class RedisLockCore {
  /** @internal */ readonly locks: RedisLocks;
  readonly name: string;
  /** @internal */ readonly names: readonly string[];
  /** @internal */ readonly rows: readonly NormalMode[];
  /** @internal */ readonly keys: string[];
  /** @internal */ readonly channel: string;
  readonly #table: string;

  /** @internal */
  constructor(locks: RedisLocks, name: string, rows: NormalMode[]) {
    if (typeof name !== "string" || name.length === 0) throw typeError("a Redis lock needs a non-empty string name");
    this.locks = locks;
    this.name = name;
    this.rows = rows;
    this.names = rows.map((r) => r.name);
    this.keys = lockKeys(locks.prefix, name);
    this.channel = lockChannel(locks.prefix, name);
    this.#table = tableArg(rows);
  }

  /** @internal Runs one of the lock's scripts; a table mismatch becomes an error here. */
  async call(s: Script, args: (string | number)[]): Promise<unknown[]> {
    const r = (await this.locks.adapter.run(s, this.keys, [this.channel, this.#table, ...args])) as unknown[];
    if (Number(r[0]) === -1) {
      throw new LockError(
        "ERR_RINGLOCK_MODE_TABLE",
        `ringlock: lock '${this.name}' is in use with another mode table (${String(r[1])}, this one is ${this.#table})`,
      );
    }
    return r;
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
  acquireIndex(m: number, w: number, o: AcquireOptions | undefined): Promise<RedisGuard> {
    const no = refusal(o);
    if (no !== undefined) return Promise.reject(no);
    if (this.locks.closed) return Promise.reject(closedError());
    // timeout 0: only if free now, as a try that never queues.
    if (o?.timeout === 0) {
      return this.tryIndex(m, w).then((g) => g ?? Promise.reject(new TimeoutError(0)));
    }
    return new Promise<RedisGuard>((resolve, reject) => {
      new Waiter(this, m, w, resolve, reject).start(o);
    });
  }

  /** @internal */
  async tryIndex(m: number, w: number): Promise<RedisGuard | null> {
    if (this.locks.closed) throw closedError();
    const id = this.locks.nextId();
    const sentAt = now();
    let r: unknown[];
    try {
      r = await this.call(TRY, [
        id,
        m,
        w,
        this.locks.timing.leaseMs,
        this.locks.timing.waiterLeaseMs,
        this.locks.owner,
      ]);
    } catch (err) {
      throw redisError(err);
    }
    if (Number(r[0]) !== 1) return null;
    return new Grant(this, id, m, w, String(r[1]), Number(r[2]) === 1, sentAt, undefined);
  }

  /** @internal */
  async runIndex<T>(
    m: number,
    w: number,
    fn: (g: RedisGuard) => T | PromiseLike<T>,
    o: AcquireOptions | undefined,
  ): Promise<T> {
    if (typeof fn !== "function") throw typeError("run() needs a function");
    return whileHeld(await this.acquireIndex(m, w, o), fn);
  }

  /** @internal Holders and waiters across every process, as the server has them now. */
  async snapshot(): Promise<RedisLockState<string>> {
    let r: unknown[];
    try {
      r = await this.call(QUERY, []);
    } catch (err) {
      throw redisError(err);
    }
    const entries = (flat: unknown[], holders: boolean) => {
      const out: RedisQueryEntry<string>[] = [];
      for (let i = 0; i < flat.length; i += 4) {
        const e: RedisQueryEntry<string> = {
          mode: this.names[Number(flat[i])],
          weight: Number(flat[i + 1]),
          owner: String(flat[i + 3]),
        };
        if (holders) e.token = BigInt(String(flat[i + 2]));
        out.push(e);
      }
      return out;
    };
    return { held: entries(r[1] as unknown[], true), pending: entries(r[2] as unknown[], false) };
  }
}

const MAX_TIMER_MS = 0x7fffffff;

function closedError(): LockError {
  return new LockError("ERR_RINGLOCK_CLOSED", "ringlock: RedisLocks is closed");
}

/** @internal A request on its way to a grant: queued on the server, or about to be.
 *
 *  It settles exactly once, on the first decisive answer from the server: a
 *  grant message, a poll or cancel that finds it holding (granted), a cancel
 *  that removed it (cancelled), or a poll that finds it gone (its waiter lease
 *  ran out, or the server lost its data). The server runs one script at a time,
 *  so these answers never contradict each other: once a cancel is sent, grant
 *  messages are left for the cancel's own answer to decide. */
export class Waiter {
  readonly core: RedisLockCore;
  readonly id: string;
  readonly #m: number;
  readonly #w: number;
  readonly #resolve: (g: RedisGuard) => void;
  readonly #reject: (err: unknown) => void;
  #settled = false;
  #queued = false;
  #seq: bigint | undefined;
  // A grant message that arrived before the acquire's own answer (the two come
  // on different connections): applied once the answer says queued.
  #early: { token: string; abandoned: boolean } | undefined;
  // Why the caller gave up, once it did (a cancel is then sent or pending).
  #cancel: { reason: unknown } | undefined;
  // When the last script that found this request queued was sent: a grant
  // learned from a message happened after it (the lease deadline counts from it).
  #queuedAt = 0;
  #poll: ReturnType<typeof setTimeout> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  constructor(
    core: RedisLockCore,
    m: number,
    w: number,
    resolve: (g: RedisGuard) => void,
    reject: (err: unknown) => void,
  ) {
    this.core = core;
    this.id = core.locks.nextId();
    this.#m = m;
    this.#w = w;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  async start(o: AcquireOptions | undefined): Promise<void> {
    const timeout = o?.timeout;
    if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) {
      this.#arm(timeout, () => this.cancel(new TimeoutError(timeout)));
    }
    const signal = o?.signal;
    if (signal !== undefined) {
      this.#signal = signal;
      this.#onAbort = () => this.cancel(signal.reason);
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    const locks = this.core.locks;
    locks.pending.add(this);
    locks.early(this);
    const t = locks.timing;
    const sentAt = now();
    let r: unknown[];
    try {
      r = await this.core.call(ACQUIRE, [this.id, this.#m, this.#w, t.leaseMs, t.waiterLeaseMs, locks.owner]);
    } catch (err) {
      this.#fail(redisError(err));
      return;
    }
    if (Number(r[0]) === 1) {
      // Granted at once; an abort that came meanwhile lost the race.
      this.#grant(String(r[1]), Number(r[2]) === 1, sentAt);
      return;
    }
    this.#queued = true;
    this.#queuedAt = sentAt;
    this.#seq = BigInt(String(r[1]));
    const early = this.#early;
    if (early !== undefined) {
      this.#grant(early.token, early.abandoned, sentAt);
      return;
    }
    if (this.#cancel !== undefined) {
      this.#sendCancel();
      return;
    }
    // Watch before anything else can settle this waiter; a subscription made
    // just now may have missed a grant sent before it: poll once after it.
    const fresh = await locks.watch(this);
    if (this.#settled || this.#cancel !== undefined) return;
    if (fresh) this.#schedule(0);
    else this.#schedule(Number(r[2]));
  }

  // setTimeout without its 2^31 - 1 ms cap (a longer delay would fire at once).
  #arm(left: number, fire: () => void): void {
    const step = Math.min(left, MAX_TIMER_MS);
    this.#timer = setTimeout(() => (left > step ? this.#arm(left - step, fire) : fire()), step);
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** A grant message named this request. */
  granted(token: string, abandoned: boolean): void {
    if (this.#settled) return;
    if (!this.#queued) this.#early = { token, abandoned };
    else if (this.#cancel === undefined) this.#grant(token, abandoned, this.#queuedAt);
  }

  /** Polls now (the subscription was re-established: messages may have been lost). */
  wake(): void {
    if (this.#settled || this.#cancel !== undefined || !this.#queued) return;
    this.#schedule(0);
  }

  /** Timeout, abort or close: dequeues on the server, unless the grant came first. */
  cancel(reason: unknown): void {
    if (this.#settled || this.#cancel !== undefined) return;
    this.#cancel = { reason };
    // Not queued yet: the acquire's answer decides (start() sends the cancel).
    if (this.#queued) this.#sendCancel();
  }

  // The next poll: at the heartbeat, or just after the earliest holder lease
  // runs out (hint) if that is sooner, so a dead holder's lock passes on time.
  #schedule(hint: number): void {
    clearTimeout(this.#poll);
    const beat = this.core.locks.timing.heartbeatMs;
    const delay = hint >= 0 ? Math.min(beat, hint + 1) : beat;
    this.#poll = setTimeout(() => this.#pollNow(), delay);
  }

  async #pollNow(): Promise<void> {
    this.#poll = undefined;
    if (this.#settled || this.#cancel !== undefined) return;
    const sentAt = now();
    let r: unknown[];
    try {
      r = await this.core.call(POLL, [this.id, this.core.locks.timing.waiterLeaseMs]);
    } catch {
      if (!this.#settled && this.#cancel === undefined) this.#schedule(-1);
      return;
    }
    if (this.#settled || this.#cancel !== undefined) return;
    const s = Number(r[0]);
    if (s === 1) this.#grant(String(r[1]), Number(r[2]) === 1, sentAt);
    else if (s === 2) {
      this.#queuedAt = sentAt;
      this.#schedule(Number(r[1]));
    } else {
      this.#fail(
        new LockError(
          "ERR_RINGLOCK_WAIT_LOST",
          `ringlock: the server no longer has this request for '${this.core.name}' (its waiter lease ran out, or the server lost its data)`,
        ),
      );
    }
  }

  async #sendCancel(): Promise<void> {
    clearTimeout(this.#poll);
    const reason = this.#cancel?.reason;
    const sentAt = now();
    let r: unknown[];
    try {
      r = await this.core.call(CANCEL, [this.id]);
    } catch {
      // Unknown outcome: the caller gives up anyway; the server drops the
      // request when its lease runs out (a grant, if it came, expires unrenewed).
      this.#fail(reason);
      return;
    }
    if (this.#settled) return;
    if (Number(r[0]) === 1) this.#grant(String(r[1]), Number(r[2]) === 1, sentAt);
    else this.#fail(reason);
  }

  #grant(token: string, abandoned: boolean, sentAt: number): void {
    if (this.#settled) return;
    this.#end();
    this.#resolve(new Grant(this.core, this.id, this.#m, this.#w, token, abandoned, sentAt, this.#seq));
  }

  #fail(err: unknown): void {
    if (this.#settled) return;
    this.#end();
    this.#reject(err);
  }

  #end(): void {
    this.#settled = true;
    clearTimeout(this.#poll);
    clearTimeout(this.#timer);
    if (this.#signal !== undefined && this.#onAbort !== undefined) {
      this.#signal.removeEventListener("abort", this.#onAbort);
    }
    const locks = this.core.locks;
    locks.pending.delete(this);
    locks.unwatch(this);
  }
}
