// Memory: the engine's maxMemoryBytes limit, growth of the shared memory past
// its first page, and giving memory back (garbage-collected and disposed locks).

import { getEventListeners } from "node:events";
import v8 from "node:v8";
import vm from "node:vm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Engine, FifoLock, type Guard, LockError, Mutex, RWLock, Semaphore } from "../bindings/index.js";
import { DB_MODES, expectArgError, flush } from "./helpers.js";

const PAGE = 65536;

afterEach(() => {
  vi.useRealTimers();
});

/** A lock reduced to: queue one request of kind i (a round-robin over its modes), and count its waiters. */
interface Filler {
  name: string;
  create(engine: Engine): { hold(): Promise<Guard>; request(i: number): Promise<Guard>; readonly waiting: number };
}

const fillers: Filler[] = [
  {
    name: "Mutex",
    create(engine) {
      const m = new Mutex({ engine });
      return {
        hold: () => m.acquire(),
        request: () => m.acquire(),
        get waiting() {
          return m.waiting;
        },
      };
    },
  },
  {
    name: "RWLock (readers and writers)",
    create(engine) {
      const rw = new RWLock({ engine });
      return {
        hold: () => rw.write(),
        request: (i) => (i % 3 === 0 ? rw.write() : rw.read()),
        get waiting() {
          return rw.waiting;
        },
      };
    },
  },
  {
    name: "Semaphore(4) (weights 1 to 4)",
    create(engine) {
      const sem = new Semaphore(4, { engine });
      return {
        hold: () => sem.acquire({ weight: 4 }),
        request: (i) => sem.acquire({ weight: (i % 4) + 1 }),
        get waiting() {
          return sem.waiting;
        },
      };
    },
  },
  {
    name: "FifoLock(IS/IX/S/SIX/X)",
    create(engine) {
      const f = new FifoLock(DB_MODES, { engine });
      const modes = ["IS", "IX", "S", "SIX", "X", "IS", "S"] as const;
      return {
        hold: () => f.acquire("X"),
        request: (i) => f.acquire(modes[i % modes.length]),
        get waiting() {
          return f.waiting;
        },
      };
    },
  },
];

/** Queues requests until one is refused; returns the queued ones (each logs its index on grant, then releases) and the refusal. */
async function fillUntilRefused(lock: ReturnType<Filler["create"]>, order: number[], cap: number) {
  const queued: Promise<void>[] = [];
  for (let i = 0; i < cap; i++) {
    const p = lock.request(i);
    if (lock.waiting === queued.length + 1) {
      queued.push(
        p.then((g) => {
          order.push(i);
          // Release on a later microtask so that a batch is granted together before any of it leaves.
          queueMicrotask(() => g.release());
        }),
      );
    } else {
      return {
        queued,
        refusal: await p.then(
          () => new Error("granted while the lock was held"),
          (e: unknown) => e,
        ),
      };
    }
  }
  return { queued, refusal: new Error(`never refused after ${cap} requests`) };
}

describe.each(fillers)("$name on an engine limited to 2 pages", (filler) => {
  it("queues waiters until the memory limit, then rejects with a RangeError naming maxMemoryBytes, leaving everything queued or held undisturbed", async () => {
    const engine = new Engine({ maxMemoryBytes: 2 * PAGE, debug: true });
    expect(engine.maxMemoryBytes).toBe(2 * PAGE);
    const bystander = new Mutex({ engine });
    const bystanderGuard = await bystander.acquire();
    const lock = filler.create(engine);
    const holder = await lock.hold();
    const order: number[] = [];
    const { queued, refusal } = await fillUntilRefused(lock, order, 20_000);

    expect(refusal).toBeInstanceOf(RangeError);
    expect((refusal as Error).message).toMatch(/maxMemoryBytes = 131072/);
    expect((refusal as RangeError & { code: string }).code).toBe("ERR_RINGLOCK_MEMORY_LIMIT");
    // Thousands of waiters fit in two pages; the limit was really reached.
    expect(queued.length).toBeGreaterThan(2000);
    expect(engine.heapBytes).toBeLessThanOrEqual(2 * PAGE);

    // A second refusal is a fresh error; nothing about the lock changed.
    const again = await lock.request(queued.length).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(RangeError);
    expect(again).not.toBe(refusal);
    expect(lock.waiting).toBe(queued.length);
    // A new lock gets its block on first use, which is refused the same way.
    const late = new Mutex({ engine });
    await expect(late.acquire()).rejects.toThrow(/maxMemoryBytes = 131072/);
    expect(() => late.tryAcquire()).toThrow(RangeError);
    expect(holder.released).toBe(false);
    expect(bystander.locked).toBe(true);
    engine.validate();

    // Everything drains in FIFO order.
    holder.release();
    await Promise.all(queued);
    await flush();
    expect(order).toEqual(queued.map((_, i) => i));
    expect(lock.waiting).toBe(0);
    engine.validate();

    // The memory came back: as many waiters fit again.
    const second = await lock.hold();
    const refill: number[] = [];
    const { queued: queued2 } = await fillUntilRefused(lock, refill, queued.length);
    expect(queued2.length).toBe(queued.length);
    second.release();
    await Promise.all(queued2);
    engine.validate();
    bystanderGuard.release();
  });
});

describe("the memory limit", () => {
  it("leaves no timer or abort listener behind when a request is refused for memory", async () => {
    vi.useFakeTimers();
    const engine = new Engine({ maxMemoryBytes: 2 * PAGE, debug: true });
    const m = new Mutex({ engine });
    const holder = await m.acquire();
    const order: number[] = [];
    const filler = {
      hold: () => m.acquire(),
      request: () => m.acquire(),
      get waiting() {
        return m.waiting;
      },
    };
    const { queued } = await fillUntilRefused(filler, order, 20_000);
    const ac = new AbortController();
    const timersBefore = vi.getTimerCount();
    const refused = await m.acquire({ signal: ac.signal, timeout: 1000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RangeError);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(timersBefore);
    holder.release();
    await Promise.all(queued);
    engine.validate();
  });
});

describe("memory growth", () => {
  it("grows past the first 64 KiB page as waiters queue, and a batch of grants that spans pages settles", async () => {
    const engine = new Engine({ maxMemoryBytes: 64 * PAGE, debug: true });
    expect(engine.memory.buffer.byteLength).toBe(PAGE);
    const rw = new RWLock({ engine });
    expect(engine.heapBytes).toBeLessThan(PAGE);

    // 3,000 readers (96 KB of waiters) cross the first page boundary and are granted as one batch.
    const READERS = 3000;
    const N = 10_000;
    const modeOf = (i: number) => (i >= READERS && i % 5 === 0 ? "write" : "read");
    const holder = await rw.write();
    const order: number[] = [];
    const guards: Guard[] = [];
    const done: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const p = modeOf(i) === "read" ? rw.read() : rw.write();
      done.push(
        p.then((g) => {
          order.push(i);
          guards[i] = g;
          if (i >= READERS) queueMicrotask(() => g.release());
        }),
      );
    }
    expect(engine.heapBytes).toBeGreaterThan(2 * PAGE);
    expect(engine.memory.buffer.byteLength).toBeGreaterThan(2 * PAGE);
    expect(rw.waiting).toBe(N);
    engine.validate();

    holder.release();
    expect(rw.readers).toBe(READERS);
    expect(rw.waiting).toBe(N - READERS);
    await flush();
    expect(order).toEqual(Array.from({ length: READERS }, (_, i) => i));
    expect(guards.slice(0, READERS).every((g) => g.mode === "read" && g.weight === 1 && !g.released)).toBe(true);
    engine.validate();
    for (let i = 0; i < READERS; i++) guards[i].release();
    await Promise.all(done);
    await flush();
    let inOrder = order.length === N;
    for (let i = 0; i < N; i++) if (order[i] !== i) inOrder = false;
    expect(inOrder).toBe(true);
    expect(guards.every((g, i) => g.weight === 1 && g.mode === modeOf(i))).toBe(true);
    expect(rw.query()).toEqual({ held: [], pending: [] });
    engine.validate();

    // A lock created after the growth lives beyond the first page and works like any other.
    const late = new Mutex({ engine, value: "late" });
    const lateGuard = await late.acquire();
    const lateWaiter = late.acquire();
    expect(late.waiting).toBe(1);
    lateGuard.release();
    const lg = await lateWaiter;
    expect(lg.value).toBe("late");
    lg.release();
    engine.validate();
  });

  it("hands every waiter of a grown semaphore the weight it asked for", async () => {
    const engine = new Engine({ maxMemoryBytes: 64 * PAGE, debug: true });
    // 4,000 waiters (128 KB) whose weights add up to the permits: one batch across three pages.
    const N = 4000;
    const asked = Array.from({ length: N }, (_, i) => (i % 3) + 1);
    const PERMITS = asked.reduce((a, b) => a + b, 0);
    const sem = new Semaphore(PERMITS, { engine });
    const holder = await sem.acquire({ weight: PERMITS });
    const granted: { i: number; weight: number; mode: string }[] = [];
    const done = asked.map((w, i) =>
      sem.acquire({ weight: w }).then((g) => {
        granted.push({ i, weight: g.weight, mode: g.mode });
        queueMicrotask(() => g.release());
      }),
    );
    expect(engine.memory.buffer.byteLength).toBeGreaterThan(PAGE);
    holder.release();
    await Promise.all(done);
    expect(granted.map((g) => g.i)).toEqual(asked.map((_, i) => i));
    expect(granted.map((g) => g.weight)).toEqual(asked);
    expect(granted.every((g) => g.mode === "permit")).toBe(true);
    expect(sem.available).toBe(PERMITS);
    engine.validate();
  });
});

describe("reclaiming memory", () => {
  it("creating and dropping 1,000,000 Mutex objects (acquire and release each) does not grow shared memory without bound", async () => {
    const engine = new Engine();
    const N = 1_000_000;
    // Without reclaim the locks alone would take N * 64 bytes (64 MB).
    const bound = 8 * 1024 * 1024;
    let peak = 0;
    for (let i = 0; i < N; i++) {
      const m = new Mutex({ engine });
      const g = await m.acquire();
      g.release();
      if (i % 1000 === 999) {
        await new Promise((r) => setImmediate(r));
        peak = Math.max(peak, engine.heapBytes);
      }
    }
    expect(peak).toBeLessThan(bound);
    expect(engine.heapBytes).toBeLessThan(bound);
  });

  it("returns dropped shared locks to the engine once the garbage collector has collected them", async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const engine = new Engine({ debug: true });
    const warm = new Mutex({ engine });
    warm.tryAcquire()?.release(); // leaves the mode table and one free node cached
    warm.dispose();
    const baseline = engine.liveBlocks;
    // Shared locks keep their block while any thread may know its address.
    const churn = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const m = new Mutex({ engine });
        m.share();
        (await m.acquire()).release();
      }
    };
    const collect = async () => {
      for (let round = 0; round < 50 && engine.liveBlocks > baseline; round++) {
        gc();
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    await churn(10_000);
    expect(engine.liveBlocks).toBeGreaterThan(baseline);
    await collect();
    expect(engine.liveBlocks).toBe(baseline);
    const heap = engine.heapBytes;
    await churn(10_000);
    await collect();
    // The second round reused the first round's blocks.
    expect(engine.heapBytes).toBe(heap);
    engine.validate();
  });

  it("unshared locks hold shared memory only while in use or among the 1024 most recently idle", async () => {
    const engine = new Engine({ debug: true });
    const warm = new Mutex({ engine });
    warm.tryAcquire()?.release(); // the mode table and a node stay cached: count from here
    warm.dispose();
    const baseline = engine.liveBlocks;
    const m = new Mutex({ engine });
    expect(engine.liveBlocks).toBe(baseline); // nothing until first use
    const g = await m.acquire();
    expect(engine.liveBlocks).toBe(baseline + 1); // the lock's block; the hold node came from the cache
    g.release();
    expect(engine.liveBlocks).toBe(baseline + 1); // recently idle: kept for its next use
    const others = Array.from({ length: 3000 }, () => new Mutex({ engine }));
    for (const o of others) o.tryAcquire()?.release();
    // m and the oldest of the others were pushed out of the idle ring and gave their blocks back.
    expect(engine.liveBlocks).toBe(baseline + 1024);
    expect(m.locked).toBe(false);
    expect(m.waiting).toBe(0);
    expect(m.query()).toEqual({ held: [], pending: [] });
    // A dormant lock works as before, getting a new block.
    const again = await m.acquire();
    expect(m.locked).toBe(true);
    again.release();
    engine.validate();
  });

  it("dispose() returns a shared lock to the engine at once", async () => {
    const engine = new Engine({ debug: true });
    new Mutex({ engine }).tryAcquire()?.release(); // the mode table and a node stay cached
    const baseline = engine.liveBlocks;
    const m = new Mutex({ engine });
    m.share();
    // The lock's block, and this thread's handle record for it (dropped by the reaper if the thread dies).
    expect(engine.liveBlocks).toBe(baseline + 2);
    (await m.acquire()).release();
    expect(engine.liveBlocks).toBe(baseline + 2);
    m.dispose();
    expect(engine.liveBlocks).toBe(baseline);
    m.dispose(); // idempotent
    expect(engine.liveBlocks).toBe(baseline);
    engine.validate();

    for (const kind of [
      () => new RWLock({ engine }),
      () => new Semaphore(3, { engine }),
      () => new FifoLock(DB_MODES, { engine }),
    ]) {
      const before = engine.liveBlocks;
      const lock = kind();
      lock.share();
      lock.dispose();
      // A new mode table may stay cached for the next lock of that shape; the lock itself is gone.
      const tableKept = engine.liveBlocks - before;
      expect(tableKept).toBeLessThanOrEqual(1);
      const again = kind();
      again.share();
      again.dispose();
      expect(engine.liveBlocks - before).toBe(tableKept);
    }
    engine.validate();
  });

  it("`using` a lock disposes it at the end of the block", async () => {
    const engine = new Engine({ debug: true });
    const warm = new Mutex({ engine });
    warm.tryAcquire()?.release(); // leaves the mode table and one free node cached
    warm.dispose();
    const baseline = engine.liveBlocks;
    let outside: Mutex | undefined;
    {
      using m = new Mutex({ engine });
      outside = m;
      m.share();
      expect(engine.liveBlocks).toBe(baseline + 2); // the lock and this thread's handle record
      expect(m.tryAcquire()?.release()).toBeUndefined();
    }
    expect(engine.liveBlocks).toBe(baseline);
    expect(() => outside?.tryAcquire()).toThrow(/disposed/);
    engine.validate();
  });

  it("creating and disposing 1,000,000 locks keeps the shared memory flat", async () => {
    const engine = new Engine();
    const warm = new Mutex({ engine });
    (await warm.acquire()).release();
    warm.dispose();
    const heap = engine.heapBytes;
    const live = engine.liveBlocks;
    for (let i = 0; i < 1_000_000; i++) {
      const m = new Mutex({ engine });
      m.tryAcquire()?.release();
      m.dispose();
    }
    expect(engine.heapBytes).toBe(heap);
    expect(engine.liveBlocks).toBe(live);
  });

  it("a disposed lock refuses further use with a TypeError", async () => {
    const engine = new Engine({ debug: true });
    const m = new Mutex({ engine });
    m.dispose();
    expect(() => m.tryAcquire()).toThrow(/lock is disposed/);
    await expectArgError(() => m.acquire(), TypeError, /lock is disposed/);
    await expectArgError(() => m.run(() => 1), TypeError, /lock is disposed/);
    await expectArgError(() => m.whenAcquirable(), TypeError, /lock is disposed/);
    expect(() => m.waiting).toThrow(/lock is disposed/);
    expect(() => m.query()).toThrow(/lock is disposed/);
    engine.validate();
  });

  it("dispose() refuses while the lock is held or awaited through it, and works once it is not", async () => {
    vi.useFakeTimers();
    const engine = new Engine({ debug: true });
    const m = new Mutex({ engine });
    const g = await m.acquire();
    expect(() => m.dispose()).toThrow(LockError);
    expect(() => m.dispose()).toThrow(/cannot dispose a lock that this thread holds or awaits/);
    const ac = new AbortController();
    const aborted = m.acquire({ signal: ac.signal }).catch((e: unknown) => e);
    const timedOut = m.acquire({ timeout: 10 }).catch((e: unknown) => e);
    const waiter = m.acquire();
    expect(() => m.dispose()).toThrow(/holds or awaits/);
    ac.abort();
    await vi.advanceTimersByTimeAsync(10);
    expect(await aborted).toBe(ac.signal.reason);
    expect((await timedOut) as Error).toHaveProperty("name", "TimeoutError");
    g.release();
    expect(() => m.dispose()).toThrow(/holds or awaits/);
    (await waiter).release();
    // Cancelled requests no longer count against the handle.
    m.dispose();
    expect(() => m.tryAcquire()).toThrow(/disposed/);
    engine.validate();
  });
});
