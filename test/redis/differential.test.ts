// Differential test: the same random schedule (acquire with mode and weight,
// try, timeout, abort, release) run on the in-process engine and on Redis must
// give the same outcome for every request, the same grants in the same order,
// and the same query() after every step. The seed is printed; replay a failure
// with RINGLOCK_SEED=<seed>.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FifoLock, type Guard, Mutex, RWLock, Semaphore } from "../../bindings/index.js";
import { type RedisGuard, RedisLocks } from "../../bindings/redis/index.js";
import { RedisServer } from "./server.js";

const server = new RedisServer();
let locks: RedisLocks;
beforeAll(async () => {
  await server.start();
  locks = new RedisLocks({ client: server.client(), prefix: "diff:", leaseMs: 10_000 });
});
afterAll(async () => {
  await locks.close();
  await server.stop();
});

type Opts = { weight?: number; timeout?: number; signal?: AbortSignal };
interface Subject {
  modes: string[];
  limits: number[];
  local: { acquire(m: string, o: Opts): Promise<Guard>; try(m: string, w: number): Guard | null; query(): State };
  redis: {
    acquire(m: string, o: Opts): Promise<RedisGuard>;
    try(m: string, w: number): Promise<RedisGuard | null>;
    query(): Promise<State>;
  };
}
type State = { held: { mode: string; weight: number }[]; pending: { mode: string; weight: number }[] };

const MGL = {
  IS: { conflicts: ["X"], limit: 4 },
  IX: { conflicts: ["S", "SIX", "X"], limit: 3 },
  S: { conflicts: ["IX", "SIX", "X"], limit: 2 },
  SIX: { conflicts: ["IX", "S", "SIX", "X"] },
  X: { conflicts: ["IS", "IX", "S", "SIX", "X"] },
};

let lockNo = 0;
function subject(kind: string): Subject {
  const name = `${kind}-${lockNo++}`;
  switch (kind) {
    case "mutex": {
      const l = new Mutex();
      const r = locks.mutex(name);
      return {
        modes: ["exclusive"],
        limits: [1],
        local: { acquire: (_m, o) => l.acquire(o), try: () => l.tryAcquire(), query: () => l.query() },
        redis: { acquire: (_m, o) => r.acquire(o), try: () => r.tryAcquire(), query: () => r.query() },
      };
    }
    case "rwlock": {
      const l = new RWLock();
      const r = locks.rwlock(name);
      return {
        modes: ["read", "write"],
        limits: [1, 1],
        local: {
          acquire: (m, o) => (m === "read" ? l.read(o) : l.write(o)),
          try: (m) => (m === "read" ? l.tryRead() : l.tryWrite()),
          query: () => l.query(),
        },
        redis: {
          acquire: (m, o) => (m === "read" ? r.read(o) : r.write(o)),
          try: (m) => (m === "read" ? r.tryRead() : r.tryWrite()),
          query: () => r.query(),
        },
      };
    }
    case "semaphore": {
      const l = new Semaphore(4);
      const r = locks.semaphore(name, 4);
      return {
        modes: ["permit"],
        limits: [4],
        local: { acquire: (_m, o) => l.acquire(o), try: (_m, w) => l.tryAcquire(w), query: () => l.query() },
        redis: { acquire: (_m, o) => r.acquire(o), try: (_m, w) => r.tryAcquire(w), query: () => r.query() },
      };
    }
    default: {
      const l = new FifoLock(MGL);
      const r = locks.fifoLock(name, MGL);
      type M = keyof typeof MGL;
      return {
        modes: Object.keys(MGL),
        limits: [4, 3, 2, 3, 3],
        local: {
          acquire: (m, o) => l.acquire(m as M, o),
          try: (m, w) => l.tryAcquire(m as M, w),
          query: () => l.query(),
        },
        redis: {
          acquire: (m, o) => r.acquire(m as M, o),
          try: (m, w) => r.tryAcquire(m as M, w),
          query: () => r.query(),
        },
      };
    }
  }
}

type Op =
  | { t: "acquire" | "try" | "timeout" | "timeout0"; m: number; w: number }
  | { t: "abort" | "release"; k: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ t: fc.constant("acquire" as const), m: fc.nat(4), w: fc.integer({ min: 1, max: 4 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant("try" as const), m: fc.nat(4), w: fc.integer({ min: 1, max: 4 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("timeout" as const), m: fc.nat(4), w: fc.integer({ min: 1, max: 4 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("timeout0" as const), m: fc.nat(4), w: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("abort" as const), k: fc.nat(7) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant("release" as const), k: fc.nat(7) }) },
);

interface Side<G> {
  state: "pending" | "granted" | "rejected" | "none";
  guard: G | null;
  error: unknown;
  abort?: AbortController;
}
interface Req {
  label: string;
  local: Side<Guard>;
  redis: Side<RedisGuard>;
}

function watch<G>(p: Promise<G>, side: Side<G>, onGrant: () => void): void {
  p.then(
    (g) => {
      side.state = "granted";
      side.guard = g;
      onGrant();
    },
    (e) => {
      side.state = "rejected";
      side.error = e;
    },
  );
}

const kindOf = (e: unknown) => (e instanceof Error ? e.name : typeof e === "string" ? e : "other");
const entries = (s: State) => ({
  held: s.held.map((e) => `${e.mode}:${e.weight}`),
  pending: s.pending.map((e) => `${e.mode}:${e.weight}`),
});
const tick = () => new Promise<void>((r) => setImmediate(r));

async function runSchedule(kind: string, ops: Op[]): Promise<void> {
  const s = subject(kind);
  const reqs: Req[] = [];
  const localOrder: string[] = [];
  const step = async (what: string) => {
    for (let i = 0; i < 3; i++) await tick();
    // Redis learns of grants through messages: wait (bounded) until every
    // request stands where it stands in process, then compare.
    const end = Date.now() + 3000;
    while (reqs.some((r) => r.local.state !== r.redis.state) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 2));
    }
    const where = `${kind} after ${what}`;
    for (const r of reqs) {
      expect({ where, req: r.label, state: r.redis.state, error: kindOf(r.redis.error) }).toEqual({
        where,
        req: r.label,
        state: r.local.state,
        error: kindOf(r.local.error),
      });
    }
    expect({ where, ...entries(await s.redis.query()) }).toEqual({ where, ...entries(s.local.query()) });
  };
  const pick = (m: number, w: number): [string, number] => {
    const mi = m % s.modes.length;
    return [s.modes[mi], Math.min(w, s.limits[mi])];
  };
  for (const [i, op] of ops.entries()) {
    const label = `#${i} ${JSON.stringify(op)}`;
    if (op.t === "acquire" || op.t === "timeout" || op.t === "timeout0") {
      const [mode, weight] = pick(op.m, op.w);
      const r: Req = {
        label,
        local: { state: "pending", guard: null, error: undefined, abort: new AbortController() },
        redis: { state: "pending", guard: null, error: undefined, abort: new AbortController() },
      };
      reqs.push(r);
      const timeout = op.t === "timeout" ? 25 : op.t === "timeout0" ? 0 : undefined;
      const o = (side: Side<unknown>): Opts => ({
        weight,
        signal: side.abort?.signal,
        ...(timeout === undefined ? {} : { timeout }),
      });
      watch(s.local.acquire(mode, o(r.local)), r.local, () => localOrder.push(label));
      watch(s.redis.acquire(mode, o(r.redis)), r.redis, () => {});
      if (op.t === "timeout") await new Promise((res) => setTimeout(res, 40));
    } else if (op.t === "try") {
      const [mode, weight] = pick(op.m, op.w);
      const g = s.local.try(mode, weight);
      const rg = await s.redis.try(mode, weight);
      const r: Req = {
        label,
        local: { state: g ? "granted" : "none", guard: g, error: undefined },
        redis: { state: rg ? "granted" : "none", guard: rg, error: undefined },
      };
      if (g) localOrder.push(label);
      reqs.push(r);
    } else if (op.t === "abort") {
      const waiting = reqs.filter((r) => r.local.state === "pending");
      if (waiting.length === 0) continue;
      const r = waiting[op.k % waiting.length];
      r.local.abort?.abort("aborted");
      r.redis.abort?.abort("aborted");
    } else {
      const holding = reqs.filter((r) => r.local.state === "granted" && r.local.guard && !r.local.guard.released);
      if (holding.length === 0) continue;
      const r = holding[op.k % holding.length];
      r.local.guard?.release();
      await r.redis.guard?.release();
    }
    await step(label);
  }
  // Grants in the same order: in process, the order promises resolved; on
  // Redis, fencing-token order (one token per grant, strictly increasing).
  const redisOrder = reqs
    .filter((r) => r.redis.guard)
    .sort((a, b) => ((a.redis.guard?.token ?? 0n) < (b.redis.guard?.token ?? 0n) ? -1 : 1))
    .map((r) => r.label);
  expect(redisOrder).toEqual(localOrder);
  // Wind down: abort every waiter, release every holder, on both.
  for (const r of reqs) {
    r.local.abort?.abort("end");
    r.redis.abort?.abort("end");
  }
  await step("aborting the rest");
  for (const r of reqs) {
    if (r.local.state === "granted" && r.local.guard && !r.local.guard.released) {
      r.local.guard.release();
      await r.redis.guard?.release();
    }
  }
  expect(await s.redis.query()).toEqual({ held: [], pending: [] });
}

describe("the Redis engine against the in-process engine", () => {
  it("gives the same grants in the same order and the same query() on random schedules", async () => {
    const seed = Number(process.env.RINGLOCK_SEED ?? Date.now() % 2 ** 31);
    console.log(`differential: seed ${seed} (replay with RINGLOCK_SEED=${seed})`);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("mutex", "rwlock", "semaphore", "fifo"),
        fc.array(opArb, { minLength: 1, maxLength: 24 }),
        (kind, ops) => runSchedule(kind, ops),
      ),
      { seed, numRuns: 60, endOnFailure: true },
    );
  });

  it("agrees on a schedule that exercises the grant loop's prefix rule", async () => {
    await runSchedule("fifo", [
      { t: "acquire", m: 0, w: 1 },
      { t: "acquire", m: 4, w: 1 },
      { t: "acquire", m: 0, w: 4 },
      { t: "acquire", m: 2, w: 2 },
      { t: "acquire", m: 2, w: 1 },
      { t: "acquire", m: 1, w: 1 },
      { t: "abort", k: 0 },
      { t: "release", k: 0 },
      { t: "release", k: 0 },
      { t: "try", m: 0, w: 1 },
      { t: "release", k: 1 },
      { t: "release", k: 0 },
    ]);
  });
});
