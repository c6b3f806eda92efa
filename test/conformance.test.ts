// One conformance suite, run for every lock type. Each subject adapts its lock
// to two kinds of request: "x" conflicts with everything (Mutex 'exclusive',
// RWLock write, all permits of a Semaphore, FifoLock X) and "s" is the most
// shared request the lock has (RWLock read, one permit, FifoLock S; for Mutex
// it is 'exclusive' again). The tests speak only of x and s, so the same
// sentence holds for every primitive.

import { getEventListeners } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
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
import { DB_MODES, flush, type Tracked, track } from "./helpers.js";

type Kind = "x" | "s";

/** A lock seen through the two kinds of request. */
interface Handle {
  acquire(k: Kind, o?: AcquireOptions): Promise<Guard>;
  tryAcquire(k: Kind): Guard | null;
  run<R>(k: Kind, fn: (g: Guard) => R | PromiseLike<R>, o?: AcquireOptions): Promise<R>;
  whenAcquirable(k: Kind, o?: AcquireOptions): Promise<void>;
  readonly waiting: number;
  query(): LockState<string>;
}

interface Subject {
  name: string;
  create(engine: Engine): Handle;
  /** Guard.mode of each kind. */
  mode: Record<Kind, string>;
  /** Guard.weight of each kind. */
  weight: Record<Kind, number>;
  /** How many "s" requests can be held at once (1: s conflicts with s). */
  maxShared: number;
}

const PERMITS = 3;

const subjects: Subject[] = [
  {
    name: "Mutex",
    mode: { x: "exclusive", s: "exclusive" },
    weight: { x: 1, s: 1 },
    maxShared: 1,
    create(engine) {
      const m = new Mutex({ engine });
      return {
        acquire: (_k, o) => m.acquire(o),
        tryAcquire: () => m.tryAcquire(),
        run: (_k, fn, o) => m.run(fn, o),
        whenAcquirable: (_k, o) => m.whenAcquirable(o),
        get waiting() {
          return m.waiting;
        },
        query: () => m.query(),
      };
    },
  },
  {
    name: "RWLock",
    mode: { x: "write", s: "read" },
    weight: { x: 1, s: 1 },
    maxShared: Number.POSITIVE_INFINITY,
    create(engine) {
      const l = new RWLock({ engine });
      return {
        acquire: (k, o) => (k === "x" ? l.write(o) : l.read(o)),
        tryAcquire: (k) => (k === "x" ? l.tryWrite() : l.tryRead()),
        run: (k, fn, o) => (k === "x" ? l.runWrite(fn, o) : l.runRead(fn, o)),
        whenAcquirable: (k, o) => (k === "x" ? l.whenWritable(o) : l.whenReadable(o)),
        get waiting() {
          return l.waiting;
        },
        query: () => l.query(),
      };
    },
  },
  {
    name: `Semaphore(${PERMITS})`,
    mode: { x: "permit", s: "permit" },
    weight: { x: PERMITS, s: 1 },
    maxShared: PERMITS,
    create(engine) {
      const sem = new Semaphore(PERMITS, { engine });
      const w = (k: Kind) => (k === "x" ? PERMITS : 1);
      return {
        acquire: (k, o) => sem.acquire({ ...o, weight: w(k) }),
        tryAcquire: (k) => sem.tryAcquire(w(k)),
        run: (k, fn, o) => sem.run(fn, { ...o, weight: w(k) }),
        whenAcquirable: (k, o) => sem.whenAcquirable(w(k), o),
        get waiting() {
          return sem.waiting;
        },
        query: () => sem.query(),
      };
    },
  },
  {
    name: "FifoLock(IS/IX/S/SIX/X)",
    mode: { x: "X", s: "S" },
    weight: { x: 1, s: 1 },
    maxShared: Number.POSITIVE_INFINITY,
    create(engine) {
      const f = new FifoLock(DB_MODES, { engine });
      const m = (k: Kind) => (k === "x" ? "X" : "S");
      return {
        acquire: (k, o) => f.acquire(m(k), o),
        tryAcquire: (k) => f.tryAcquire(m(k)),
        run: (k, fn, o) => f.run(m(k), fn, o),
        whenAcquirable: (k, o) => f.whenAcquirable(m(k), undefined, o),
        get waiting() {
          return f.waiting;
        },
        query: () => f.query(),
      };
    },
  },
];

/** Model of the grant rule from an empty lock: the batches a queue of kinds is granted in. */
function batches(kinds: readonly Kind[], maxShared: number): number[][] {
  const out: number[][] = [];
  let i = 0;
  while (i < kinds.length) {
    const batch = [i++];
    if (kinds[batch[0]] === "s") {
      while (i < kinds.length && kinds[i] === "s" && batch.length < maxShared) batch.push(i++);
    }
    out.push(batch);
  }
  return out;
}

describe.each(subjects)("$name conformance", (subject) => {
  let engine: Engine;
  let lock: Handle;
  const X = subject.mode.x;
  const S = subject.mode.s;

  beforeEach(() => {
    engine = new Engine({ debug: true });
    lock = subject.create(engine);
  });

  afterEach(() => {
    vi.useRealTimers();
    engine.validate();
  });

  const heldModes = () => lock.query().held.map((h) => h.mode);

  describe("FIFO grants", () => {
    it("grants a request on a free lock at once, with the mode and weight asked for", async () => {
      const g = await lock.acquire("x");
      expect(g.mode).toBe(X);
      expect(g.weight).toBe(subject.weight.x);
      expect(g.released).toBe(false);
      expect(g.abandoned).toBe(false);
      expect(lock.query().held).toEqual([expect.objectContaining({ mode: X, weight: subject.weight.x })]);
      engine.validate();
      g.release();
      expect(g.released).toBe(true);
      expect(lock.query().held).toEqual([]);
      engine.validate();
    });

    it("queues a conflicting request and grants it when the holder releases", async () => {
      const holder = await lock.acquire("x");
      const next = track(lock.acquire("s"));
      await flush();
      expect(next.state).toBe("pending");
      expect(lock.waiting).toBe(1);
      engine.validate();
      holder.release();
      await flush();
      expect(next.state).toBe("fulfilled");
      expect(next.value?.mode).toBe(S);
      expect(lock.waiting).toBe(0);
      engine.validate();
      next.value?.release();
    });

    it("grants conflicting waiters one at a time in arrival order", async () => {
      const holder = await lock.acquire("x");
      const order: number[] = [];
      const waiters = Array.from({ length: 6 }, (_, i) =>
        lock.acquire("x").then((g) => {
          order.push(i);
          return g;
        }),
      );
      expect(lock.waiting).toBe(6);
      holder.release();
      for (let i = 0; i < 6; i++) {
        const g = await waiters[i];
        await flush();
        expect(order).toEqual(Array.from({ length: i + 1 }, (_, j) => j));
        expect(lock.waiting).toBe(5 - i);
        engine.validate();
        g.release();
      }
      expect(lock.query().held).toEqual([]);
    });

    it("grants the longest compatible prefix of the queue and nothing behind the first waiter that must wait", async () => {
      const kinds: Kind[] = ["s", "s", "x", "s", "s", "s", "s", "x", "s"];
      const expected = batches(kinds, subject.maxShared);
      const holder = await lock.acquire("x");
      const granted: number[] = [];
      const tracked = kinds.map((k, i) =>
        track(
          lock.acquire(k).then((g) => {
            granted.push(i);
            return g;
          }),
        ),
      );
      await flush();
      expect(granted).toEqual([]);
      let holding: Tracked<Guard>[] = [];
      holder.release();
      for (const batch of expected) {
        await flush();
        engine.validate();
        const now = tracked
          .map((t, i) => (t.state === "fulfilled" && !t.value?.released ? i : -1))
          .filter((i) => i >= 0);
        expect(now).toEqual(batch);
        expect(lock.waiting).toBe(kinds.length - 1 - batch[batch.length - 1]);
        holding = batch.map((i) => tracked[i]);
        for (const t of holding) t.value?.release();
      }
      expect(granted).toEqual(kinds.map((_, i) => i));
      expect(lock.query()).toEqual({ held: [], pending: [] });
    });

    it("makes a new request wait behind a queued one even when the holders would admit it", async () => {
      const holder = await lock.acquire("s");
      const writer = track(lock.acquire("x"));
      const late = track(lock.acquire("s"));
      await flush();
      expect(writer.state).toBe("pending");
      expect(late.state).toBe("pending");
      expect(lock.waiting).toBe(2);
      expect(lock.query().pending.map((p) => p.mode)).toEqual([X, S]);
      engine.validate();
      holder.release();
      await flush();
      expect(writer.state).toBe("fulfilled");
      expect(late.state).toBe("pending");
      writer.value?.release();
      await flush();
      expect(late.state).toBe("fulfilled");
      late.value?.release();
    });

    it("hands the lock over at release time: observers see the new holder before its promise settles", async () => {
      const holder = await lock.acquire("x");
      const next = track(lock.acquire("x"));
      await flush();
      holder.release();
      // Synchronously after release(): no promise callback has run yet.
      expect(next.state).toBe("pending");
      expect(lock.waiting).toBe(0);
      expect(heldModes()).toEqual([X]);
      expect(lock.tryAcquire("s")).toBeNull();
      engine.validate();
      await flush();
      expect(next.state).toBe("fulfilled");
      next.value?.release();
    });

    it("is not reentrant: a second request from the holder waits like any other", async () => {
      const g = await lock.acquire("x");
      const again = track(lock.acquire("x"));
      await flush();
      expect(again.state).toBe("pending");
      expect(lock.waiting).toBe(1);
      g.release();
      await flush();
      expect(again.state).toBe("fulfilled");
      again.value?.release();
    });
  });

  describe("tryAcquire", () => {
    it("succeeds on a free lock with a live guard", () => {
      const g = lock.tryAcquire("x");
      expect(g).not.toBeNull();
      expect(g?.mode).toBe(X);
      expect(g?.weight).toBe(subject.weight.x);
      expect(heldModes()).toEqual([X]);
      g?.release();
      expect(heldModes()).toEqual([]);
    });

    it("returns null while a conflicting grant is held, and never queues anything", async () => {
      const holder = await lock.acquire("x");
      expect(lock.tryAcquire("x")).toBeNull();
      expect(lock.tryAcquire("s")).toBeNull();
      expect(lock.waiting).toBe(0);
      expect(lock.query().pending).toEqual([]);
      engine.validate();
      holder.release();
      await flush();
      // Nothing was left behind to be granted.
      expect(lock.query()).toEqual({ held: [], pending: [] });
      const g = lock.tryAcquire("x");
      expect(g).not.toBeNull();
      g?.release();
    });

    it("returns null while the queue is not empty, even when the holders would admit it", async () => {
      const holder = await lock.acquire("s");
      const writer = track(lock.acquire("x"));
      expect(lock.tryAcquire("s")).toBeNull();
      expect(lock.waiting).toBe(1);
      engine.validate();
      holder.release();
      await flush();
      expect(writer.state).toBe("fulfilled");
      expect(heldModes()).toEqual([X]);
      writer.value?.release();
    });

    it("cannot take a lock that was just handed to a waiter", async () => {
      const holder = await lock.acquire("x");
      const next = track(lock.acquire("x"));
      holder.release();
      expect(lock.tryAcquire("x")).toBeNull();
      expect(lock.tryAcquire("s")).toBeNull();
      await flush();
      expect(next.state).toBe("fulfilled");
      next.value?.release();
    });
  });

  describe("run", () => {
    it("passes the callback's result through and releases when it fulfils", async () => {
      let seen: Guard | undefined;
      const result = await lock.run("x", async (g) => {
        seen = g;
        expect(heldModes()).toEqual([X]);
        await flush();
        return { answer: 42 };
      });
      expect(result).toEqual({ answer: 42 });
      expect(seen?.mode).toBe(X);
      expect(seen?.released).toBe(true);
      expect(lock.query().held).toEqual([]);
    });

    it("passes the callback's error through (the same object) and releases when it rejects", async () => {
      const boom = new Error("boom");
      await expect(
        lock.run("s", async () => {
          await flush();
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(lock.query().held).toEqual([]);
      expect(lock.tryAcquire("x")?.release()).toBeUndefined();
    });

    it("releases when the callback throws synchronously", async () => {
      const boom = new TypeError("sync boom");
      await expect(
        lock.run("x", () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(lock.query().held).toEqual([]);
    });

    it("waits its turn in the queue before calling the callback", async () => {
      const holder = await lock.acquire("x");
      const fn = vi.fn(() => "done");
      const r = track(lock.run("x", fn));
      await flush();
      expect(fn).not.toHaveBeenCalled();
      expect(lock.waiting).toBe(1);
      holder.release();
      await flush();
      expect(fn).toHaveBeenCalledTimes(1);
      expect(r.state).toBe("fulfilled");
      expect(r.value).toBe("done");
      expect(lock.query().held).toEqual([]);
    });

    it("does not release the next holder's grant when the callback released its own guard early", async () => {
      let gate!: () => void;
      const gated = new Promise<void>((r) => {
        gate = r;
      });
      const r = lock.run("x", async (g) => {
        g.release();
        await gated;
      });
      await flush();
      const next = await lock.acquire("x");
      gate();
      await r;
      expect(next.released).toBe(false);
      expect(heldModes()).toEqual([X]);
      engine.validate();
      next.release();
    });

    it("rejects with a TimeoutError and never calls the callback when its timeout runs out", async () => {
      vi.useFakeTimers();
      const holder = await lock.acquire("x");
      const fn = vi.fn();
      const r = track(lock.run("x", fn, { timeout: 50 }));
      await vi.advanceTimersByTimeAsync(50);
      expect(r.state).toBe("rejected");
      expect((r.reason as Error).name).toBe("TimeoutError");
      holder.release();
      await flush();
      expect(fn).not.toHaveBeenCalled();
      expect(lock.query().held).toEqual([]);
    });
  });

  describe("Guard", () => {
    it("release is idempotent: releasing again does not free the next holder's grant", async () => {
      const first = await lock.acquire("x");
      const second = track(lock.acquire("x"));
      first.release();
      await flush();
      expect(second.state).toBe("fulfilled");
      first.release();
      first[Symbol.dispose]();
      expect(first.released).toBe(true);
      expect(second.value?.released).toBe(false);
      expect(heldModes()).toEqual([X]);
      expect(lock.tryAcquire("s")).toBeNull();
      engine.validate();
      second.value?.release();
      second.value?.release();
      expect(lock.query().held).toEqual([]);
      engine.validate();
    });

    it("`using` releases the guard at the end of the block", async () => {
      {
        using g = await lock.acquire("x");
        expect(g.released).toBe(false);
        expect(heldModes()).toEqual([X]);
      }
      expect(lock.query().held).toEqual([]);
      expect(lock.tryAcquire("x")?.release()).toBeUndefined();
    });

    it("`using` releases the guard when the block throws", async () => {
      const boom = new Error("inside");
      let guard: Guard | undefined;
      const body = async () => {
        using g = await lock.acquire("s");
        guard = g;
        throw boom;
      };
      await expect(body()).rejects.toBe(boom);
      expect(guard?.released).toBe(true);
      expect(lock.query().held).toEqual([]);
    });
  });

  describe("timeout", () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });

    it("rejects with an error named 'TimeoutError' when the time runs out", async () => {
      const holder = await lock.acquire("x");
      const t = track(lock.acquire("s", { timeout: 100 }));
      await vi.advanceTimersByTimeAsync(99);
      expect(t.state).toBe("pending");
      expect(lock.waiting).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(t.state).toBe("rejected");
      expect(t.reason).toBeInstanceOf(TimeoutError);
      expect((t.reason as Error).name).toBe("TimeoutError");
      expect((t.reason as Error).message).toMatch(/100 ms/);
      holder.release();
    });

    it("dequeues at once when it times out, and never grants the timed-out request", async () => {
      const holder = await lock.acquire("x");
      const t = track(lock.acquire("x", { timeout: 100 }));
      expect(lock.waiting).toBe(1);
      vi.advanceTimersByTime(100);
      // Synchronously after the timer fired.
      expect(lock.waiting).toBe(0);
      expect(lock.query().pending).toEqual([]);
      engine.validate();
      holder.release();
      await flush();
      expect(t.state).toBe("rejected");
      expect(lock.query()).toEqual({ held: [], pending: [] });
      const g = lock.tryAcquire("x");
      expect(g).not.toBeNull();
      g?.release();
    });

    it("keeps the queue order of the requests around a timed-out one", async () => {
      const holder = await lock.acquire("x");
      const order: number[] = [];
      const a = lock.acquire("x").then((g) => {
        order.push(1);
        return g;
      });
      const b = track(lock.acquire("x", { timeout: 10 }));
      const c = lock.acquire("x").then((g) => {
        order.push(3);
        return g;
      });
      await vi.advanceTimersByTimeAsync(10);
      expect(b.state).toBe("rejected");
      expect(lock.waiting).toBe(2);
      holder.release();
      (await a).release();
      (await c).release();
      expect(order).toEqual([1, 3]);
    });

    it("does nothing when it runs out after the grant", async () => {
      const holder = await lock.acquire("x");
      const t = track(lock.acquire("x", { timeout: 100 }));
      await vi.advanceTimersByTimeAsync(50);
      holder.release();
      await flush();
      expect(t.state).toBe("fulfilled");
      await vi.advanceTimersByTimeAsync(1000);
      expect(t.state).toBe("fulfilled");
      expect(t.value?.released).toBe(false);
      expect(heldModes()).toEqual([X]);
      t.value?.release();
    });

    it("with timeout 0, grants a free lock and rejects at once on a busy one", async () => {
      const g = await lock.acquire("x", { timeout: 0 });
      expect(g.mode).toBe(X);
      const t = track(lock.acquire("x", { timeout: 0 }));
      expect(lock.waiting).toBe(0);
      await flush();
      expect(t.state).toBe("rejected");
      expect((t.reason as Error).name).toBe("TimeoutError");
      g.release();
      expect(lock.query().held).toEqual([]);
    });

    it("creates a fresh TimeoutError for every rejection", async () => {
      const holder = await lock.acquire("x");
      const a = track(lock.acquire("x", { timeout: 5 }));
      const b = track(lock.acquire("x", { timeout: 5 }));
      await vi.advanceTimersByTimeAsync(5);
      expect(a.state).toBe("rejected");
      expect(b.state).toBe("rejected");
      expect(a.reason).not.toBe(b.reason);
      holder.release();
    });
  });

  describe("AbortSignal", () => {
    it("rejects with signal.reason when aborted while queued, and dequeues at once", async () => {
      const holder = await lock.acquire("x");
      const ac = new AbortController();
      const t = track(lock.acquire("s", { signal: ac.signal }));
      expect(lock.waiting).toBe(1);
      const reason = new Error("changed my mind");
      ac.abort(reason);
      expect(lock.waiting).toBe(0);
      engine.validate();
      await flush();
      expect(t.state).toBe("rejected");
      expect(t.reason).toBe(reason);
      holder.release();
      await flush();
      expect(lock.query()).toEqual({ held: [], pending: [] });
    });

    it("rejects with the signal's default AbortError when aborted without a reason", async () => {
      const holder = await lock.acquire("x");
      const ac = new AbortController();
      const t = track(lock.acquire("x", { signal: ac.signal }));
      ac.abort();
      await flush();
      expect(t.state).toBe("rejected");
      expect(t.reason).toBe(ac.signal.reason);
      expect((t.reason as Error).name).toBe("AbortError");
      holder.release();
    });

    it("rejects an already-aborted signal without queueing, even on a busy lock", async () => {
      const holder = await lock.acquire("x");
      const reason = new Error("too late");
      const t = track(lock.acquire("x", { signal: AbortSignal.abort(reason) }));
      expect(lock.waiting).toBe(0);
      expect(lock.query().pending).toEqual([]);
      await flush();
      expect(t.state).toBe("rejected");
      expect(t.reason).toBe(reason);
      holder.release();
      await flush();
      expect(lock.query()).toEqual({ held: [], pending: [] });
    });

    it("rejects an already-aborted signal on a free lock and leaves the lock free", async () => {
      const reason = new Error("too late");
      await expect(lock.acquire("x", { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(lock.query()).toEqual({ held: [], pending: [] });
    });

    it("ignores an abort after the grant", async () => {
      const ac = new AbortController();
      const g = await lock.acquire("x", { signal: ac.signal });
      ac.abort(new Error("late"));
      await flush();
      expect(g.released).toBe(false);
      expect(heldModes()).toEqual([X]);
      expect(lock.tryAcquire("s")).toBeNull();
      g.release();
    });

    it("ignores an abort that comes after the grant but before the promise settled", async () => {
      const holder = await lock.acquire("x");
      const ac = new AbortController();
      const t = track(lock.acquire("x", { signal: ac.signal }));
      holder.release();
      ac.abort(new Error("lost the race"));
      engine.validate();
      await flush();
      expect(t.state).toBe("fulfilled");
      expect(t.value?.released).toBe(false);
      expect(heldModes()).toEqual([X]);
      t.value?.release();
    });

    it("removes its abort listener when the request is granted", async () => {
      const ac = new AbortController();
      const holder = await lock.acquire("x", { signal: ac.signal });
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
      const t = track(lock.acquire("x", { signal: ac.signal }));
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(1);
      holder.release();
      await flush();
      expect(t.state).toBe("fulfilled");
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
      t.value?.release();
    });

    it("removes its abort listener when the request times out", async () => {
      vi.useFakeTimers();
      const ac = new AbortController();
      const holder = await lock.acquire("x");
      const t = track(lock.acquire("x", { signal: ac.signal, timeout: 10 }));
      await vi.advanceTimersByTimeAsync(10);
      expect(t.state).toBe("rejected");
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
      holder.release();
    });

    it("leaves no listeners behind on a signal reused for many requests", async () => {
      const ac = new AbortController();
      for (let i = 0; i < 50; i++) {
        const g = await lock.acquire(i % 2 ? "x" : "s", { signal: ac.signal });
        const next = lock.acquire("x", { signal: ac.signal });
        g.release();
        (await next).release();
      }
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    });
  });

  describe("whenAcquirable", () => {
    it("resolves at once when a try would succeed", async () => {
      await expect(lock.whenAcquirable("x")).resolves.toBeUndefined();
      expect(lock.query().held).toEqual([]);
    });

    it("waits while a try would fail, then resolves once a try would succeed, without queueing anything", async () => {
      const holder = await lock.acquire("x");
      const w = track(lock.whenAcquirable("x"));
      await flush();
      expect(w.state).toBe("pending");
      expect(lock.waiting).toBe(0);
      expect(lock.query().pending).toEqual([]);
      holder.release();
      await w.promise;
      // Only a hint: nothing was reserved, so the lock is free and a try succeeds.
      expect(lock.query().held).toEqual([]);
      const g = lock.tryAcquire("x");
      expect(g).not.toBeNull();
      g?.release();
    });

    it("stays pending while the queue is not empty, even when the holders would admit the request", async () => {
      const holder = await lock.acquire("s");
      const writer = track(lock.acquire("x"));
      const w = track(lock.whenAcquirable("s"));
      await flush();
      expect(w.state).toBe("pending");
      holder.release();
      await flush();
      expect(writer.state).toBe("fulfilled");
      expect(w.state).toBe("pending");
      writer.value?.release();
      await w.promise;
      expect(lock.tryAcquire("s")?.release()).toBeUndefined();
    });

    it("rejects with signal.reason when aborted, and removes its listener", async () => {
      const holder = await lock.acquire("x");
      const ac = new AbortController();
      const w = track(lock.whenAcquirable("x", { signal: ac.signal }));
      await flush();
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(1);
      const reason = new Error("stop watching");
      ac.abort(reason);
      await flush();
      expect(w.state).toBe("rejected");
      expect(w.reason).toBe(reason);
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
      holder.release();
    });

    it("removes its abort listener when it resolves", async () => {
      const holder = await lock.acquire("x");
      const ac = new AbortController();
      const w = lock.whenAcquirable("x", { signal: ac.signal });
      holder.release();
      await w;
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    });

    it("rejects at once with an already-aborted signal", async () => {
      const holder = await lock.acquire("x");
      const reason = new Error("already");
      await expect(lock.whenAcquirable("x", { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      holder.release();
    });

    it("rejects with a TimeoutError when its timeout runs out", async () => {
      vi.useFakeTimers();
      const holder = await lock.acquire("x");
      const w = track(lock.whenAcquirable("x", { timeout: 30 }));
      await vi.advanceTimersByTimeAsync(29);
      expect(w.state).toBe("pending");
      await vi.advanceTimersByTimeAsync(1);
      expect(w.state).toBe("rejected");
      expect((w.reason as Error).name).toBe("TimeoutError");
      holder.release();
    });
  });
});
