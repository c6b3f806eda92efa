// Named edge cases of the contract in DESIGN.md ("Semantics"), and the errors
// bad input must produce. Every lock lives on a debug engine whose invariants
// are checked after each step and after each test.

import { threadId } from "node:worker_threads";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Engine, FifoLock, type Guard, LockError, Mutex, RWLock, Semaphore } from "../bindings/index.js";
import { DB_MODES, expectArgError, flush, track } from "./helpers.js";

let engine: Engine;

beforeEach(() => {
  engine = new Engine({ debug: true });
});

afterEach(() => {
  vi.useRealTimers();
  engine.validate();
});

const db = () => new FifoLock(DB_MODES, { engine });

describe("strict FIFO", () => {
  it("an S arriving while S is held and X is queued waits behind the X", async () => {
    const lock = db();
    const s1 = await lock.acquire("S");
    const x = track(lock.acquire("X"));
    const s2 = track(lock.acquire("S"));
    await flush();
    expect(x.state).toBe("pending");
    expect(s2.state).toBe("pending");
    expect(lock.held("S")).toBe(1);
    expect(lock.tryAcquire("S")).toBeNull();
    engine.validate();
    s1.release();
    await flush();
    expect(x.state).toBe("fulfilled");
    expect(s2.state).toBe("pending");
    x.value?.release();
    await flush();
    expect(s2.state).toBe("fulfilled");
    expect(lock.held("S")).toBe(1);
    s2.value?.release();
  });

  it("a reader arriving while a reader holds and a writer waits waits behind the writer", async () => {
    const rw = new RWLock({ engine });
    const r1 = await rw.read();
    const w = track(rw.write());
    const r2 = track(rw.read());
    await flush();
    expect(rw.readers).toBe(1);
    expect(r2.state).toBe("pending");
    expect(rw.waiting).toBe(2);
    r1.release();
    await flush();
    expect(rw.writing).toBe(true);
    expect(r2.state).toBe("pending");
    w.value?.release();
    await flush();
    expect(rw.readers).toBe(1);
    r2.value?.release();
  });

  it("cancelling the queued head with an abort lets the compatible requests behind it through at once", async () => {
    const lock = db();
    const s = await lock.acquire("S");
    const ac = new AbortController();
    const x = track(lock.acquire("X", { signal: ac.signal }));
    const s2 = track(lock.acquire("S"));
    const is = track(lock.acquire("IS"));
    const ix = track(lock.acquire("IX"));
    await flush();
    expect(lock.waiting).toBe(4);
    ac.abort();
    // Synchronously: the followers compatible with the held S are holders now; IX still conflicts with S.
    expect(lock.query().held.map((h) => h.mode)).toEqual(["S", "S", "IS"]);
    expect(lock.query().pending.map((p) => p.mode)).toEqual(["IX"]);
    engine.validate();
    await flush();
    expect(x.state).toBe("rejected");
    expect(s2.state).toBe("fulfilled");
    expect(is.state).toBe("fulfilled");
    expect(ix.state).toBe("pending");
    s.release();
    s2.value?.release();
    await flush();
    expect(ix.state).toBe("fulfilled");
    is.value?.release();
    ix.value?.release();
  });

  it("cancelling the queued head with a timeout lets the compatible requests behind it through at once", async () => {
    vi.useFakeTimers();
    const rw = new RWLock({ engine });
    const r = await rw.read();
    const w = track(rw.write({ timeout: 100 }));
    const readers = [track(rw.read()), track(rw.read()), track(rw.read())];
    vi.advanceTimersByTime(100);
    expect(rw.readers).toBe(4);
    expect(rw.waiting).toBe(0);
    engine.validate();
    await flush();
    expect(w.state).toBe("rejected");
    expect(readers.map((t) => t.state)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
    r.release();
    for (const t of readers) t.value?.release();
  });

  it("cancelling a waiter that is not the head leaves the head blocked", async () => {
    const sem = new Semaphore(2, { engine });
    const g = await sem.acquire();
    const heavy = track(sem.acquire({ weight: 2 }));
    const ac = new AbortController();
    const light = track(sem.acquire({ signal: ac.signal }));
    const after = track(sem.acquire());
    ac.abort();
    await flush();
    expect(light.state).toBe("rejected");
    expect(heavy.state).toBe("pending");
    expect(after.state).toBe("pending");
    expect(sem.query().pending.map((p) => p.weight)).toEqual([2, 1]);
    engine.validate();
    g.release();
    await flush();
    expect(heavy.state).toBe("fulfilled");
    heavy.value?.release();
    await flush();
    expect(after.state).toBe("fulfilled");
    after.value?.release();
  });

  it("a timeout dequeues at once: waiting drops in the same tick and nothing is ever granted to the timed-out request", async () => {
    vi.useFakeTimers();
    const lock = db();
    const x = await lock.acquire("X");
    const six = track(lock.acquire("SIX", { timeout: 100 }));
    const is = track(lock.acquire("IS"));
    expect(lock.waiting).toBe(2);
    vi.advanceTimersByTime(100);
    expect(lock.waiting).toBe(1);
    expect(lock.query().pending.map((p) => p.mode)).toEqual(["IS"]);
    x.release();
    expect(lock.query().held.map((h) => h.mode)).toEqual(["IS"]);
    expect(lock.held("SIX")).toBe(0);
    await flush();
    expect(six.state).toBe("rejected");
    expect((six.reason as Error).name).toBe("TimeoutError");
    expect(is.state).toBe("fulfilled");
    is.value?.release();
    expect(lock.query()).toEqual({ held: [], pending: [] });
  });

  it("an abort after the grant is ignored, even in the same tick as the grant", async () => {
    const m = new Mutex({ engine });
    const holder = await m.acquire();
    const ac = new AbortController();
    const p = m.acquire({ signal: ac.signal });
    holder.release();
    ac.abort(new Error("too late"));
    const g = await p;
    expect(g.released).toBe(false);
    expect(m.locked).toBe(true);
    ac.abort(new Error("later still"));
    expect(m.locked).toBe(true);
    g.release();
    expect(m.locked).toBe(false);
  });

  it("a heavy semaphore head blocks lighter requests behind it", async () => {
    const sem = new Semaphore(5, { engine });
    const three = await sem.acquire({ weight: 3 });
    expect(sem.available).toBe(2);
    const four = track(sem.acquire({ weight: 4 }));
    const one = track(sem.acquire({ weight: 1 }));
    await flush();
    // Two permits are free, yet the light request waits behind the heavy head.
    expect(sem.available).toBe(2);
    expect(four.state).toBe("pending");
    expect(one.state).toBe("pending");
    expect(sem.tryAcquire(1)).toBeNull();
    engine.validate();
    three.release();
    await flush();
    expect(four.state).toBe("fulfilled");
    expect(one.state).toBe("fulfilled");
    expect(sem.available).toBe(0);
    four.value?.release();
    one.value?.release();
    expect(sem.available).toBe(5);
  });

  it("whenAcquirable(weight) on a semaphore waits for enough permits", async () => {
    const sem = new Semaphore(4, { engine });
    const g = await sem.acquire({ weight: 3 });
    await expect(sem.whenAcquirable(1)).resolves.toBeUndefined();
    const w = track(sem.whenAcquirable(2));
    await flush();
    expect(w.state).toBe("pending");
    g.release();
    await w.promise;
    expect(sem.tryAcquire(2)?.weight).toBe(2);
  });

  it("100,000 queued waiters drain in FIFO order", async () => {
    const N = 100_000;
    const m = new Mutex({ engine });
    const holder = await m.acquire();
    const order: number[] = [];
    const done: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      done.push(
        m.acquire().then((g) => {
          order.push(i);
          g.release();
        }),
      );
    }
    expect(m.waiting).toBe(N);
    engine.validate();
    holder.release();
    await Promise.all(done);
    expect(order.length).toBe(N);
    let inOrder = true;
    for (let i = 0; i < N; i++) if (order[i] !== i) inOrder = false;
    expect(inOrder).toBe(true);
    expect(m.waiting).toBe(0);
    expect(m.locked).toBe(false);
  });

  it("100,000 queued readers and writers are granted in FIFO order, never a writer beside anyone", async () => {
    const N = 100_000;
    const rw = new RWLock({ engine });
    const holder = await rw.write();
    const order: number[] = [];
    let overlap = 0;
    const done: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const isWriter = i % 7 === 0;
      const p = isWriter ? rw.write() : rw.read();
      done.push(
        p.then((g) => {
          if (isWriter && rw.readers !== 0) overlap++;
          order.push(i);
          g.release();
        }),
      );
    }
    expect(rw.waiting).toBe(N);
    holder.release();
    await Promise.all(done);
    expect(overlap).toBe(0);
    let inOrder = true;
    for (let i = 0; i < N; i++) if (order[i] !== i) inOrder = false;
    expect(inOrder).toBe(true);
    expect(rw.query()).toEqual({ held: [], pending: [] });
  });
});

describe("guarded values", () => {
  it("new Mutex({ value }) hands the value to each holder through guard.value", async () => {
    const state = { count: 0 };
    const m = new Mutex({ engine, value: state });
    const g = await m.acquire();
    expect(g.value).toBe(state);
    g.value.count++;
    g.value = { count: 10 };
    g.release();
    const g2 = await m.acquire();
    expect(g2.value).toEqual({ count: 10 });
    g2.release();
    expect(state.count).toBe(1);
  });

  it("keeps a falsy guarded value such as 0", async () => {
    const m = new Mutex({ engine, value: 0 });
    await m.run((g) => {
      expect(g.value).toBe(0);
      g.value = 5;
    });
    await m.run((g) => expect(g.value).toBe(5));
  });

  it("guard.value throws once the guard is released, for reading and for writing", async () => {
    const m = new Mutex({ engine, value: "secret" });
    const g = await m.acquire();
    g.release();
    expect(() => g.value).toThrow(LockError);
    expect(() => g.value).toThrow(/after release/);
    expect(() => {
      g.value = "overwritten";
    }).toThrow(/after release/);
    const g2 = m.tryAcquire();
    expect(g2?.value).toBe("secret");
    g2?.release();
  });

  it("a read guard of new RWLock({ value }) reads the value but cannot replace it; a write guard can", async () => {
    const rw = new RWLock({ engine, value: [1, 2, 3] });
    const r = await rw.read();
    expect(r.value).toEqual([1, 2, 3]);
    expect(() => {
      (r as Guard<number[]>).value = [];
    }).toThrow(TypeError);
    expect(() => {
      (r as Guard<number[]>).value = [];
    }).toThrow(/read guard cannot replace/);
    expect(r.value).toEqual([1, 2, 3]);
    r.release();
    const w = await rw.write();
    w.value = [4];
    w.release();
    await rw.runRead((g) => expect(g.value).toEqual([4]));
  });

  it("run() passes a guard whose value works inside the callback and throws after it", async () => {
    const m = new Mutex({ engine, value: { n: 1 } });
    let kept: Guard<{ n: number }> | undefined;
    await m.run((g) => {
      kept = g;
      g.value.n = 2;
    });
    expect(() => kept?.value).toThrow(/after release/);
    await m.run((g) => expect(g.value.n).toBe(2));
  });
});

describe("query()", () => {
  it("shows holders in grant order and waiters in queue order, each with mode, weight and threadId", async () => {
    const lock = db();
    const is = await lock.acquire("IS");
    const ix = await lock.acquire("IX");
    const s = track(lock.acquire("S"));
    const x = track(lock.acquire("X", { weight: 1 }));
    const is2 = track(lock.acquire("IS"));
    expect(lock.query()).toEqual({
      held: [
        { mode: "IS", weight: 1, threadId },
        { mode: "IX", weight: 1, threadId },
      ],
      pending: [
        { mode: "S", weight: 1, threadId },
        { mode: "X", weight: 1, threadId },
        { mode: "IS", weight: 1, threadId },
      ],
    });
    ix.release();
    // S is now compatible with the held IS; X and the IS behind it still wait.
    expect(lock.query()).toEqual({
      held: [
        { mode: "IS", weight: 1, threadId },
        { mode: "S", weight: 1, threadId },
      ],
      pending: [
        { mode: "X", weight: 1, threadId },
        { mode: "IS", weight: 1, threadId },
      ],
    });
    engine.validate();
    await flush();
    is.release();
    s.value?.release();
    await flush();
    expect(x.state).toBe("fulfilled");
    expect(lock.query().held).toEqual([{ mode: "X", weight: 1, threadId }]);
    x.value?.release();
    await flush();
    is2.value?.release();
    expect(lock.query()).toEqual({ held: [], pending: [] });
  });

  it("reports weights of a semaphore's holders and waiters", async () => {
    const sem = new Semaphore(10, { engine });
    const a = await sem.acquire({ weight: 4 });
    const b = await sem.acquire({ weight: 5 });
    const c = track(sem.acquire({ weight: 3 }));
    expect(sem.query()).toEqual({
      held: [
        { mode: "permit", weight: 4, threadId },
        { mode: "permit", weight: 5, threadId },
      ],
      pending: [{ mode: "permit", weight: 3, threadId }],
    });
    a.release();
    expect(sem.query().held.map((h) => h.weight)).toEqual([5, 3]);
    await flush();
    b.release();
    c.value?.release();
  });
});

describe("mode tables", () => {
  it("symmetrises an asymmetric conflict table", async () => {
    const lock = new FifoLock<"a" | "b">({ a: { conflicts: ["b"] }, b: {} }, { engine });
    const b = await lock.acquire("b");
    expect(lock.tryAcquire("a")).toBeNull();
    b.release();
    const a = await lock.acquire("a");
    expect(lock.tryAcquire("b")).toBeNull();
    a.release();
  });

  it("a mode's limit caps the total weight held in that mode", async () => {
    const lock = new FifoLock<"pool" | "drain">({ pool: { limit: 4 }, drain: { conflicts: ["pool"] } }, { engine });
    const g1 = await lock.acquire("pool", { weight: 3 });
    const g2 = track(lock.acquire("pool", { weight: 2 }));
    await flush();
    expect(g2.state).toBe("pending");
    expect(lock.held("pool")).toBe(3);
    g1.release();
    await flush();
    expect(g2.state).toBe("fulfilled");
    expect(lock.held("pool")).toBe(2);
    g2.value?.release();
  });

  it("handles all 32 modes, the 32nd (bit 31) conflicting like any other", async () => {
    const modes: Record<string, { conflicts?: string[] }> = {};
    for (let i = 0; i < 32; i++) modes[`m${i}`] = {};
    modes.m31 = { conflicts: ["m0", "m31"] };
    const lock = new FifoLock(modes, { engine });
    const top = await lock.acquire("m31");
    expect(lock.held("m31")).toBe(1);
    expect(lock.tryAcquire("m0")).toBeNull();
    expect(lock.tryAcquire("m31")).toBeNull();
    const m5 = lock.tryAcquire("m5");
    expect(m5?.mode).toBe("m5");
    engine.validate();
    const m0 = track(lock.acquire("m0"));
    top.release();
    await flush();
    expect(m0.state).toBe("fulfilled");
    expect(lock.tryAcquire("m31")).toBeNull();
    m0.value?.release();
    m5?.release();
    expect(lock.query().held).toEqual([]);
  });
});

describe("timeouts outside the usual range", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  it("timeout: Infinity waits without expiring", async () => {
    const m = new Mutex({ engine });
    const g = await m.acquire();
    const t = track(m.acquire({ timeout: Number.POSITIVE_INFINITY }));
    await vi.advanceTimersByTimeAsync(10 ** 9);
    expect(t.state).toBe("pending");
    g.release();
    await flush();
    expect(t.state).toBe("fulfilled");
    t.value?.release();
  });

  it("a timeout longer than setTimeout's 32-bit range does not expire early", async () => {
    const m = new Mutex({ engine });
    const g = await m.acquire();
    const ms = 2 ** 31; // ~24.9 days: one more than setTimeout can hold
    let t: ReturnType<typeof track<Guard>> | undefined;
    let thrown: unknown;
    try {
      t = track(m.acquire({ timeout: ms }));
    } catch (e) {
      thrown = e;
    }
    // Either refused up front as out of range, or honoured: never a TimeoutError after a few ms.
    if (thrown !== undefined) {
      expect(thrown).toBeInstanceOf(RangeError);
    } else {
      await vi.advanceTimersByTimeAsync(1000);
      if (t?.state === "rejected") expect(t.reason).toBeInstanceOf(RangeError);
      else expect(t?.state).toBe("pending");
    }
    g.release();
    await flush();
    t?.value?.release();
  });
});

describe("bad input is refused with an error that says what was wrong", () => {
  it("an unknown mode is a TypeError naming the mode", async () => {
    const lock = db();
    const bad = "Z" as "X";
    await expectArgError(() => lock.acquire(bad), TypeError, /unknown mode 'Z'/);
    await expectArgError(() => lock.tryAcquire(bad), TypeError, /unknown mode 'Z'/);
    await expectArgError(() => lock.run(bad, () => 1), TypeError, /unknown mode 'Z'/);
    await expectArgError(() => lock.whenAcquirable(bad), TypeError, /unknown mode 'Z'/);
    await expectArgError(() => lock.held(bad), TypeError, /unknown mode 'Z'/);
    expect(lock.query()).toEqual({ held: [], pending: [] });
  });

  it("a weight that is not a positive integer is a RangeError", async () => {
    const sem = new Semaphore(3, { engine });
    const lock = db();
    for (const w of [0, -1, 1.5, Number.NaN, "2" as unknown as number]) {
      const msg = /weight must be a positive integer/;
      await expectArgError(() => sem.acquire({ weight: w }), RangeError, msg);
      await expectArgError(() => sem.tryAcquire(w), RangeError, msg);
      await expectArgError(() => sem.run(() => 1, { weight: w }), RangeError, msg);
      await expectArgError(() => sem.whenAcquirable(w), RangeError, msg);
      await expectArgError(() => lock.acquire("S", { weight: w }), RangeError, msg);
    }
    expect(sem.waiting).toBe(0);
    expect(sem.available).toBe(3);
  });

  it("a weight above the mode's limit is a RangeError naming the limit, at once even when it would queue", async () => {
    const sem = new Semaphore(3, { engine });
    const held = await sem.acquire();
    await expectArgError(() => sem.acquire({ weight: 4 }), RangeError, /weight 4 exceeds the limit 3/);
    await expectArgError(() => sem.tryAcquire(4), RangeError, /exceeds the limit 3/);
    await expectArgError(() => sem.whenAcquirable(4), RangeError, /exceeds the limit 3/);
    const lock = new FifoLock({ r: { limit: 2 } }, { engine });
    await expectArgError(
      () => lock.acquire("r", { weight: 3 }),
      RangeError,
      /weight 3 exceeds the limit 2 of mode 'r'/,
    );
    expect(sem.waiting).toBe(0);
    held.release();
  });

  it("a modes table whose conflicts name an unknown mode is a TypeError naming it", () => {
    expect(() => new FifoLock({ a: { conflicts: ["b" as "a"] } }, { engine })).toThrow(TypeError);
    expect(() => new FifoLock({ a: { conflicts: ["b" as "a"] } }, { engine })).toThrow(
      /mode 'a' conflicts with unknown mode 'b'/,
    );
  });

  it("a modes table with more than 32 modes is a RangeError", () => {
    const modes: Record<string, object> = {};
    for (let i = 0; i < 33; i++) modes[`m${i}`] = {};
    expect(() => new FifoLock(modes, { engine })).toThrow(RangeError);
    expect(() => new FifoLock(modes, { engine })).toThrow(/1 to 32 modes, got 33/);
  });

  it("an empty modes table is a RangeError and a non-object one a TypeError", () => {
    expect(() => new FifoLock({}, { engine })).toThrow(RangeError);
    expect(() => new FifoLock({}, { engine })).toThrow(/got 0/);
    expect(() => new FifoLock(null as unknown as Record<string, object>, { engine })).toThrow(TypeError);
    expect(() => new FifoLock(null as unknown as Record<string, object>, { engine })).toThrow(
      /modes must be an object/,
    );
  });

  it("a mode limit below 1 or not an integer is a RangeError naming the mode", () => {
    for (const limit of [0, -3, 1.5, Number.NaN]) {
      expect(() => new FifoLock({ a: { limit } }, { engine })).toThrow(RangeError);
      expect(() => new FifoLock({ a: { limit } }, { engine })).toThrow(/mode 'a': limit must be an integer/);
    }
  });

  it("a conflicts entry that is not an array is a TypeError", () => {
    expect(() => new FifoLock({ a: { conflicts: "a" as unknown as "a"[] } }, { engine })).toThrow(
      /conflicts must be an array/,
    );
  });

  it("Semaphore permits that are not a positive integer are a RangeError", () => {
    for (const permits of [0, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, "3" as unknown as number]) {
      expect(() => new Semaphore(permits, { engine })).toThrow(RangeError);
      expect(() => new Semaphore(permits, { engine })).toThrow(/permits must be an integer/);
    }
  });

  it("a bad timeout is a RangeError", async () => {
    const m = new Mutex({ engine });
    const g = await m.acquire();
    for (const timeout of [-1, Number.NaN, "100" as unknown as number, Number.NEGATIVE_INFINITY]) {
      await expectArgError(() => m.acquire({ timeout }), RangeError, /timeout must be a number of milliseconds/);
      await expectArgError(() => m.whenAcquirable({ timeout }), RangeError, /timeout/);
      await expectArgError(() => m.run(() => 1, { timeout }), RangeError, /timeout/);
    }
    expect(m.waiting).toBe(0);
    g.release();
  });

  it("a signal that is not an AbortSignal is a TypeError", async () => {
    const m = new Mutex({ engine });
    const fake = { aborted: false, addEventListener() {}, removeEventListener() {} } as unknown as AbortSignal;
    await expectArgError(() => m.acquire({ signal: fake }), TypeError, /signal must be an AbortSignal/);
    await expectArgError(() => m.whenAcquirable({ signal: fake }), TypeError, /signal must be an AbortSignal/);
    await expectArgError(() => m.run(() => 1, { signal: fake }), TypeError, /signal must be an AbortSignal/);
    expect(m.locked).toBe(false);
  });

  it("options that are not an object are a TypeError", async () => {
    const m = new Mutex({ engine });
    await expectArgError(() => m.acquire(5 as unknown as object), TypeError, /options must be an object/);
    expect(() => new Mutex(5 as unknown as object)).toThrow(/options must be an object/);
    expect(() => new Mutex({ engine: {} as Engine })).toThrow(/options.engine must be an Engine/);
  });

  it("run() with something that is not a function rejects with a TypeError", async () => {
    const locks = [
      () => new Mutex({ engine }).run(42 as unknown as () => void),
      () => new RWLock({ engine }).runRead("x" as unknown as () => void),
      () => new RWLock({ engine }).runWrite(null as unknown as () => void),
      () => new Semaphore(2, { engine }).run({} as unknown as () => void),
      () => db().run("S", undefined as unknown as () => void),
    ];
    for (const call of locks) {
      let p: Promise<unknown> | undefined;
      expect(() => {
        p = call();
      }).not.toThrow();
      await expect(p).rejects.toThrow(TypeError);
      await expect(p).rejects.toThrow(/run\(\) needs a function/);
    }
  });

  it("an Engine with maxMemoryBytes out of range is a RangeError", () => {
    expect(() => new Engine({ maxMemoryBytes: 1000 })).toThrow(RangeError);
    expect(() => new Engine({ maxMemoryBytes: 1000 })).toThrow(/maxMemoryBytes must be an integer/);
  });

  it("bad input leaves a busy lock exactly as it was", async () => {
    const sem = new Semaphore(2, { engine });
    const g = await sem.acquire({ weight: 2 });
    const w = track(sem.acquire());
    await expectArgError(() => sem.acquire({ weight: 3 }), RangeError, /exceeds/);
    await expectArgError(() => sem.acquire({ timeout: -5 }), RangeError, /timeout/);
    expect(sem.query().pending).toEqual([{ mode: "permit", weight: 1, threadId }]);
    engine.validate();
    g.release();
    await flush();
    expect(w.state).toBe("fulfilled");
    w.value?.release();
  });
});
