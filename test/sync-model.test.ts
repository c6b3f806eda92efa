// Model-based random tests (fast-check) where a model is natural: a
// CountdownEvent's value and waiters, a Barrier's phases (with aborted waits,
// abort() and reset()), and a CapacityLimiter's FIFO grants under a changing
// total with borrowers. Each run replays a random program against the real
// object (a validating engine) and a few lines of model, comparing after
// every step. Reproduce with RINGLOCK_SEED=<seed printed below>.

import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  Barrier,
  BrokenBarrierError,
  CapacityLimiter,
  CountdownEvent,
  Engine,
  type Guard,
  LockError,
} from "../bindings/index.js";
import { flush, type Tracked, track } from "./helpers.js";

const SEED =
  process.env.RINGLOCK_SEED !== undefined ? Number(process.env.RINGLOCK_SEED) : (Math.random() * 2 ** 31) | 0;
console.log(`sync-model.test.ts: fast-check seed ${SEED} (reproduce with RINGLOCK_SEED=${SEED})`);
const RUNS = 60;
// Steps run and outcomes seen, so that a generator that stopped producing
// them would fail rather than pass vacuously.
const seen = { steps: 0, countdownWoken: 0, phases: 0, broken: 0, granted: 0, refused: 0 };
afterAll(() => {
  console.log(`sync-model.test.ts: ${JSON.stringify(seen)}`);
  expect(seen.steps).toBeGreaterThan(1000);
  for (const [k, v] of Object.entries(seen)) expect(v, k).toBeGreaterThan(0);
});

describe("model: CountdownEvent", () => {
  type Op = { t: "up" | "down"; n: number } | { t: "clear" } | { t: "wait" } | { t: "cancel"; pick: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ t: fc.constantFrom("up" as const, "down" as const), n: fc.nat(3) }),
    fc.constant({ t: "clear" as const }),
    fc.constant({ t: "wait" as const }),
    fc.record({ t: fc.constant("cancel" as const), pick: fc.nat(20) }),
  );

  it("value, RangeErrors and woken waiters match the model", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(3),
        fc.array(opArb, { minLength: 10, maxLength: 60, size: "max" }),
        async (initial, ops) => {
          const engine = new Engine({ debug: true });
          const c = new CountdownEvent(initial, { engine });
          let value = initial;
          const waiters: { t: Tracked<void>; ac: AbortController; expect: "pending" | "fulfilled" | "rejected" }[] = [];
          const wake = () => {
            if (value !== 0) return;
            for (const w of waiters) {
              if (w.expect !== "pending") continue;
              w.expect = "fulfilled";
              seen.countdownWoken++;
            }
          };
          for (const op of ops) {
            if (op.t === "up") {
              c.up(op.n);
              value += op.n;
            } else if (op.t === "down") {
              if (value - op.n < 0) {
                expect(() => c.down(op.n)).toThrow(RangeError);
              } else {
                c.down(op.n);
                value -= op.n;
              }
            } else if (op.t === "clear") {
              c.clear();
              value = 0;
            } else if (op.t === "wait") {
              const ac = new AbortController();
              waiters.push({
                t: track(c.wait({ signal: ac.signal })),
                ac,
                expect: value === 0 ? "fulfilled" : "pending",
              });
            } else {
              const pending = waiters.filter((w) => w.expect === "pending");
              if (pending.length > 0) {
                const w = pending[op.pick % pending.length];
                w.ac.abort(new Error("cancel"));
                w.expect = "rejected";
              }
            }
            wake();
            seen.steps++;
            await flush();
            expect(c.value).toBe(value);
            expect(waiters.map((w) => w.t.state)).toEqual(waiters.map((w) => w.expect));
            expect(c.waiting).toBe(waiters.filter((w) => w.expect === "pending").length);
            engine.validate();
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe("model: Barrier phases", () => {
  type Op = { t: "wait" } | { t: "cancel"; pick: number } | { t: "abort" } | { t: "reset" };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.constant({ t: "wait" as const }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("cancel" as const), pick: fc.nat(10) }) },
    { weight: 1, arbitrary: fc.constant({ t: "abort" as const }) },
    { weight: 1, arbitrary: fc.constant({ t: "reset" as const }) },
  );

  interface W {
    t: Tracked<unknown>;
    ac: AbortController;
    expect: "pending" | "fulfilled" | "broken" | "cancelled";
    result?: { index: number; isLeader: boolean; phase: number };
  }

  it("indexes, leaders, phases and breaks match the model", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(opArb, { minLength: 10, maxLength: 60, size: "max" }),
        async (parties, ops) => {
          const engine = new Engine({ debug: true });
          const b = new Barrier(parties, { engine });
          let phase = 0;
          let broken = false;
          let arrivals: W[] = [];
          const all: W[] = [];
          const breakAll = () => {
            seen.broken += arrivals.length;
            for (const w of arrivals) w.expect = "broken";
            arrivals = [];
          };
          for (const op of ops) {
            if (op.t === "wait") {
              const ac = new AbortController();
              const w: W = { t: track(b.wait({ signal: ac.signal })), ac, expect: "pending" };
              all.push(w);
              if (broken) w.expect = "broken";
              else {
                w.result = { index: arrivals.length, isLeader: false, phase };
                arrivals.push(w);
                if (arrivals.length === parties) {
                  w.result.isLeader = true;
                  for (const x of arrivals) x.expect = "fulfilled";
                  seen.phases++;
                  arrivals = [];
                  phase++;
                }
              }
            } else if (op.t === "cancel") {
              if (arrivals.length > 0) {
                const w = arrivals[op.pick % arrivals.length];
                w.ac.abort(new Error("cancel"));
                arrivals = arrivals.filter((x) => x !== w);
                w.expect = "cancelled";
                breakAll();
                broken = true;
              }
            } else if (op.t === "abort") {
              b.abort();
              breakAll();
              broken = true;
            } else {
              b.reset();
              breakAll();
              broken = false;
            }
            seen.steps++;
            await flush();
            for (const w of all) {
              if (w.expect === "pending") expect(w.t.state).toBe("pending");
              else if (w.expect === "fulfilled") expect(w.t.value).toEqual(w.result);
              else if (w.expect === "broken") expect(w.t.reason).toBeInstanceOf(BrokenBarrierError);
              else expect((w.t.reason as Error).message).toBe("cancel");
            }
            expect(b.broken).toBe(broken);
            expect(b.waiting).toBe(arrivals.length);
            engine.validate();
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe("model: CapacityLimiter", () => {
  const borrowerArb = fc.constantFrom(undefined, "a", "b", "c", 1, 2);
  type Op =
    | { t: "acquire"; b: string | number | undefined }
    | { t: "release"; pick: number }
    | { t: "total"; n: number }
    | { t: "cancel"; pick: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant("acquire" as const), b: borrowerArb }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant("release" as const), pick: fc.nat(10) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("total" as const), n: fc.nat(4) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("cancel" as const), pick: fc.nat(10) }) },
  );

  interface R {
    b: string | number | undefined;
    t: Tracked<Guard>;
    ac: AbortController;
    state: "queued" | "held" | "released" | "cancelled" | "refused";
  }

  it("FIFO grants under a changing total, one token per borrower, and borrowers match the model", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.array(opArb, { minLength: 10, maxLength: 60, size: "max" }),
        async (total0, ops) => {
          const engine = new Engine({ debug: true });
          const c = new CapacityLimiter(total0, { engine });
          let total = total0;
          const rs: R[] = [];
          const grant = () => {
            let held = rs.filter((r) => r.state === "held").length;
            for (const r of rs) {
              if (r.state !== "queued") continue;
              if (held >= total) break;
              r.state = "held";
              seen.granted++;
              held++;
            }
          };
          for (const op of ops) {
            if (op.t === "acquire") {
              const ac = new AbortController();
              const busy =
                op.b !== undefined && rs.some((r) => r.b === op.b && (r.state === "queued" || r.state === "held"));
              const r: R = {
                b: op.b,
                t: track(c.acquire({ borrower: op.b, signal: ac.signal })),
                ac,
                state: busy ? "refused" : "queued",
              };
              if (busy) seen.refused++;
              rs.push(r);
            } else if (op.t === "release") {
              const held = rs.filter((r) => r.state === "held");
              await flush();
              if (held.length > 0) {
                const r = held[op.pick % held.length];
                (r.t.value as Guard).release();
                r.state = "released";
              }
            } else if (op.t === "total") {
              c.total = op.n;
              total = op.n;
            } else {
              const q = rs.filter((r) => r.state === "queued");
              if (q.length > 0) {
                const r = q[op.pick % q.length];
                r.ac.abort(new Error("cancel"));
                r.state = "cancelled";
              }
            }
            grant();
            seen.steps++;
            await flush();
            for (const r of rs) {
              if (r.state === "queued") expect(r.t.state).toBe("pending");
              else if (r.state === "held" || r.state === "released") expect(r.t.state).toBe("fulfilled");
              else if (r.state === "refused") expect(r.t.reason).toBeInstanceOf(LockError);
              else expect((r.t.reason as Error).message).toBe("cancel");
            }
            const held = rs.filter((r) => r.state === "held");
            expect(c.borrowed).toBe(held.length);
            expect(c.waiting).toBe(rs.filter((r) => r.state === "queued").length);
            expect(c.total).toBe(total);
            const named = held.filter((r) => r.b !== undefined).map((r) => String(r.b));
            expect(c.borrowers.map(String).sort()).toEqual(named.sort());
            engine.validate();
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
