// A pure-TypeScript reference model of DESIGN.md's "Semantics": one lock,
// one thread, no shared memory. The model-based tests (model.test.ts) drive it
// and the engine with the same operations and compare them after every step.
// It is written for obviousness, not speed: arrays, linear scans, no masks
// beyond the conflict rows.

/** A mode as the contract sees it: the (symmetric) set of modes it conflicts with, and its limit. */
export interface ModelMode {
  /** Bit j set iff this mode conflicts with mode j. */
  readonly conflicts: number;
  /** Most total weight held at once (ringlock's largest, 0xffffffff, when none is declared). */
  readonly limit: number;
}

/** Builds the modes from declared conflict lists (possibly asymmetric): A conflicts B makes B conflict A. */
export function symmetricModes(declared: readonly (readonly number[])[], limits: readonly number[]): ModelMode[] {
  const masks = declared.map(() => 0);
  declared.forEach((list, i) => {
    for (const j of list) {
      masks[i] |= 1 << j;
      masks[j] |= 1 << i;
    }
  });
  return masks.map((conflicts, i) => ({ conflicts: conflicts >>> 0, limit: limits[i] }));
}

/** A request the model knows about: queued, held, or settled without holding. */
export interface ModelRequest {
  readonly id: number;
  readonly mode: number;
  readonly weight: number;
  /** Signal (by the caller's index) whose abort cancels the wait. */
  readonly signal: number | undefined;
  /** Absolute model time at which the wait times out, if it has a timer. */
  readonly deadline: number | undefined;
  readonly timeout: number | undefined;
}

export type Outcome =
  /** Queued, promise not settled. */
  | { readonly kind: "queued" }
  /** Promise resolved (or tryAcquire returned) with a guard; `released` once its guard let go. */
  | { readonly kind: "granted"; readonly released: boolean }
  /** Rejected with a TimeoutError after `ms` (0: not grantable at once). */
  | { readonly kind: "timeout"; readonly ms: number }
  /** Rejected with the reason of signal `signal`. */
  | { readonly kind: "aborted"; readonly signal: number };

/** What acquire() / tryAcquire() did at once. */
export type Immediate = "range" | "granted" | "queued" | "timeout" | "aborted" | "refused";

export class LockModel {
  readonly modes: readonly ModelMode[];
  /** Current holds, in grant order. */
  readonly held: ModelRequest[] = [];
  /** Waiters, in queue (grant) order. */
  readonly queue: ModelRequest[] = [];
  /** Settlement of every request, by id (acquire and successful tryAcquire calls get ids). */
  readonly outcomes: Outcome[] = [];
  /** Every request ever granted, in grant order (released ones included). */
  readonly grants: number[] = [];
  /** Model clock in ms. */
  now = 0;
  #heldWeight: number[];
  #aborted = new Set<number>();
  #signals = 0;
  #requests: ModelRequest[] = [];
  // Ids of promises settled since the last takeSettled(), in settlement order.
  #settled: number[] = [];

  constructor(modes: readonly ModelMode[]) {
    this.modes = modes;
    this.#heldWeight = modes.map(() => 0);
  }

  heldWeight(mode: number): number {
    return this.#heldWeight[mode];
  }

  request(id: number): ModelRequest {
    return this.#requests[id];
  }

  /** The grant test: no conflicting mode held, and the mode's limit not exceeded. */
  compatible(mode: number, weight: number): boolean {
    const { conflicts, limit } = this.modes[mode];
    for (let j = 0; j < this.modes.length; j++) {
      if ((conflicts & (1 << j)) !== 0 && this.#heldWeight[j] > 0) return false;
    }
    return this.#heldWeight[mode] + weight <= limit;
  }

  /** A new signal (AbortController) the caller may pass to acquire() and abort(). */
  newSignal(): number {
    return this.#signals++;
  }

  get signals(): number {
    return this.#signals;
  }

  isAborted(signal: number): boolean {
    return this.#aborted.has(signal);
  }

  acquire(mode: number, weight: number, opts: { signal?: number; timeout?: number } = {}): [Immediate, number] {
    if (weight > this.modes[mode].limit) return ["range", -1];
    const { signal, timeout } = opts;
    const id = this.#requests.length;
    const timed = timeout !== undefined && timeout !== Number.POSITIVE_INFINITY && timeout > 0;
    const r: ModelRequest = {
      id,
      mode,
      weight,
      signal,
      timeout,
      deadline: timed ? this.now + timeout : undefined,
    };
    this.#requests.push(r);
    if (signal !== undefined && this.#aborted.has(signal)) {
      this.#settle(id, { kind: "aborted", signal });
      return ["aborted", id];
    }
    if (this.queue.length === 0 && this.compatible(mode, weight)) {
      this.#grant(r);
      return ["granted", id];
    }
    if (timeout === 0) {
      this.#settle(id, { kind: "timeout", ms: 0 });
      return ["timeout", id];
    }
    this.queue.push(r);
    this.outcomes[id] = { kind: "queued" };
    return ["queued", id];
  }

  tryAcquire(mode: number, weight: number): [Immediate, number] {
    if (weight > this.modes[mode].limit) return ["range", -1];
    if (this.queue.length !== 0 || !this.compatible(mode, weight)) return ["refused", -1];
    const id = this.#requests.length;
    const r: ModelRequest = { id, mode, weight, signal: undefined, timeout: undefined, deadline: undefined };
    this.#requests.push(r);
    this.#grant(r, false);
    return ["granted", id];
  }

  /** Releases request `id`'s guard; releasing a released guard does nothing. */
  release(id: number): void {
    const i = this.held.findIndex((r) => r.id === id);
    if (i < 0) return;
    const [r] = this.held.splice(i, 1);
    this.#heldWeight[r.mode] -= r.weight;
    this.outcomes[id] = { kind: "granted", released: true };
    this.#grantLoop();
  }

  /** Aborts a signal: every waiter still queued on it leaves, in the order it subscribed. */
  abort(signal: number): void {
    if (this.#aborted.has(signal)) return;
    this.#aborted.add(signal);
    const victims = this.queue.filter((r) => r.signal === signal).map((r) => r.id);
    for (const id of victims) this.#cancel(id, { kind: "aborted", signal });
  }

  /** Moves the clock: timers fire in deadline order (ties: the earlier request first). */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: ModelRequest | undefined;
      for (const r of this.queue) {
        if (r.deadline === undefined || r.deadline > end) continue;
        if (next === undefined || r.deadline < (next.deadline as number)) next = r;
      }
      if (next === undefined) break;
      this.now = next.deadline as number;
      this.#cancel(next.id, { kind: "timeout", ms: next.timeout as number });
    }
    this.now = end;
  }

  /** Ids of promises settled since the last call, in settlement order. */
  takeSettled(): number[] {
    return this.#settled.splice(0);
  }

  // Cancellation: removes the waiter if still queued; a removed head lets the queue move.
  #cancel(id: number, outcome: Outcome): void {
    const i = this.queue.findIndex((r) => r.id === id);
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.#settle(id, outcome);
    if (i === 0) this.#grantLoop();
  }

  // Grants the longest compatible prefix of the queue, nothing behind the first refusal.
  #grantLoop(): void {
    while (this.queue.length > 0 && this.compatible(this.queue[0].mode, this.queue[0].weight)) {
      this.#grant(this.queue.shift() as ModelRequest);
    }
  }

  #grant(r: ModelRequest, promise = true): void {
    this.held.push(r);
    this.#heldWeight[r.mode] += r.weight;
    this.grants.push(r.id);
    if (promise) this.#settle(r.id, { kind: "granted", released: false });
    else this.outcomes[r.id] = { kind: "granted", released: false };
  }

  #settle(id: number, outcome: Outcome): void {
    this.outcomes[id] = outcome;
    this.#settled.push(id);
  }
}
