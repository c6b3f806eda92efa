// Model-based random tests: random sequences of acquire / tryAcquire /
// release / abort / timeout over random mode tables, run against the debug
// engine and the reference model in model.ts, compared after every step:
// who holds (in grant order), what is queued (in queue order), which promises
// settled and with what (grants in grant order), and the locks' getters.
// engine.validate() (debug engine) runs after every step too.
//
// Reproduce a run with RINGLOCK_SEED=<seed printed below> npx vitest run test/model.test.ts

import { isDeepStrictEqual } from "node:util";
import { threadId } from "node:worker_threads";
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type AcquireOptions,
  Engine,
  FifoLock,
  type Guard,
  type LockState,
  Mutex,
  RWLock,
  Semaphore,
  TimeoutError,
} from "../bindings/index.js";
import { LockModel, type ModelMode, symmetricModes } from "./model.js";

const SEED =
  process.env.RINGLOCK_SEED !== undefined ? Number(process.env.RINGLOCK_SEED) : (Math.random() * 2 ** 31) | 0;
if (!Number.isInteger(SEED)) throw new Error(`RINGLOCK_SEED must be an integer, got ${process.env.RINGLOCK_SEED}`);
console.log(`model.test.ts: fast-check seed ${SEED} (reproduce with RINGLOCK_SEED=${SEED})`);

const MIN_OPS_PER_CI_RUN = 20_000;
const MAX_STEPS = 150;
/** The largest limit a mode can have; a mode declared without a limit has this one. */
const MAX_LIMIT = 0xffffffff;
let opsRun = 0;
// How often each interesting thing happened across the file: a generator that
// stopped producing queues, timeouts or aborts would make the comparison vacuous.
const seen = {
  grantedAtOnce: 0,
  grantedFromQueue: 0,
  queued: 0,
  timedOut: 0,
  timedOutAtOnce: 0,
  aborted: 0,
  abortedBeforeQueueing: 0,
  overLimit: 0,
  tryGranted: 0,
  tryRefused: 0,
  releasedTwice: 0,
  longestQueue: 0,
  grantedTogether: 0,
};

// ---------------------------------------------------------------- operations

type SignalChoice =
  | { readonly k: "none" }
  | { readonly k: "fresh" }
  | { readonly k: "aborted" }
  | { readonly k: "reuse"; readonly pick: number };

type Op =
  | {
      readonly t: "acquire";
      readonly mode: number;
      readonly w: number;
      readonly signal: SignalChoice;
      readonly timeout: number | undefined;
    }
  | { readonly t: "try"; readonly mode: number; readonly w: number }
  | { readonly t: "release"; readonly pick: number; readonly any: boolean; readonly dispose: boolean }
  | { readonly t: "abort"; readonly pick: number; readonly reason: boolean }
  | { readonly t: "advance"; readonly ms: number };

// w is a raw draw, mapped into the mode's limit by Harness.weight(): 20 is one
// above the limit, 19 the whole limit, 18 just over half of it, anything else 1..4.
const weightArb = fc.nat(20);
// Taken modulo the lock's number of modes (up to 32).
const modeArb = fc.nat(31);
const signalArb: fc.Arbitrary<SignalChoice> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ k: "none" as const }) },
  { weight: 3, arbitrary: fc.constant({ k: "fresh" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "aborted" as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("reuse" as const), pick: fc.nat(31) }) },
);
const timeoutArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 30 }) },
  { weight: 1, arbitrary: fc.constant(Number.POSITIVE_INFINITY) },
  // Longer than a 32-bit setTimeout delay: still "give up after this many ms", never within a test.
  { weight: 1, arbitrary: fc.constantFrom(2 ** 31 - 1, 2 ** 31, 2 ** 32 + 7, 1e12) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 7,
    arbitrary: fc.record({
      t: fc.constant("acquire" as const),
      mode: modeArb,
      w: weightArb,
      signal: signalArb,
      timeout: timeoutArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("try" as const), mode: modeArb, w: weightArb }) },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("release" as const),
      pick: fc.nat(31),
      any: fc.nat(3).map((v) => v === 3),
      dispose: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("abort" as const), pick: fc.nat(31), reason: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 15 }) }) },
);
// No minimum length, so that a failure shrinks to a short sequence; the tests
// below run more rounds until they reach their share of operations.
const opsArb = fc.array(opArb, { maxLength: MAX_STEPS, size: "max" });

// ---------------------------------------------------------------- the locks under test

/** One lock under test, seen through a uniform surface. */
interface Subject {
  readonly names: readonly string[];
  readonly modes: readonly ModelMode[];
  /** False for presets whose methods take no weight (Mutex, RWLock). */
  readonly weighted: boolean;
  acquire(m: number, w: number, o: AcquireOptions | undefined): Promise<Guard>;
  tryAcquire(m: number, w: number): Guard | null;
  query(): LockState<string>;
  readonly waiting: number;
  /** The lock's own getters, next to what the model says they must be. */
  getters(model: LockModel): { actual: Record<string, unknown>; expected: Record<string, unknown> };
  dispose(): void;
}

interface TableSpec {
  readonly n: number;
  readonly declared: number[][];
  readonly limits: (number | undefined)[];
}

// undefined: no limit declared (the largest one applies).
const limitArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 31, MAX_LIMIT - 1, MAX_LIMIT) },
);

const tableArb: fc.Arbitrary<TableSpec> = fc
  .record({
    // Mostly a few modes; sometimes up to the 32 a lock can have (mode 31 is the sign bit of a mask).
    n: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }) },
      { weight: 1, arbitrary: fc.integer({ min: 7, max: 31 }) },
      { weight: 1, arbitrary: fc.constant(32) },
    ),
    // Percent of declared (i, j) conflict pairs.
    density: fc.constantFrom(3, 10, 30, 60),
  })
  .chain(({ n, density }) =>
    fc.record({
      n: fc.constant(n),
      declared: fc.array(
        fc
          .array(fc.nat(99), { minLength: n, maxLength: n })
          // Shrinks towards no conflicts.
          .map((row) => row.flatMap((v, j) => (v >= 100 - density ? [j] : []))),
        { minLength: n, maxLength: n },
      ),
      limits: fc.array(limitArb, { minLength: n, maxLength: n }),
    }),
  );

function fifoSubject(engine: Engine, spec: TableSpec): Subject {
  const names = Array.from({ length: spec.n }, (_, i) => `m${i}`);
  const table: Record<string, { conflicts?: string[]; limit?: number }> = {};
  names.forEach((name, i) => {
    const row: { conflicts?: string[]; limit?: number } = {};
    if (spec.declared[i].length > 0) row.conflicts = spec.declared[i].map((j) => names[j]);
    if (spec.limits[i] !== undefined) row.limit = spec.limits[i];
    table[name] = row;
  });
  const lock = new FifoLock(table, { engine });
  const modes = symmetricModes(
    spec.declared,
    spec.limits.map((l) => l ?? MAX_LIMIT),
  );
  return {
    names,
    modes,
    weighted: true,
    acquire: (m, w, o) => lock.acquire(names[m], w === 1 && o === undefined ? undefined : { ...o, weight: w }),
    tryAcquire: (m, w) => (w === 1 ? lock.tryAcquire(names[m]) : lock.tryAcquire(names[m], w)),
    query: () => lock.query(),
    get waiting() {
      return lock.waiting;
    },
    getters: (model) => ({
      actual: Object.fromEntries(names.map((n) => [n, lock.held(n)])),
      expected: Object.fromEntries(names.map((n, i) => [n, model.heldWeight(i)])),
    }),
    dispose: () => lock.dispose(),
  };
}

function mutexSubject(engine: Engine): Subject {
  const lock = new Mutex({ engine });
  return {
    names: ["exclusive"],
    modes: symmetricModes([[0]], [MAX_LIMIT]),
    weighted: false,
    acquire: (_m, _w, o) => lock.acquire(o),
    tryAcquire: () => lock.tryAcquire(),
    query: () => lock.query(),
    get waiting() {
      return lock.waiting;
    },
    getters: (model) => ({ actual: { locked: lock.locked }, expected: { locked: model.heldWeight(0) > 0 } }),
    dispose: () => lock.dispose(),
  };
}

function rwSubject(engine: Engine): Subject {
  const lock = new RWLock({ engine });
  return {
    names: ["read", "write"],
    modes: symmetricModes([[1], [0, 1]], [MAX_LIMIT, MAX_LIMIT]),
    weighted: false,
    acquire: (m, _w, o) => (m === 0 ? lock.read(o) : lock.write(o)),
    tryAcquire: (m) => (m === 0 ? lock.tryRead() : lock.tryWrite()),
    query: () => lock.query(),
    get waiting() {
      return lock.waiting;
    },
    getters: (model) => ({
      actual: { readers: lock.readers, writing: lock.writing },
      expected: { readers: model.heldWeight(0), writing: model.heldWeight(1) > 0 },
    }),
    dispose: () => lock.dispose(),
  };
}

function semaphoreSubject(engine: Engine, permits: number): Subject {
  const lock = new Semaphore(permits, { engine });
  return {
    names: ["permit"],
    modes: symmetricModes([[]], [permits]),
    weighted: true,
    acquire: (_m, w, o) => lock.acquire(w === 1 && o === undefined ? undefined : { ...o, weight: w }),
    tryAcquire: (_m, w) => (w === 1 ? lock.tryAcquire() : lock.tryAcquire(w)),
    query: () => lock.query(),
    get waiting() {
      return lock.waiting;
    },
    getters: (model) => ({
      actual: { permits: lock.permits, available: lock.available },
      expected: { permits, available: permits - model.heldWeight(0) },
    }),
    dispose: () => lock.dispose(),
  };
}

// ---------------------------------------------------------------- the harness

/** What the test observed of one acquire() call (or successful tryAcquire). */
interface Observed {
  state: "pending" | "resolved" | "rejected";
  guard?: Guard;
  error?: unknown;
}

class Harness {
  readonly model: LockModel;
  readonly observed: Observed[] = [];
  readonly controllers: AbortController[] = [];
  readonly settledLog: number[] = [];
  /** Over-limit acquires that returned a promise: it must be rejected with a RangeError. */
  readonly rangeChecks: Observed[] = [];
  readonly settledAtOnce = new Set<number>();
  /** Requests whose (final) outcome has been compared. */
  readonly final = new Set<number>();
  timeouts = 0;
  readonly timeoutErrors = new Set<unknown>();

  constructor(
    readonly engine: Engine,
    readonly lock: Subject,
  ) {
    this.model = new LockModel(lock.modes);
  }

  weight(mode: number, raw: number): number {
    if (!this.lock.weighted) return 1;
    const limit = this.lock.modes[mode].limit;
    if (raw === 20) return limit + 1;
    if (raw === 19) return limit;
    if (raw === 18) return Math.floor(limit / 2) + 1;
    return 1 + (raw % Math.min(limit, 4));
  }

  /** Applies an operation other than "advance" (which moves the clock every lock shares) to lock and model. */
  apply(op: Exclude<Op, { t: "advance" }>): void {
    switch (op.t) {
      case "acquire":
        this.acquire(op);
        break;
      case "try":
        this.tryAcquire(op.mode % this.lock.names.length, op.w);
        break;
      case "release":
        this.release(op);
        break;
      case "abort":
        this.abort(op);
        break;
    }
  }

  acquire(op: Extract<Op, { t: "acquire" }>): void {
    const m = op.mode % this.lock.names.length;
    const w = this.weight(m, op.w);
    const overLimit = w > this.lock.modes[m].limit;
    const o: AcquireOptions = {};
    let signal: number | undefined;
    // A request that can never be granted is refused before anything else:
    // give it no signal or timeout, so the test does not depend on which check
    // comes first.
    if (!overLimit) {
      signal = this.chooseSignal(op.signal);
      if (signal !== undefined) o.signal = this.controllers[signal].signal;
      if (op.timeout !== undefined) o.timeout = op.timeout;
    }
    const opts = o.signal === undefined && o.timeout === undefined ? undefined : o;
    const [immediate, id] = this.model.acquire(m, w, { signal, timeout: opts?.timeout });
    this.countImmediate(immediate, id);
    if (immediate === "range") {
      // Rejected at once with a RangeError (thrown, or as a rejected promise); nothing queued.
      let p: Promise<Guard> | undefined;
      try {
        p = this.lock.acquire(m, w, opts);
      } catch (e) {
        expect(e).toBeInstanceOf(RangeError);
        return;
      }
      const rec: Observed = { state: "pending" };
      p.then(
        () => {
          rec.state = "resolved";
        },
        (e) => {
          rec.state = "rejected";
          rec.error = e;
        },
      );
      this.rangeChecks.push(rec);
      return;
    }
    const rec: Observed = { state: "pending" };
    this.observed[id] = rec;
    const p = this.lock.acquire(m, w, opts);
    p.then(
      (g) => {
        rec.state = "resolved";
        rec.guard = g;
        this.settledLog.push(id);
      },
      (e) => {
        rec.state = "rejected";
        rec.error = e;
        this.settledLog.push(id);
      },
    );
  }

  chooseSignal(c: SignalChoice): number | undefined {
    switch (c.k) {
      case "none":
        return undefined;
      case "fresh":
      case "aborted": {
        const s = this.model.newSignal();
        this.controllers[s] = new AbortController();
        if (c.k === "aborted") {
          this.model.abort(s);
          this.controllers[s].abort();
        }
        return s;
      }
      case "reuse":
        if (this.controllers.length === 0) return undefined;
        return c.pick % this.controllers.length;
    }
  }

  tryAcquire(m: number, raw: number): void {
    const w = this.weight(m, raw);
    const [immediate, id] = this.model.tryAcquire(m, w);
    if (immediate === "range") seen.overLimit++;
    else if (immediate === "refused") seen.tryRefused++;
    else seen.tryGranted++;
    if (immediate === "range") {
      expect(() => this.lock.tryAcquire(m, w)).toThrow(RangeError);
      return;
    }
    const g = this.lock.tryAcquire(m, w);
    if (immediate === "refused") {
      expect(g, "tryAcquire must refuse (queue not empty or request incompatible)").toBeNull();
      return;
    }
    expect(g, "tryAcquire must succeed (queue empty and request compatible)").not.toBeNull();
    this.observed[id] = { state: "resolved", guard: g as Guard };
  }

  release(op: Extract<Op, { t: "release" }>): void {
    // Mostly a live guard; sometimes any guard ever granted (releasing a released one does nothing).
    const pool = op.any ? this.model.grants : this.model.held.map((r) => r.id);
    if (pool.length === 0) return;
    const id = pool[op.pick % pool.length];
    const g = this.observed[id].guard;
    expect(g, `request #${id} was granted, so its guard must have arrived`).toBeDefined();
    if ((g as Guard).released) seen.releasedTwice++;
    this.model.release(id);
    if (op.dispose) (g as Guard)[Symbol.dispose]();
    else (g as Guard).release();
  }

  abort(op: Extract<Op, { t: "abort" }>): void {
    if (this.controllers.length === 0) return;
    const s = op.pick % this.controllers.length;
    this.model.abort(s);
    const c = this.controllers[s];
    if (op.reason) c.abort(new Error(`reason of signal ${s}`));
    else c.abort();
  }

  compareLockState(): void {
    const entry = (r: { mode: number; weight: number }) => ({
      mode: this.lock.names[r.mode],
      weight: r.weight,
      threadId,
    });
    const q = this.lock.query();
    same(q.held, this.model.held.map(entry), "holders, in grant order");
    same(q.pending, this.model.queue.map(entry), "waiters, in queue order");
    same(this.lock.waiting, this.model.queue.length, "waiting");
    const { actual, expected } = this.lock.getters(this.model);
    same(actual, expected, "getters");
    this.engine.validate();
  }

  countImmediate(immediate: string, id: number): void {
    if (immediate === "range") seen.overLimit++;
    else if (immediate === "granted") seen.grantedAtOnce++;
    else if (immediate === "timeout") seen.timedOutAtOnce++;
    else if (immediate === "aborted") seen.abortedBeforeQueueing++;
    else seen.queued++;
    if (immediate !== "queued" && immediate !== "range") this.settledAtOnce.add(id);
  }

  countSettled(ids: readonly number[]): void {
    let granted = 0;
    for (const id of ids) {
      if (this.settledAtOnce.has(id)) continue;
      const kind = this.model.outcomes[id].kind;
      if (kind === "granted") granted++;
      else if (kind === "timeout") seen.timedOut++;
      else if (kind === "aborted") seen.aborted++;
    }
    seen.grantedFromQueue += granted;
    if (granted > 1) seen.grantedTogether++;
    seen.longestQueue = Math.max(seen.longestQueue, this.model.queue.length);
  }

  compareSettlements(): void {
    const settled = this.model.takeSettled();
    this.countSettled(settled);
    // The contract does not order a rejection against the grants it lets
    // through, so compare which promises settled, and that grants settle in
    // grant (FIFO) order.
    const log = this.settledLog.splice(0);
    const byId = (a: number, b: number) => a - b;
    same([...log].sort(byId), [...settled].sort(byId), "promises settled by this step");
    const grantsOnly = (ids: number[]) => ids.filter((id) => this.model.outcomes[id].kind === "granted");
    same(grantsOnly(log), grantsOnly(settled), "grants settle in grant order");
    for (const rec of this.rangeChecks.splice(0)) {
      same(rec.state, "rejected", "an over-limit acquire rejects at once");
      expect(rec.error).toBeInstanceOf(RangeError);
    }
    // Every request whose outcome can still change is compared after every
    // step; a rejection or a released guard is final once it has matched.
    this.model.outcomes.forEach((want, id) => {
      if (this.final.has(id)) return;
      const got = this.observed[id];
      const where = `request #${id}`;
      switch (want.kind) {
        case "queued":
          same(got.state, "pending", `${where} is still waiting`);
          break;
        case "granted": {
          same(got.state, "resolved", `${where} was granted`);
          const r = this.model.request(id);
          const g = got.guard as Guard;
          same(
            { mode: g.mode, weight: g.weight, released: g.released, abandoned: g.abandoned },
            { mode: this.lock.names[r.mode], weight: r.weight, released: want.released, abandoned: false },
            `${where}'s guard`,
          );
          if (want.released) this.final.add(id);
          break;
        }
        case "timeout": {
          same(got.state, "rejected", `${where} timed out`);
          const e = got.error as TimeoutError;
          expect(e, `${where} rejects with a TimeoutError`).toBeInstanceOf(TimeoutError);
          same([e.name, e.code], ["TimeoutError", "ERR_RINGLOCK_TIMEOUT"], `${where}'s error name and code`);
          this.timeoutErrors.add(e);
          this.timeouts++;
          this.final.add(id);
          break;
        }
        case "aborted":
          same(got.state, "rejected", `${where} was aborted`);
          expect(got.error, `${where} rejects with its signal's reason`).toBe(
            this.controllers[want.signal].signal.reason,
          );
          this.final.add(id);
          break;
      }
    });
    // Errors are created fresh per rejection.
    same(this.timeoutErrors.size, this.timeouts, "one fresh TimeoutError per timed-out request");
  }
}

/** expect(actual).toEqual(expected), without the cost of expect() when they are plainly equal. */
function same(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, what).toEqual(expected);
}

// Lets every settled promise run its reactions (a promise resolved with a
// rejected promise takes a few extra ticks). Timers are fake, so only microtasks.
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** One step: `op` on lock `on` (or the shared clock), then every lock compared with its model. */
async function step(hs: readonly Harness[], on: number, op: Op): Promise<void> {
  if (op.t === "advance") {
    // Timers fire inside; the locks' state is compared after it.
    for (const h of hs) h.model.advance(op.ms);
    await vi.advanceTimersByTimeAsync(op.ms);
  } else {
    hs[on % hs.length].apply(op);
  }
  // Ownership passes at grant time: before any promise settles, every
  // observer already sees the new holders.
  for (const h of hs) h.compareLockState();
  await flush();
  for (const h of hs) {
    h.compareLockState();
    h.compareSettlements();
  }
}

/** Runs `ops` on fresh locks of a fresh debug engine, then releases everything and disposes the locks. */
async function runScenario(
  make: (engine: Engine) => Subject[],
  ops: readonly (readonly [on: number, op: Op])[],
): Promise<void> {
  const engine = new Engine({ debug: true, maxMemoryBytes: 4 * 65536 });
  const hs = make(engine).map((lock) => new Harness(engine, lock));
  try {
    for (const h of hs) h.compareLockState();
    for (const [on, op] of ops) {
      await step(hs, on, op);
      opsRun++;
    }
    // Release until nothing is held; whatever is queued gets granted on the way.
    for (let i = 0; i < hs.length; i++) {
      while (hs[i].model.held.length > 0) await step(hs, i, { t: "release", pick: 0, any: false, dispose: false });
      expect(hs[i].model.queue).toEqual([]);
    }
    for (const h of hs) h.lock.dispose();
    engine.validate();
  } finally {
    vi.clearAllTimers();
  }
}

/** Operations on a single lock. */
const one = (ops: readonly Op[]) => ops.map((op) => [0, op] as const);

// ---------------------------------------------------------------- the tests

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

/**
 * Checks `property` in rounds of fast-check runs (round k uses seed SEED + k)
 * until it has compared at least `quota` operations: the sequences have no
 * minimum length (so that failures shrink well), the operation count does.
 */
async function checkOps<T>(quota: number, arb: fc.Arbitrary<T>, run: (t: T) => Promise<void>): Promise<void> {
  const start = opsRun;
  for (let round = 0; opsRun - start < quota; round++) {
    await fc.assert(fc.asyncProperty(arb, run), { seed: (SEED + round) | 0, numRuns: 20 });
  }
}

describe("ringlock against the reference model of DESIGN.md", () => {
  it("FifoLock with random mode tables (asymmetric conflicts symmetrised, random limits) behaves like the model", async () => {
    await checkOps(40_000, fc.tuple(tableArb, opsArb), ([spec, ops]) =>
      runScenario((engine) => [fifoSubject(engine, spec)], one(ops)),
    );
  });

  it("Mutex behaves like the model of a one-mode self-conflicting lock", async () => {
    await checkOps(10_000, opsArb, (ops) => runScenario((engine) => [mutexSubject(engine)], one(ops)));
  });

  it("RWLock behaves like the model of read/write modes", async () => {
    await checkOps(15_000, opsArb, (ops) => runScenario((engine) => [rwSubject(engine)], one(ops)));
  });

  it("Semaphore behaves like the model of one weighted mode with a limit", async () => {
    const permitsArb = fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constantFrom(2 ** 31, MAX_LIMIT));
    await checkOps(20_000, fc.tuple(permitsArb, opsArb), ([permits, ops]) =>
      runScenario((engine) => [semaphoreSubject(engine, permits)], one(ops)),
    );
  });

  it("locks sharing one engine (two FifoLocks, an RWLock, a Semaphore) each behave like their own model", async () => {
    const opsOnArb = fc.array(fc.tuple(fc.nat(3), opArb), { maxLength: MAX_STEPS, size: "max" });
    await checkOps(10_000, fc.tuple(tableArb, tableArb, opsOnArb), ([a, b, ops]) =>
      runScenario(
        (engine) => [fifoSubject(engine, a), fifoSubject(engine, b), rwSubject(engine), semaphoreSubject(engine, 3)],
        ops,
      ),
    );
  });

  afterAll(() => {
    console.log(`model.test.ts: ${opsRun} random operations compared against the model (seed ${SEED})`, seen);
  });

  it(`ran at least ${MIN_OPS_PER_CI_RUN} random operations in total, reaching every kind of outcome`, () => {
    expect(opsRun).toBeGreaterThanOrEqual(MIN_OPS_PER_CI_RUN);
    for (const [what, count] of Object.entries(seen)) {
      expect(count, `${what} never happened: the generator no longer exercises it`).toBeGreaterThan(0);
    }
    expect(seen.longestQueue).toBeGreaterThanOrEqual(5);
  });
});
