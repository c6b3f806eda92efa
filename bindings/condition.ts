// Condition: a condition variable over a Mutex, with wait morphing. wait()
// moves the caller's own hold node, in one engine step, from the mutex's
// holds to the condition's queue (releasing the mutex); notify(n) moves the
// first n waiters, in FIFO order, to the tail of the mutex's queue, where the
// mutex's grant loop hands them the lock one by one (no herd racing for it).
// A wait that times out or is aborted moves its own node the same way and
// rejects once it holds the mutex again. See assembly/sync.ts, "Condition".

import { CTL_STATE_MASK, ERR_RETRY, ERR_STALE, N_CTL, SK_COND, ST_HELD } from "../assembly/layout.js";
import { assertCanBlock, blockUntil } from "./blocking.js";
import type { GrantSink } from "./engine.js";
import { engineError, LockError, TimeoutError, typeError } from "./errors.js";
import {
  type AcquireOptions,
  type Adopted,
  type Guard,
  type LockOptions,
  refusal,
  type SharedLock,
  Ticket,
} from "./lock.js";
import { Mutex } from "./presets.js";
import { adoptSync, SyncCore, sx } from "./sync.js";

class CondQueue extends SyncCore {
  /** @internal */ readonly kind: string = "Condition";
  constructor(opts: LockOptions | undefined, adopt?: Adopted) {
    super(SK_COND, 0, 0, 0, opts, adopt);
  }
}

/** A structured-clonable Condition (see share()). */
export interface SharedCondition {
  readonly ringlock: "condition";
  readonly queue: SharedLock;
  readonly mutex: SharedLock;
}

function notHeld(): LockError {
  return new LockError(
    "ERR_RINGLOCK_NOT_HELD",
    "ringlock: Condition.wait needs a live guard of the condition's own mutex",
  );
}

// A waiter's node, parked from wait to re-acquisition.
class CondWaiter implements GrantSink {
  done = false;
  ctl = 0;
  reason: unknown = undefined;
  gaveUp = false;
  resolve: (() => void) | undefined;
  reject: ((err: unknown) => void) | undefined;
  granted(_node: number, ctl: number): void {
    this.done = true;
    this.ctl = ctl;
    if (this.gaveUp) this.reject?.(this.reason);
    else this.resolve?.();
  }
}

/** A condition variable bound to one Mutex, across workers. */
export class Condition {
  readonly mutex: Mutex;
  readonly #q: CondQueue;

  constructor(mutex: Mutex);
  /** @internal */ constructor(mutex: Mutex, q: CondQueue);
  constructor(mutex: Mutex, q?: CondQueue) {
    if (!(mutex instanceof Mutex)) throw typeError("Condition needs a Mutex");
    this.mutex = mutex;
    this.#q = q ?? new CondQueue({ engine: mutex.engine });
  }

  /** Waiters, across threads (those notified but not yet holding the mutex again are no longer counted). */
  get waiting(): number {
    return this.#q.waiting;
  }

  // Checks the guard and starts the wait: the node now waits on the condition.
  #start(guard: Guard, o: AcquireOptions | undefined): { t: Ticket; w: CondWaiter } {
    if (!(guard instanceof Ticket) || guard.owner !== this.mutex || guard.released) throw notHeld();
    const no = refusal(o);
    if (no !== undefined) throw no;
    const e = this.mutex.engine;
    const node = guard.node;
    const i32 = e.view(node);
    if ((Atomics.load(i32, (node + N_CTL) >> 2) & CTL_STATE_MASK) !== ST_HELD) throw notHeld();
    const w = new CondWaiter();
    const q = this.#q.peek();
    const r = e.sync(() => sx(e).condWait(e.thr, q, node, guard.gen));
    if (r === ERR_STALE) throw notHeld();
    if (r < 0) throw engineError(r, e.maxMemoryBytes);
    e.park(node, w);
    if (r > 0) e.drain();
    return { t: guard, w };
  }

  // Gives up waiting for a notify: moves the node to the mutex's queue itself,
  // unless a notify moved it first (then the notification stands).
  // (Called from timers and abort listeners: an engine busy recovering a dead
  // thread is retried from the event loop, never thrown.)
  #giveUp(t: Ticket, w: CondWaiter, reason: unknown): void {
    const e = this.mutex.engine;
    const attempt = (): boolean => {
      if (w.done || w.gaveUp) return true;
      const r = e.persist(() => sx(e).condMove(e.thr, this.#q.peek(), this.mutex.peek(), t.node, t.gen, 0));
      if (r === ERR_RETRY) return false;
      if (r === 1) {
        w.gaveUp = true;
        w.reason = reason;
      }
      e.drain();
      return true;
    };
    if (!attempt()) e.later(attempt);
  }

  /** Releases the guard's hold and waits for a notify, then re-acquires the mutex (also before rejecting on timeout or abort). */
  wait(guard: Guard, o?: AcquireOptions): Promise<void> {
    let s: { t: Ticket; w: CondWaiter };
    try {
      s = this.#start(guard, o);
    } catch (err) {
      return Promise.reject(err);
    }
    const { t, w } = s;
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const signal = o?.signal;
      const onAbort = () => this.#giveUp(t, w, signal?.reason);
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      w.resolve = () => {
        cleanup();
        t.regranted(w.ctl);
        resolve();
      };
      w.reject = (err) => {
        cleanup();
        t.regranted(w.ctl);
        reject(err);
      };
      if (w.done) {
        if (w.gaveUp) w.reject(w.reason);
        else w.resolve();
        return;
      }
      const timeout = o?.timeout;
      // setTimeout fires at once past 2^31 - 1 ms (~24.8 days): such a wait has no deadline.
      if (timeout !== undefined && timeout <= 0x7fffffff) {
        timer = setTimeout(() => this.#giveUp(t, w, new TimeoutError(timeout)), timeout);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Waits until predicate() holds (checked with the mutex held, before each wait). */
  async waitFor(guard: Guard, predicate: () => boolean, o?: AcquireOptions): Promise<void> {
    if (typeof predicate !== "function") throw typeError("waitFor needs a predicate function");
    const timeout = o?.timeout;
    const end = timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeout;
    while (!predicate()) {
      const left = end - Date.now();
      if (left <= 0 && timeout !== undefined) throw new TimeoutError(timeout);
      await this.wait(guard, { signal: o?.signal, timeout: timeout === undefined ? undefined : left });
    }
  }

  /** Blocking wait (workers only). */
  waitSync(guard: Guard, o?: AcquireOptions): void {
    assertCanBlock("waitSync");
    const { t, w } = this.#start(guard, o);
    const e = this.mutex.engine;
    if (!blockUntil(e, t.node, () => w.done, o?.timeout)) {
      this.#giveUp(t, w, new TimeoutError(o?.timeout ?? 0));
      blockUntil(e, t.node, () => w.done, undefined);
    }
    t.regranted(w.ctl);
    if (w.gaveUp) throw w.reason;
  }

  /** Moves up to n waiters (FIFO) to the mutex's queue; returns how many. A notify with nobody waiting is lost. */
  notify(n = 1): number {
    if (typeof n !== "number" || !(n >= 0)) throw typeError(`notify(n) needs a count >= 0, got ${String(n)}`);
    const e = this.mutex.engine;
    const cap = n === Number.POSITIVE_INFINITY ? 0x7fffffff : Math.min(Math.floor(n), 0x7fffffff);
    if (cap === 0 || this.#q.waiting === 0) return 0;
    const mutex = e.sync(() => this.mutex.block());
    const r = e.sync(() => sx(e).condMove(e.thr, this.#q.peek(), mutex, 0, 0, cap));
    if (r < 0) throw engineError(r, e.maxMemoryBytes);
    e.drain();
    return r;
  }

  notifyAll(): number {
    return this.notify(Number.POSITIVE_INFINITY);
  }

  share(): SharedCondition {
    return { ringlock: "condition", queue: this.#q.share(), mutex: this.mutex.share() };
  }

  static from(shared: SharedCondition): Condition {
    if (shared === null || typeof shared !== "object" || shared.ringlock !== "condition") {
      throw typeError("Condition.from expects the value returned by share()");
    }
    const mutex = Mutex.from(shared.mutex);
    const q = adoptSync(shared.queue, "Condition", SK_COND, (a) => new CondQueue(undefined, a));
    return new Condition(mutex, q);
  }
}
