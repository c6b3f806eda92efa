// Event, Notify, CountdownEvent, Latch, Barrier, Condition, CapacityLimiter
// and the blocking forms, in one thread: each semantic the issue names is a
// test named after it. Every test runs on a debug engine and validates its
// invariants (every lock's queue and holds) after the steps that change them.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setCanBlockForTests } from "../bindings/blocking.js";
import {
  Barrier,
  BrokenBarrierError,
  CapacityLimiter,
  Condition,
  CountdownEvent,
  Engine,
  Event,
  FifoLock,
  type Guard,
  Latch,
  LockError,
  Mutex,
  Notify,
  RWLock,
  Semaphore,
  TimeoutError,
} from "../bindings/index.js";
import { flush, track } from "./helpers.js";

let engine: Engine;

beforeEach(() => {
  engine = new Engine({ debug: true });
});

afterEach(() => {
  vi.useRealTimers();
  setCanBlockForTests(undefined);
});

const ok = () => engine.validate();

// The wait-style calls every primitive has, to run one set of option tests over all of them.
const waits: {
  name: string;
  make(): { wait(o?: { signal?: AbortSignal; timeout?: number }): Promise<unknown>; readonly waiting: number };
}[] = [
  { name: "Event.wait", make: () => new Event({ engine }) },
  {
    name: "Notify.notified",
    make: () => {
      const n = new Notify({ engine });
      return {
        wait: (o) => n.notified(o),
        get waiting() {
          return n.waiting;
        },
      };
    },
  },
  { name: "CountdownEvent.wait", make: () => new CountdownEvent(1, { engine }) },
  {
    name: "CapacityLimiter.acquire",
    make: () => {
      const c = new CapacityLimiter(0, { engine });
      return {
        wait: (o) => c.acquire(o),
        get waiting() {
          return c.waiting;
        },
      };
    },
  },
];

describe.each(waits)("$name: options as for acquire", ({ make }) => {
  it("a timeout rejects with TimeoutError and leaves no trace", async () => {
    vi.useFakeTimers();
    const w = make();
    const t = track(w.wait({ timeout: 50 }));
    expect(w.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(t.state).toBe("rejected");
    expect(t.reason).toBeInstanceOf(TimeoutError);
    expect(w.waiting).toBe(0);
    ok();
  });

  it("an abort rejects with signal.reason and leaves no trace", async () => {
    const w = make();
    const ac = new AbortController();
    const t = track(w.wait({ signal: ac.signal }));
    const reason = new Error("stop");
    ac.abort(reason);
    await flush();
    expect(t.reason).toBe(reason);
    expect(w.waiting).toBe(0);
    ok();
  });

  it("an already-aborted signal rejects without waiting", async () => {
    const w = make();
    const reason = new Error("early");
    const t = track(w.wait({ signal: AbortSignal.abort(reason) }));
    expect(w.waiting).toBe(0);
    await flush();
    expect(t.reason).toBe(reason);
  });
});

describe("Event", () => {
  it("set() wakes every waiter, in arrival order", async () => {
    const e = new Event({ engine });
    const order: number[] = [];
    const ws = [0, 1, 2].map((i) => e.wait().then(() => order.push(i)));
    expect(e.waiting).toBe(3);
    e.set();
    ok();
    await Promise.all(ws);
    expect(order).toEqual([0, 1, 2]);
    expect(e.waiting).toBe(0);
  });

  it("a set-then-clear pulse still wakes those already waiting", async () => {
    const e = new Event({ engine });
    const a = track(e.wait());
    const b = track(e.wait());
    e.set();
    e.clear();
    await flush();
    expect([a.state, b.state]).toEqual(["fulfilled", "fulfilled"]);
    expect(e.isSet).toBe(false);
    const late = track(e.wait());
    await flush();
    expect(late.state).toBe("pending");
    e.set();
    await flush();
    expect(late.state).toBe("fulfilled");
    ok();
  });

  it("set and clear are idempotent", async () => {
    const e = new Event({ engine });
    e.clear();
    e.clear();
    expect(e.isSet).toBe(false);
    e.set();
    e.set();
    expect(e.isSet).toBe(true);
    e.clear();
    expect(e.isSet).toBe(false);
    ok();
  });

  it("wait() on a set event resolves at once", async () => {
    const e = new Event({ engine });
    e.set();
    const t = track(e.wait());
    await Promise.resolve();
    await Promise.resolve();
    expect(t.state).toBe("fulfilled");
    expect(e.waiting).toBe(0);
    await flush();
    const before = engine.liveBlocks;
    await e.wait();
    await flush();
    expect(engine.liveBlocks).toBe(before); // a wait leaves nothing behind
  });

  it("share() and Event.from() give the same object in the same thread", () => {
    const e = new Event({ engine });
    expect(Event.from(e.share())).toBe(e);
    expect(() => Notify.from(e.share())).toThrow(TypeError);
  });
});

describe("Notify", () => {
  it("notifyOne() with nobody waiting stores one permit (two calls still store one)", async () => {
    const n = new Notify({ engine });
    n.notifyOne();
    n.notifyOne();
    const first = track(n.notified());
    const second = track(n.notified());
    await flush();
    expect(first.state).toBe("fulfilled");
    expect(second.state).toBe("pending");
    expect(n.waiting).toBe(1);
    n.notifyOne();
    await flush();
    expect(second.state).toBe("fulfilled");
    ok();
  });

  it("notifyAll() stores nothing and wakes only those waiting when it was called", async () => {
    const n = new Notify({ engine });
    const a = track(n.notified());
    const b = track(n.notified());
    n.notifyAll();
    const late = track(n.notified());
    await flush();
    expect([a.state, b.state, late.state]).toEqual(["fulfilled", "fulfilled", "pending"]);
    n.notifyAll();
    n.notifyAll();
    await flush();
    expect(late.state).toBe("fulfilled");
    const after = track(n.notified());
    await flush();
    expect(after.state).toBe("pending"); // nothing was stored
    n.notifyOne();
    await flush();
    expect(after.state).toBe("fulfilled");
    ok();
  });

  it("notifyOne() wakes the waiters one at a time in arrival order", async () => {
    const n = new Notify({ engine });
    const order: number[] = [];
    const ws = [0, 1, 2].map((i) => n.notified().then(() => order.push(i)));
    for (let i = 0; i < 3; i++) {
      n.notifyOne();
      await flush();
      expect(order.length).toBe(i + 1);
    }
    await Promise.all(ws);
    expect(order).toEqual([0, 1, 2]);
    ok();
  });
});

describe("CountdownEvent", () => {
  it("is set while its value is 0; waiters wake when down() reaches 0", async () => {
    const c = new CountdownEvent(2, { engine });
    const t = track(c.wait());
    c.down();
    await flush();
    expect(t.state).toBe("pending");
    c.down();
    await flush();
    expect(t.state).toBe("fulfilled");
    expect(c.value).toBe(0);
    ok();
  });

  it("up() from 0 unsets it", async () => {
    const c = new CountdownEvent(0, { engine });
    expect(c.isSet).toBe(true);
    c.up();
    expect(c.value).toBe(1);
    const t = track(c.wait());
    await flush();
    expect(t.state).toBe("pending");
    c.clear();
    await flush();
    expect(t.state).toBe("fulfilled");
    ok();
  });

  it("down() below 0 is a RangeError and changes nothing", () => {
    const c = new CountdownEvent(1, { engine });
    expect(() => c.down(2)).toThrow(RangeError);
    expect(c.value).toBe(1);
    c.down();
    expect(() => c.down()).toThrow(RangeError);
    expect(c.value).toBe(0);
    expect(() => new CountdownEvent(-1, { engine })).toThrow(RangeError);
    ok();
  });
});

describe("Latch", () => {
  it("releases its waiters once counted down to 0; arriveAndWait counts one and waits", async () => {
    const l = new Latch(3, { engine });
    const w = track(l.wait());
    const a = track(l.arriveAndWait());
    l.countDown();
    await flush();
    expect([w.state, a.state]).toEqual(["pending", "pending"]);
    expect(l.count).toBe(1);
    const b = track(l.arriveAndWait());
    await flush();
    expect([w.state, a.state, b.state]).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
    expect(await l.wait().then(() => "again")).toBe("again");
    ok();
  });

  it("abort() breaks it: every current and later wait rejects with BrokenBarrierError", async () => {
    const l = new Latch(2, { engine });
    const w = track(l.wait());
    l.abort();
    await flush();
    expect(w.reason).toBeInstanceOf(BrokenBarrierError);
    expect(l.broken).toBe(true);
    await expect(l.wait()).rejects.toBeInstanceOf(BrokenBarrierError);
    await expect(l.arriveAndWait()).rejects.toBeInstanceOf(BrokenBarrierError);
    ok();
  });

  it("a wait that times out breaks it", async () => {
    vi.useFakeTimers();
    const l = new Latch(2, { engine });
    const other = track(l.wait());
    const t = track(l.arriveAndWait({ timeout: 10 }));
    await vi.advanceTimersByTimeAsync(10);
    expect(t.reason).toBeInstanceOf(TimeoutError);
    expect(other.reason).toBeInstanceOf(BrokenBarrierError);
    expect(l.broken).toBe(true);
    ok();
  });

  it("a completed latch cannot be broken", async () => {
    const l = new Latch(1, { engine });
    l.countDown();
    l.abort();
    expect(l.broken).toBe(false);
    await l.wait();
  });
});

describe("Barrier", () => {
  it("index is arrival order and exactly one waiter per phase has isLeader", async () => {
    const b = new Barrier(3, { engine });
    const rs = await Promise.all([b.wait(), b.wait(), b.wait()]);
    expect(rs.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(rs.filter((r) => r.isLeader).length).toBe(1);
    expect(rs.every((r) => r.phase === 0)).toBe(true);
    ok();
  });

  it("arrivals beyond parties belong to the next phase", async () => {
    const b = new Barrier(2, { engine });
    const ts = [0, 1, 2].map(() => track(b.wait()));
    await flush();
    expect(ts.map((t) => t.state)).toEqual(["fulfilled", "fulfilled", "pending"]);
    expect(b.waiting).toBe(1);
    const fourth = track(b.wait());
    await flush();
    expect(ts[2].value).toEqual({ index: 0, isLeader: false, phase: 1 });
    expect(fourth.value).toEqual({ index: 1, isLeader: true, phase: 1 });
    ok();
  });

  it("a wait that times out breaks it, until reset()", async () => {
    vi.useFakeTimers();
    const b = new Barrier(3, { engine });
    const other = track(b.wait());
    const t = track(b.wait({ timeout: 5 }));
    await vi.advanceTimersByTimeAsync(5);
    expect(t.reason).toBeInstanceOf(TimeoutError);
    expect(other.reason).toBeInstanceOf(BrokenBarrierError);
    await expect(b.wait()).rejects.toBeInstanceOf(BrokenBarrierError);
    b.reset();
    expect(b.broken).toBe(false);
    const rs = await Promise.all([b.wait(), b.wait(), b.wait()]);
    expect(rs.map((r) => r.index)).toEqual([0, 1, 2]);
    ok();
  });

  it("an aborted wait breaks it", async () => {
    const b = new Barrier(2, { engine });
    const ac = new AbortController();
    const t = track(b.wait({ signal: ac.signal }));
    ac.abort(new Error("gone"));
    await flush();
    expect((t.reason as Error).message).toBe("gone");
    expect(b.broken).toBe(true);
    ok();
  });

  it("a wait that gives up breaks it in the same step: an arrival right after cannot complete the phase with it (regression)", async () => {
    const b = new Barrier(2, { engine });
    const ac = new AbortController();
    const a = track(b.wait({ signal: ac.signal }));
    ac.abort(new Error("gone"));
    const x = track(b.wait()); // same tick: before the fix, this completed the phase with the departed party
    await flush();
    expect((a.reason as Error).message).toBe("gone");
    expect(x.reason).toBeInstanceOf(BrokenBarrierError);
    ok();
  });

  it("abort() breaks it and reset() fails the current waiters, then it is usable again", async () => {
    const b = new Barrier(3, { engine });
    const w = track(b.wait());
    b.abort();
    await flush();
    expect(w.reason).toBeInstanceOf(BrokenBarrierError);
    b.reset();
    const x = track(b.wait());
    b.reset();
    await flush();
    expect(x.reason).toBeInstanceOf(BrokenBarrierError);
    expect(b.broken).toBe(false);
    const rs = await Promise.all([b.wait(), b.wait(), b.wait()]);
    expect(rs.filter((r) => r.isLeader).length).toBe(1);
    expect(b.parties).toBe(3);
    ok();
  });

  it("a barrier of one party completes every wait at once", async () => {
    const b = new Barrier(1, { engine });
    expect(await b.wait()).toEqual({ index: 0, isLeader: true, phase: 0 });
    expect(await b.wait()).toEqual({ index: 0, isLeader: true, phase: 1 });
  });
});

describe("Condition", () => {
  it("wait must be called holding the mutex through guard (otherwise a LockError)", async () => {
    const m = new Mutex({ engine });
    const c = new Condition(m);
    const g = await m.acquire();
    g.release();
    await expect(c.wait(g)).rejects.toBeInstanceOf(LockError);
    const other = new Mutex({ engine });
    const og = await other.acquire();
    await expect(c.wait(og)).rejects.toBeInstanceOf(LockError);
    og.release();
    await expect(c.wait({} as Guard)).rejects.toBeInstanceOf(LockError);
    ok();
  });

  it("wait releases the mutex atomically and re-acquires it after a notify", async () => {
    const m = new Mutex({ engine });
    const c = new Condition(m);
    const g = await m.acquire();
    const t = track(c.wait(g));
    expect(m.locked).toBe(false);
    expect(c.waiting).toBe(1);
    expect(c.notify()).toBe(1);
    await flush();
    expect(t.state).toBe("fulfilled");
    expect(m.locked).toBe(true);
    g.release();
    expect(m.locked).toBe(false);
    ok();
  });

  it("notify moves waiters onto the mutex's queue in FIFO order (wait morphing: no herd)", async () => {
    const m = new Mutex({ engine });
    const c = new Condition(m);
    const order: number[] = [];
    const guards: Guard[] = [];
    const ws = [0, 1, 2].map(async (i) => {
      const g = await m.acquire();
      guards[i] = g;
      await c.wait(g);
      order.push(i);
      g.release();
    });
    await flush();
    expect(c.waiting).toBe(3);
    const holder = await m.acquire();
    expect(c.notifyAll()).toBe(3);
    expect(c.waiting).toBe(0);
    expect(m.waiting).toBe(3); // queued on the mutex, behind the holder
    ok();
    holder.release();
    await Promise.all(ws);
    expect(order).toEqual([0, 1, 2]);
    ok();
  });

  it("notify(n) returns how many it woke; a notify with nobody waiting is lost", async () => {
    const m = new Mutex({ engine });
    const c = new Condition(m);
    expect(c.notify()).toBe(0);
    expect(c.notifyAll()).toBe(0);
    const g1 = await m.acquire();
    const t1 = track(c.wait(g1));
    const g2p = m.acquire();
    const g2 = await g2p;
    const t2 = track(c.wait(g2));
    expect(c.notify(5)).toBe(2);
    await flush();
    expect([t1.state, t2.state]).toEqual(["fulfilled", "pending"]); // t2 waits for the mutex
    g1.release();
    await flush();
    expect(t2.state).toBe("fulfilled");
    g2.release();
    ok();
  });

  it("a wait that times out still re-acquires the mutex before it rejects", async () => {
    vi.useFakeTimers();
    const m = new Mutex({ engine });
    const c = new Condition(m);
    const g = await m.acquire();
    const t = track(c.wait(g, { timeout: 20 }));
    const other = await m.acquire(); // the mutex is free while g waits
    await vi.advanceTimersByTimeAsync(20);
    expect(t.state).toBe("pending"); // timed out, but the mutex is held by `other`
    other.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.reason).toBeInstanceOf(TimeoutError);
    expect(m.locked).toBe(true); // by g again
    expect(g.released).toBe(false);
    g.release();
    ok();
  });

  it("a notification delivered to a waiter that is cancelled at that moment is passed on to the next waiter, never lost", async () => {
    const m = new Mutex({ engine });
    const c = new Condition(m);
    const ga = await m.acquire();
    const ac = new AbortController();
    const a = track(c.wait(ga, { signal: ac.signal }));
    const gb = await m.acquire();
    const b = track(c.wait(gb));
    // The abort wins: a leaves the condition's queue, and the notify finds b.
    ac.abort(new Error("cancelled"));
    expect(c.notify(1)).toBe(1);
    await flush();
    expect((a.reason as Error).message).toBe("cancelled");
    ga.release();
    await flush();
    expect(b.state).toBe("fulfilled");
    gb.release();
    // The notify wins: the cancel that comes after is ignored, the waiter is woken.
    const gc = await m.acquire();
    const ac2 = new AbortController();
    const cc = track(c.wait(gc, { signal: ac2.signal }));
    expect(c.notify(1)).toBe(1);
    ac2.abort(new Error("too late"));
    await flush();
    expect(cc.state).toBe("fulfilled");
    gc.release();
    ok();
  });

  it("waitFor waits until the predicate holds", async () => {
    const m = new Mutex({ engine });
    const c = new Condition(m);
    let ready = false;
    const g = await m.acquire();
    const t = track(c.waitFor(g, () => ready));
    c.notify();
    await flush();
    const h = await m.run(async () => {
      ready = true;
      c.notify();
      return "set";
    });
    expect(h).toBe("set");
    await flush();
    expect(t.state).toBe("fulfilled");
    g.release();
    ok();
  });
});

describe("CapacityLimiter", () => {
  it("one token per borrower at a time: a second acquire by a borrower that holds or awaits one rejects with a LockError", async () => {
    const c = new CapacityLimiter(1, { engine });
    const a = await c.acquire({ borrower: "a" });
    await expect(c.acquire({ borrower: "a" })).rejects.toBeInstanceOf(LockError);
    const b = track(c.acquire({ borrower: 7 }));
    await expect(c.acquire({ borrower: 7 })).rejects.toBeInstanceOf(LockError);
    expect(() => c.tryAcquire("a")).toThrow(LockError);
    expect(c.tryAcquire("zz")).toBe(null); // no token free
    a.release();
    await flush();
    expect(b.state).toBe("fulfilled");
    (b.value as Guard).release();
    const again = await c.acquire({ borrower: "a" });
    again.release();
    ok();
  });

  it("a request without a borrower is its own borrower", async () => {
    const c = new CapacityLimiter(2, { engine });
    const g1 = await c.acquire();
    const g2 = await c.acquire();
    expect(c.borrowed).toBe(2);
    expect(c.borrowers).toEqual([]);
    g1.release();
    g2.release();
  });

  it("borrowers lists the borrowers holding tokens; the borrower is recorded at hand-off", async () => {
    const c = new CapacityLimiter(1, { engine });
    const a = await c.acquire({ borrower: "a" });
    const b = track(c.acquire({ borrower: 2 }));
    expect(c.borrowers).toEqual(["a"]);
    a.release(); // hands the token to 2 before its promise settles
    expect(c.borrowers).toEqual([2]);
    await flush();
    (b.value as Guard).release();
    expect(c.borrowers).toEqual([]);
    ok();
  });

  it("raising total grants queued requests at once; lowering it takes effect as tokens come back", async () => {
    const c = new CapacityLimiter(1, { engine });
    const g = await c.acquire();
    const w1 = track(c.acquire());
    const w2 = track(c.acquire());
    c.total = 3;
    expect(c.borrowed).toBe(3);
    await flush();
    expect([w1.state, w2.state]).toEqual(["fulfilled", "fulfilled"]);
    c.total = 1;
    expect(c.available).toBe(0);
    const w3 = track(c.acquire());
    g.release();
    (w1.value as Guard).release();
    await flush();
    expect(w3.state).toBe("pending"); // 1 borrowed, total 1
    (w2.value as Guard).release();
    await flush();
    expect(w3.state).toBe("fulfilled");
    (w3.value as Guard).release();
    ok();
  });

  it("run() releases its token after the function, and waiters are served in arrival order", async () => {
    const c = new CapacityLimiter(1, { engine });
    const order: number[] = [];
    await Promise.all([0, 1, 2].map((i) => c.run(async () => order.push(i))));
    expect(order).toEqual([0, 1, 2]);
    expect(c.borrowed).toBe(0);
  });

  it("share() carries the borrowers", () => {
    const c = new CapacityLimiter(2, { engine });
    const g = c.tryAcquire("x");
    expect(CapacityLimiter.from(c.share()).borrowers).toEqual(["x"]);
    g?.release();
  });
});

describe("blocking forms", () => {
  it("they throw a TypeError that says so where the thread cannot block", () => {
    setCanBlockForTests(false);
    const m = new Mutex({ engine });
    expect(() => m.acquireSync()).toThrow(/may not block/);
    expect(() => m.acquireSync()).toThrow(TypeError);
    expect(() => new Event({ engine }).waitSync()).toThrow(TypeError);
    expect(() => new Barrier(2, { engine }).waitSync()).toThrow(TypeError);
    expect(() => new CapacityLimiter(1, { engine }).acquireSync()).toThrow(TypeError);
  });

  it("a blocking request that could only be granted after a hold of the calling thread itself is released throws ERR_RINGLOCK_DEADLOCK", async () => {
    const m = new Mutex({ engine });
    const g = m.acquireSync();
    expect(() => m.acquireSync()).toThrow(expect.objectContaining({ code: "ERR_RINGLOCK_DEADLOCK" }));
    expect(m.waiting).toBe(0); // it left nothing queued
    g.release();
    const rw = new RWLock({ engine });
    const r = rw.readSync();
    expect(() => rw.writeSync()).toThrow(LockError);
    const r2 = rw.readSync();
    r.release();
    r2.release();
    const s = new Semaphore(2, { engine });
    const p = s.acquireSync();
    const q = await s.acquire();
    expect(() => s.acquireSync()).toThrow(expect.objectContaining({ code: "ERR_RINGLOCK_DEADLOCK" }));
    p.release();
    q.release();
    ok();
  });

  it("acquireSync on a free lock returns a guard at once; a sync wait on a set event returns", () => {
    const m = new Mutex({ engine });
    const g = m.acquireSync();
    expect(m.locked).toBe(true);
    g.release();
    const e = new Event({ engine });
    e.set();
    e.waitSync();
    const f = new FifoLock({ a: { conflicts: ["a"] }, b: {} }, { engine });
    const ga = f.acquireSync("a");
    const gb = f.acquireSync("b", { weight: 2 });
    expect(gb.weight).toBe(2);
    expect(() => f.acquireSync("a")).toThrow(expect.objectContaining({ code: "ERR_RINGLOCK_DEADLOCK" }));
    ga.release();
    gb.release();
  });

  it("a blocking wait that times out throws TimeoutError and leaves nothing queued", () => {
    const e = new Event({ engine });
    expect(() => e.waitSync({ timeout: 5 })).toThrow(TimeoutError);
    expect(e.waiting).toBe(0);
    const n = new Notify({ engine });
    expect(() => n.notifiedSync({ timeout: 1 })).toThrow(TimeoutError);
    n.notifyOne();
    n.notifiedSync();
    ok();
  });
});
