// Latch (single use) and Barrier (cyclic), and BrokenBarrierError. An arrival
// is one engine step (syncArrive: count it, and either complete the latch or
// the barrier's phase, granting every waiter, or queue a waiter). A wait that
// times out or is aborted, abort(), or a party whose worker dies while
// waiting (the reaper: assembly/sync.ts) breaks it: the waiters are granted
// as a failed batch (guard.abandoned) and reject with BrokenBarrierError, as
// does every later wait (until reset(), for a Barrier).

import {
  ERR_BROKEN,
  QUEUED_BIT,
  R_OUT_INDEX,
  R_OUT_PHASE,
  S_BROKEN,
  S_PARTIES,
  S_VALUE,
  SK_BARRIER,
  SK_LATCH,
  SO_BREAK,
  SO_COUNT_DOWN,
  SO_RESET,
} from "../assembly/layout.js";
import { assertCanBlock } from "./blocking.js";
import { LockError } from "./errors.js";
import {
  type AcquireOptions,
  type Adopted,
  type Guard,
  type LockOptions,
  refusal,
  rejecting,
  type SharedLock,
} from "./lock.js";
import { adoptSync, count, SyncCore, UNLIMITED } from "./sync.js";

/** A wait on a broken Latch or Barrier (one that timed out, was aborted, or lost a party). */
export class BrokenBarrierError extends LockError {
  constructor(what = "barrier") {
    super(
      "ERR_RINGLOCK_BROKEN",
      `ringlock: the ${what} is broken (a wait timed out or was aborted, abort() was called, or a waiting party's thread ended)`,
    );
    this.name = "BrokenBarrierError";
  }
}

export interface BarrierResult {
  /** Arrival order in the phase, from 0; the last arrival (index parties - 1) is the leader. */
  index: number;
  /** Exactly one waiter per phase: the arrival that completed it. */
  isLeader: boolean;
  /** The phase this wait belonged to, from 0. */
  phase: number;
}

abstract class Arrivals extends SyncCore {
  /** @internal What a broken wait calls the object. */
  abstract readonly what: string;

  /** @internal After a queued arrival or wait is granted: broken or not. */
  ok(g: Guard): boolean {
    const failed = g.abandoned || (this.what === "latch" && this.word(S_BROKEN) !== 0);
    g.release();
    return !failed;
  }

  /** @internal A wait that gave up (timeout, abort) rejects as it would; its
   *  cancellation broke the object in the same engine step (assembly/queue.ts, cancel). */
  gaveUp(err: unknown): never {
    throw err;
  }

  /** @internal */
  after<T>(p: Promise<Guard>, value: T): Promise<T> {
    return p.then(
      (g) => {
        if (!this.ok(g)) throw new BrokenBarrierError(this.what);
        return value;
      },
      (err) => this.gaveUp(err),
    );
  }

  /** @internal */
  afterSync<T>(run: () => Guard, value: T): T {
    let g: Guard;
    try {
      g = run();
    } catch (err) {
      this.gaveUp(err);
    }
    if (!this.ok(g)) throw new BrokenBarrierError(this.what);
    return value;
  }

  /** Breaks it: every current and later wait rejects with BrokenBarrierError. */
  abort(): void {
    this.op(SO_BREAK, 0);
  }

  get broken(): boolean {
    return this.word(S_BROKEN) !== 0;
  }
}

/** A single-use countdown latch: waiters are released once the count reaches 0. */
export class Latch extends Arrivals {
  /** @internal */ readonly kind: string = "Latch";
  /** @internal */ readonly what: string = "latch";

  constructor(count: number, opts?: LockOptions);
  /** @internal */ constructor(count: number, opts: LockOptions | undefined, adopt: Adopted);
  constructor(n: number, opts?: LockOptions, adopt?: Adopted) {
    const v = adopt ? 0 : count("count", n, 0);
    super(SK_LATCH, v === 0 ? UNLIMITED : 0, v, 0, opts, adopt);
  }

  /** Lowers the count by n (default 1, never below 0); at 0 every waiter is released. */
  countDown(n = 1): void {
    this.op(SO_COUNT_DOWN, count("n", n, 0));
  }

  get count(): number {
    return this.word(S_VALUE);
  }

  /** Resolves once the count is 0; rejects with BrokenBarrierError if the latch breaks. */
  wait(o?: AcquireOptions): Promise<void> {
    return rejecting(() => {
      if (this.broken) return Promise.reject(new BrokenBarrierError("latch"));
      return this.after(this.waitGrant(o), undefined);
    });
  }

  /** countDown(1), then wait(), in one step. */
  arriveAndWait(o?: AcquireOptions): Promise<void> {
    return rejecting(() => {
      const no = refusal(o);
      if (no !== undefined) return Promise.reject(no);
      const r = this.arrive();
      if (r === ERR_BROKEN) return Promise.reject(new BrokenBarrierError("latch"));
      if ((r & QUEUED_BIT) === 0) return Promise.resolve();
      return this.after(this.submit(r, 1, o), undefined);
    });
  }

  /** Blocks the thread until the count is 0 (workers only). */
  waitSync(o?: AcquireOptions): void {
    assertCanBlock("waitSync");
    if (this.broken) throw new BrokenBarrierError("latch");
    this.afterSync(() => this.waitGrantSync(o, "waitSync"), undefined);
  }

  static from(shared: SharedLock): Latch {
    return adoptSync(shared, "Latch", SK_LATCH, (a) => new Latch(0, undefined, a));
  }
}

/** A cyclic barrier of `parties`: every `parties` arrivals complete a phase and release its waiters. */
export class Barrier extends Arrivals {
  /** @internal */ readonly kind: string = "Barrier";
  /** @internal */ readonly what: string = "barrier";

  constructor(parties: number, opts?: LockOptions);
  /** @internal */ constructor(parties: number, opts: LockOptions | undefined, adopt: Adopted);
  constructor(parties: number, opts?: LockOptions, adopt?: Adopted) {
    super(SK_BARRIER, 0, 0, adopt ? 0 : count("parties", parties, 1), opts, adopt);
  }

  get parties(): number {
    return this.word(S_PARTIES);
  }

  // Arrives: the queued node (0 if the arrival completed the phase) and the result.
  #arrive(): [number, BarrierResult] {
    const r = this.arrive();
    if (r === ERR_BROKEN) throw new BrokenBarrierError("barrier");
    const i32 = this.engine.refresh();
    const thr = this.engine.thr;
    const index = i32[(thr + R_OUT_INDEX) >> 2];
    const phase = i32[(thr + R_OUT_PHASE) >> 2];
    return [r, { index, isLeader: (r & QUEUED_BIT) === 0, phase }];
  }

  /** Arrives and waits for the phase to complete. */
  wait(o?: AcquireOptions): Promise<BarrierResult> {
    return rejecting(() => {
      const no = refusal(o);
      if (no !== undefined) return Promise.reject(no);
      const [r, result] = this.#arrive();
      if (result.isLeader) return Promise.resolve(result);
      return this.after(this.submit(r, 1, o), result);
    });
  }

  /** Blocking wait (workers only). */
  waitSync(o?: AcquireOptions): BarrierResult {
    assertCanBlock("waitSync");
    const no = refusal(o);
    if (no !== undefined) throw no;
    const [r, result] = this.#arrive();
    if (result.isLeader) return result;
    return this.afterSync(() => this.submitSync(r, 1, o, -1), result);
  }

  /** Fails the current waiters (BrokenBarrierError) and makes the barrier usable again. */
  reset(): void {
    this.op(SO_RESET, 0);
  }

  static from(shared: SharedLock): Barrier {
    return adoptSync(shared, "Barrier", SK_BARRIER, (a) => new Barrier(1, undefined, a));
  }
}
