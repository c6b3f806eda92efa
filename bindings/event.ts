// Event, Notify and CountdownEvent: one queue of waiters each, released as a
// batch (or one by one) by a state change in the engine (assembly/sync.ts).

import {
  ERR_RETRY,
  S_VALUE,
  SK_COUNTDOWN,
  SK_EVENT,
  SK_NOTIFY,
  SO_ADD,
  SO_CLEAR,
  SO_NOTIFY_ALL,
  SO_NOTIFY_ONE,
  SO_SET,
  SO_ZERO,
} from "../assembly/layout.js";
import type { Engine } from "./engine.js";
import { engineError } from "./errors.js";
import { type AcquireOptions, type Adopted, type Guard, type LockOptions, rejecting, type SharedLock } from "./lock.js";
import { adoptSync, count, SyncCore, sx, UNLIMITED } from "./sync.js";

const release = (g: Guard): void => g.release();

/** A manual-reset event, across workers: starts unset; `set()` wakes every waiter (of every thread). */
export class Event extends SyncCore {
  /** @internal */ readonly kind: string = "Event";

  constructor(opts?: LockOptions);
  /** @internal */ constructor(opts: LockOptions | undefined, adopt: Adopted);
  constructor(opts?: LockOptions, adopt?: Adopted) {
    super(SK_EVENT, 0, 0, 0, opts, adopt);
  }

  /** Sets the event: every waiter is woken, and later waits resolve at once until clear(). Idempotent. */
  set(): void {
    this.op(SO_SET, 0);
  }

  /** Unsets the event. Idempotent. Waiters already woken by a set() stay woken. */
  clear(): void {
    this.op(SO_CLEAR, 0);
  }

  get isSet(): boolean {
    return this.word(S_VALUE) !== 0;
  }

  /** Resolves once the event is set (at once if it is). */
  wait(o?: AcquireOptions): Promise<void> {
    return rejecting(() => this.waitGrant(o).then(release));
  }

  /** Blocks the thread until the event is set (workers only). */
  waitSync(o?: AcquireOptions): void {
    this.waitGrantSync(o, "waitSync").release();
  }

  static from(shared: SharedLock): Event {
    return adoptSync(shared, "Event", SK_EVENT, (a) => new Event(undefined, a));
  }
}

/** Wakes one waiter at a time; stores at most one permit when nobody waits (as tokio's Notify). */
export class Notify extends SyncCore {
  /** @internal */ readonly kind: string = "Notify";

  constructor(opts?: LockOptions);
  /** @internal */ constructor(opts: LockOptions | undefined, adopt: Adopted);
  constructor(opts?: LockOptions, adopt?: Adopted) {
    super(SK_NOTIFY, 0, 0, 0, opts, adopt);
  }

  /** Wakes the longest-waiting waiter, or, if none waits, stores one permit (two calls still store one). */
  notifyOne(): void {
    this.op(SO_NOTIFY_ONE, 0);
  }

  /** Wakes every waiter waiting now; stores nothing. */
  notifyAll(): void {
    this.op(SO_NOTIFY_ALL, 0);
  }

  /** Resolves when notified (at once, consuming it, if a permit is stored). */
  notified(o?: AcquireOptions): Promise<void> {
    return rejecting(() => this.waitGrant(o).then(release));
  }

  /** Blocks the thread until notified (workers only). */
  notifiedSync(o?: AcquireOptions): void {
    this.waitGrantSync(o, "notifiedSync").release();
  }

  /** @internal A waiter's release consumes the permit it was granted by. */
  releaseNode(node: number, gen: number): boolean {
    const e = this.engine;
    const r = e.persist(() => sx(e).syncRelease(e.thr, node, gen));
    if (r > 0) e.drain();
    else if (r === ERR_RETRY) return false;
    else if (r < 0) throw engineError(r, e.maxMemoryBytes);
    return true;
  }

  static from(shared: SharedLock): Notify {
    return adoptSync(shared, "Notify", SK_NOTIFY, (a) => new Notify(undefined, a));
  }
}

class CountdownCore extends SyncCore {
  /** @internal */ readonly kind: string = "CountdownEvent";
  constructor(v: number, opts: LockOptions | undefined, adopt?: Adopted) {
    super(SK_COUNTDOWN, v === 0 ? UNLIMITED : 0, v, 0, opts, adopt);
  }
}

/** Set while its value is 0: `up()` raises it, `down()` lowers it (never below 0). */
export class CountdownEvent {
  readonly #c: CountdownCore;

  constructor(initial?: number, opts?: LockOptions);
  /** @internal */ constructor(initial: number, opts: LockOptions | undefined, core: CountdownCore);
  constructor(initial = 0, opts?: LockOptions, core?: CountdownCore) {
    this.#c = core ?? new CountdownCore(count("initial", initial, 0), opts);
  }

  /** Raises the value by n (default 1): from 0, the event is unset. */
  up(n = 1): void {
    this.#c.op(SO_ADD, count("n", n, 0));
  }

  /** Lowers the value by n (default 1); at 0 every waiter is woken. Below 0 is a RangeError and changes nothing. */
  down(n = 1): void {
    this.#c.op(SO_ADD, -count("n", n, 0));
  }

  /** Sets the value to 0 (waking every waiter). */
  clear(): void {
    this.#c.op(SO_ZERO, 0);
  }

  get value(): number {
    return this.#c.word(S_VALUE);
  }

  get isSet(): boolean {
    return this.value === 0;
  }

  /** Waiters, across threads. */
  get waiting(): number {
    return this.#c.waiting;
  }

  get engine(): Engine {
    return this.#c.engine;
  }

  /** Resolves once the value is 0 (at once if it is). */
  wait(o?: AcquireOptions): Promise<void> {
    return rejecting(() => this.#c.waitGrant(o).then(release));
  }

  /** Blocks the thread until the value is 0 (workers only). */
  waitSync(o?: AcquireOptions): void {
    this.#c.waitGrantSync(o, "waitSync").release();
  }

  /** A structured-clonable value that `CountdownEvent.from()` turns back into this object in any thread. */
  share(): SharedLock {
    return this.#c.share();
  }

  dispose(): void {
    this.#c.dispose();
  }

  static from(shared: SharedLock): CountdownEvent {
    const c = adoptSync(shared, "CountdownEvent", SK_COUNTDOWN, (a) => new CountdownCore(0, undefined, a));
    return new CountdownEvent(0, undefined, c);
  }
}
