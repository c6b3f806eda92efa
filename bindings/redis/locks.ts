// RedisLocks: the entry point of the Redis engine. It owns the options
// (prefix, leases, heartbeat), this process's owner id, the pub/sub
// connection that carries grant messages to queued requests, and everything
// close() must end: queued requests and held grants.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { LockError, rangeError, typeError } from "../errors.js";
import type { AcquireOptions, ModeTable } from "../lock.js";
import { adapt, type RedisAdapter, type RedisClientLike, type Subscriber } from "./client.js";
import type { Waiter } from "./core.js";
import { type Grant, type RedisGuard, whileHeld } from "./lease.js";
import { RedisFifoLock, RedisMutex, RedisRWLock, RedisSemaphore } from "./presets.js";

export interface RedisLocksOptions {
  /** An ioredis or iovalkey client, or a connected node-redis client. Not closed by close(). */
  client: RedisClientLike;
  /** Prefix of every key and channel (default "ringlock:"). */
  prefix?: string;
  /** Holder lease: a holder that stops renewing loses the lock this long after its last renewal (default 30 s). */
  leaseMs?: number;
  /** Waiter lease: a queued request whose process stops polling is dropped after this long (default leaseMs). */
  waiterLeaseMs?: number;
  /** Safety-net poll of each queued request, in case a grant message is lost (default min(waiterLeaseMs / 3, 2 s)). */
  heartbeatMs?: number;
}

/** @internal */
export interface Timing {
  leaseMs: number;
  waiterLeaseMs: number;
  heartbeatMs: number;
  /** Renewal period of a held lease: a third of it. */
  renewMs: number;
  /** Clock-rate allowance taken off the local deadline (Redlock's: 1% + 2 ms). */
  driftMs: number;
}

export interface RequestOptions {
  /** 'exclusive' (default) or 'shared'. */
  mode?: "exclusive" | "shared";
  /** Call back with null at once instead of waiting when the lock is not free. */
  ifAvailable?: boolean;
  signal?: AbortSignal;
  timeout?: number;
}

const WEB_LOCKS = { exclusive: { conflicts: ["exclusive", "shared"] }, shared: { conflicts: ["exclusive"] } } as const;
// A channel is unsubscribed this long after its last waiter left (a contended
// lock would otherwise subscribe and unsubscribe on every wait).
const LINGER_MS = 2000;

function ms(name: string, v: unknown, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > 0x7fffffff) {
    throw rangeError(
      `${name} must be an integer number of milliseconds from ${min} to ${0x7fffffff}, got ${String(v)}`,
    );
  }
  return v;
}

/** Strict-FIFO locks on Redis (or Valkey) with leases and fencing tokens; see README "Redis". */
export class RedisLocks {
  /** This instance's id in query() results: host/pid/random. */
  readonly owner: string;
  readonly prefix: string;
  /** @internal */ readonly adapter: RedisAdapter;
  /** @internal */ readonly timing: Timing;
  /** @internal queued requests of this instance */ readonly pending = new Set<Waiter>();
  /** @internal grants of this instance not yet released */ readonly held = new Set<Grant>();
  /** @internal */ closed = false;
  readonly #idBase: string;
  #ids = 0;
  #sub: Promise<Subscriber> | undefined;
  // channel -> queued requests of this instance on that lock
  readonly #watching = new Map<string, Map<string, Waiter>>();
  // channel -> its SUBSCRIBE (settled once the server confirmed it)
  readonly #subscribed = new Map<string, Promise<void>>();
  readonly #confirmed = new Set<string>();
  readonly #linger = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #webLocks = new Map<string, RedisFifoLock<"exclusive" | "shared">>();

  constructor(opts: RedisLocksOptions) {
    if (opts === null || typeof opts !== "object") throw typeError("RedisLocks needs { client }");
    this.adapter = adapt(opts.client);
    const prefix = opts.prefix ?? "ringlock:";
    if (typeof prefix !== "string") throw typeError("prefix must be a string");
    this.prefix = prefix;
    const leaseMs = ms("leaseMs", opts.leaseMs, 30_000, 50);
    const waiterLeaseMs = ms("waiterLeaseMs", opts.waiterLeaseMs, leaseMs, 50);
    const heartbeatMs = ms("heartbeatMs", opts.heartbeatMs, Math.min(Math.floor(waiterLeaseMs / 3), 2000), 1);
    if (heartbeatMs * 2 > waiterLeaseMs) {
      throw rangeError(`heartbeatMs (${heartbeatMs}) must be at most half of waiterLeaseMs (${waiterLeaseMs})`);
    }
    this.timing = {
      leaseMs,
      waiterLeaseMs,
      heartbeatMs,
      renewMs: Math.floor(leaseMs / 3),
      driftMs: Math.floor(leaseMs * 0.01) + 2,
    };
    const rnd = randomBytes(6).toString("hex");
    this.owner = `${hostname().replace(/\s/g, "_")}/${process.pid}/${rnd}`;
    this.#idBase = rnd;
  }

  mutex(name: string): RedisMutex {
    return new RedisMutex(this, name);
  }

  rwlock(name: string): RedisRWLock {
    return new RedisRWLock(this, name);
  }

  semaphore(name: string, permits: number): RedisSemaphore {
    return new RedisSemaphore(this, name, permits);
  }

  /** A lock with your own modes (the same tables as FifoLock). Every user of one name must use the same table. */
  fifoLock<M extends string>(name: string, modes: ModeTable<M>): RedisFifoLock<M> {
    return new RedisFifoLock<M>(this, name, modes);
  }

  /** The Web Locks shape: runs `fn` holding lock `name` ('exclusive' or 'shared'), then releases it. */
  request<T>(name: string, fn: (lock: RedisGuard | null) => T | PromiseLike<T>): Promise<T>;
  request<T>(name: string, opts: RequestOptions, fn: (lock: RedisGuard | null) => T | PromiseLike<T>): Promise<T>;
  async request<T>(
    name: string,
    a: RequestOptions | ((lock: RedisGuard | null) => T | PromiseLike<T>),
    b?: (lock: RedisGuard | null) => T | PromiseLike<T>,
  ): Promise<T> {
    const opts: RequestOptions = typeof a === "function" ? {} : (a ?? {});
    const fn = typeof a === "function" ? a : b;
    if (typeof fn !== "function") throw typeError("request() needs a callback");
    const mode = opts.mode ?? "exclusive";
    if (mode !== "exclusive" && mode !== "shared")
      throw typeError(`mode must be 'exclusive' or 'shared', got '${String(mode)}'`);
    let lock = this.#webLocks.get(name);
    if (lock === undefined) {
      lock = this.fifoLock(name, WEB_LOCKS);
      this.#webLocks.set(name, lock);
    }
    if (opts.ifAvailable) {
      const g = await lock.tryAcquire(mode);
      if (g === null) return await fn(null);
      return whileHeld(g, fn);
    }
    const o: AcquireOptions = {};
    if (opts.signal !== undefined) o.signal = opts.signal;
    if (opts.timeout !== undefined) o.timeout = opts.timeout;
    return whileHeld(await lock.acquire(mode, o), fn);
  }

  /** Cancels this instance's queued requests (they reject with ERR_RINGLOCK_CLOSED), releases its
   *  grants, and closes its pub/sub connection. The client passed in stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = () => new LockError("ERR_RINGLOCK_CLOSED", "ringlock: RedisLocks was closed while waiting");
    const waits = [...this.pending].map(
      (w) =>
        new Promise<void>((resolve) => {
          w.cancel(err());
          const check = () => (w.settled ? resolve() : setTimeout(check, 5));
          check();
        }),
    );
    await Promise.all(waits);
    await Promise.all([...this.held].map((g) => g.release().catch(() => {})));
    for (const t of this.#linger.values()) clearTimeout(t);
    this.#linger.clear();
    const sub = this.#sub;
    this.#sub = undefined;
    if (sub !== undefined) await (await sub.catch(() => undefined))?.close();
  }

  /** @internal A request id, unique across processes (no spaces: grant messages are space-separated). */
  nextId(): string {
    return `${this.#idBase}.${(this.#ids++).toString(36)}`;
  }

  /** @internal Before a request is sent: if its lock's channel is subscribed,
   *  a grant message can overtake the acquire's answer, so route it already. */
  early(w: Waiter): void {
    if (this.#subscribed.has(w.core.channel)) this.listen(w);
  }

  /** @internal Routes grant messages naming this request to it (no network call). */
  listen(w: Waiter): void {
    const ch = w.core.channel;
    let m = this.#watching.get(ch);
    if (m === undefined) {
      m = new Map();
      this.#watching.set(ch, m);
    }
    m.set(w.id, w);
    const t = this.#linger.get(ch);
    if (t !== undefined) {
      clearTimeout(t);
      this.#linger.delete(ch);
    }
  }

  /** @internal Makes sure a queued request's channel is subscribed; true if the
   *  subscription was not confirmed before (a message may have been missed). */
  async watch(w: Waiter): Promise<boolean> {
    const ch = w.core.channel;
    this.listen(w);
    if (this.#confirmed.has(ch)) return false;
    let p = this.#subscribed.get(ch);
    if (p === undefined) {
      p = this.#subscribe(ch);
      this.#subscribed.set(ch, p);
    }
    try {
      await p;
    } catch {
      // The heartbeat polls stand in until a later wait subscribes again.
      if (this.#subscribed.get(ch) === p) this.#subscribed.delete(ch);
    }
    return true;
  }

  async #subscribe(ch: string): Promise<void> {
    this.#sub ??= this.adapter.subscriber({
      message: (channel, message) => this.#message(channel, message),
      reconnected: () => {
        for (const w of this.pending) w.wake();
      },
    });
    const sub = await this.#sub;
    await sub.subscribe(ch);
    if (this.#subscribed.has(ch)) this.#confirmed.add(ch);
  }

  /** @internal */
  unwatch(w: Waiter): void {
    const ch = w.core.channel;
    const m = this.#watching.get(ch);
    if (m === undefined) return;
    m.delete(w.id);
    if (m.size > 0) return;
    this.#watching.delete(ch);
    if (this.closed || this.#linger.has(ch) || !this.#subscribed.has(ch)) return;
    const t = setTimeout(() => {
      this.#linger.delete(ch);
      if (this.#watching.has(ch)) return;
      this.#confirmed.delete(ch);
      const p = this.#subscribed.get(ch);
      this.#subscribed.delete(ch);
      if (p !== undefined && this.#sub !== undefined) {
        const sub = this.#sub;
        p.then(() => sub)
          .then((s) => s.unsubscribe(ch))
          .catch(() => {});
      }
    }, LINGER_MS);
    t.unref?.();
    this.#linger.set(ch, t);
  }

  // "<id> <token> <abandoned> ..." for each grant of one batch.
  #message(channel: string, message: string): void {
    const m = this.#watching.get(channel);
    if (m === undefined) return;
    const f = message.split(" ");
    for (let i = 0; i + 2 < f.length; i += 3) m.get(f[i])?.granted(f[i + 1], f[i + 2] === "1");
  }
}
