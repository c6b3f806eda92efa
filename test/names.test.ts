// Named locks and the Web Locks API (locks, LockManager): one lock per name in
// every thread of an engine, workers included with no share()/from().
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { Engine, FifoLock, LockManager, locks, Mutex, RWLock, Semaphore } from "../bindings/index.js";

const tick = () => new Promise((r) => setTimeout(r, 0));
// A worker running test/workers/named.mjs, with its exit awaited from the start.
const worker = (data: object) => {
  const w = new Worker(new URL("./workers/named.mjs", import.meta.url), { workerData: data });
  const ended = new Promise((r) => w.once("exit", r));
  w.on("error", (e) => console.error("named.mjs worker error", e));
  return Object.assign(w, { ended });
};
const message = (w: Worker) => new Promise<Record<string, unknown>>((r) => w.once("message", r));
const exit = (w: Worker & { ended: Promise<unknown> }) => w.ended;

describe("named locks", () => {
  it("are one lock for every object that asks for the name", async () => {
    const engine = new Engine();
    const a = new Mutex({ name: "orders", engine });
    const b = new Mutex({ name: "orders", engine });
    const g = await a.acquire();
    expect(b.locked).toBe(true);
    expect(b.tryAcquire()).toBeNull();
    const later = b.acquire();
    expect(a.waiting).toBe(1);
    g.release();
    (await later).release();
    expect(a.locked).toBe(false);
    expect(a.name).toBe("orders");
  });

  it("refuse a name bound to another kind or mode table with a TypeError naming both", async () => {
    const engine = new Engine();
    const m = new Mutex({ name: "n", engine });
    (await m.acquire()).release();
    await expect(new RWLock({ name: "n", engine }).read()).rejects.toThrow(
      'the name "n" is bound to a Mutex; it was asked for as an RWLock',
    );
    new Semaphore(3, { name: "pool", engine }).tryAcquire()?.release();
    const s3 = new Semaphore(3, { name: "pool", engine });
    const held = s3.tryAcquire();
    expect(() => new Semaphore(2, { name: "pool", engine }).tryAcquire()).toThrow(
      'the name "pool" is bound to a Semaphore(3); it was asked for as a Semaphore(2)',
    );
    const mgr = new LockManager({ engine });
    await expect(mgr.request("n", () => 1)).rejects.toThrow(TypeError);
    const f1 = new FifoLock({ a: {}, b: { conflicts: ["b"] } }, { name: "t", engine });
    (await f1.acquire("a")).release();
    await expect(new FifoLock({ a: { conflicts: ["a"] } }, { name: "t", engine }).acquire("a")).rejects.toThrow(
      "is bound to a FifoLock with 2 modes",
    );
    held?.release();
    expect(() => new Mutex({ name: 5 as unknown as string })).toThrow(TypeError);
  });

  it("take any string as a name, compared as UTF-16 code units (lone surrogates and long names too)", async () => {
    const engine = new Engine();
    const long = "x".repeat(5000);
    const names = ["", "\ud800", "\udc00", "\ud800\udc00", "é", "e\u0301", `${long}a`, `${long}b`, "x".repeat(300)];
    const held = [];
    for (const name of names) {
      const g = new Mutex({ name, engine }).tryAcquire();
      expect(g, JSON.stringify(name.slice(0, 8))).not.toBeNull();
      held.push(g);
    }
    // Each is its own lock, and asking again finds it.
    for (const name of names) expect(new Mutex({ name, engine }).locked).toBe(true);
    for (const g of held) g?.release();
  });

  it("are reclaimed after their last user: 200,000 distinct names, each used once, leave shared memory as it was", async () => {
    const engine = new Engine();
    const mgr = new LockManager({ engine });
    await mgr.request("warm-up", () => {});
    (await new Mutex({ name: "warm", engine }).acquire()).release();
    await tick();
    const heap = engine.heapBytes;
    const blocks = engine.liveBlocks;
    for (let i = 0; i < 100_000; i++) await mgr.request(`name-${i}`, () => {});
    for (let i = 0; i < 100_000; i++) {
      const m = new Mutex({ name: `mutex-${i}`, engine });
      (await m.acquire()).release();
      m.dispose();
    }
    await tick();
    console.log(
      `200,000 names used once: heap ${heap} -> ${engine.heapBytes} bytes, live blocks ${blocks} -> ${engine.liveBlocks}`,
    );
    // The heap's high-water mark grows by what a thread keeps of names it used
    // in one turn of its event loop (at most 1,024 idle names), not per name.
    expect(engine.heapBytes - heap).toBeLessThan(256 * 1024);
    expect(engine.liveBlocks).toBeLessThanOrEqual(blocks);
    expect(await mgr.query()).toEqual({ held: [], pending: [] });
  });
});

describe("Web Locks API (locks, LockManager)", () => {
  it("runs the callback later, holds the lock until its promise settles, and resolves with its result", async () => {
    const mgr = new LockManager({ engine: new Engine() });
    let ran = false;
    const p = mgr.request("a", async (lock) => {
      ran = true;
      expect(lock?.name).toBe("a");
      expect(lock?.mode).toBe("exclusive");
      await tick();
      return 42;
    });
    expect(ran).toBe(false);
    const q = mgr.request("a", { mode: "shared" }, (lock) => lock?.mode);
    expect(await p).toBe(42);
    expect(await q).toBe("shared");
    await expect(
      mgr.request("a", () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
  });

  it("checks its arguments as the specification says", async () => {
    const mgr = new LockManager({ engine: new Engine() });
    const name = async (p: Promise<unknown>) =>
      p.then(
        () => "resolved",
        (e: Error) => e.name,
      );
    expect(await name(mgr.request("-x", () => 1))).toBe("NotSupportedError");
    expect(await name(mgr.request("x", { steal: true, ifAvailable: true }, () => 1))).toBe("NotSupportedError");
    expect(await name(mgr.request("x", { steal: true, mode: "shared" }, () => 1))).toBe("NotSupportedError");
    const signal = new AbortController().signal;
    expect(await name(mgr.request("x", { signal, steal: true }, () => 1))).toBe("NotSupportedError");
    expect(await name(mgr.request("x", { signal, ifAvailable: true }, () => 1))).toBe("NotSupportedError");
    expect(await name(mgr.request("x", { mode: "bogus" as "shared" }, () => 1))).toBe("TypeError");
    expect(await name((mgr.request as (n: string) => Promise<unknown>)("x"))).toBe("TypeError");
    expect(await mgr.request(1 as unknown as string, (l) => l?.name)).toBe("1");
  });

  it("ifAvailable gives null while the name is held or anything waits", async () => {
    const mgr = new LockManager({ engine: new Engine() });
    let release = () => {};
    const held = mgr.request("r", () => new Promise<void>((r) => (release = r)));
    await tick();
    expect(await mgr.request("r", { ifAvailable: true }, (l) => l)).toBeNull();
    expect(await mgr.request("r", { ifAvailable: true, mode: "shared" }, (l) => l)).toBeNull();
    release();
    await held;
    expect(await mgr.request("r", { ifAvailable: true }, (l) => l?.mode)).toBe("exclusive");
  });

  it("grants strictly in order: a shared request behind a queued exclusive one waits", async () => {
    const mgr = new LockManager({ engine: new Engine() });
    const order: string[] = [];
    const note = (s: string) => async () => {
      order.push(s);
      await tick();
    };
    await Promise.all([
      mgr.request("o", { mode: "shared" }, note("s1")),
      mgr.request("o", note("x")),
      mgr.request("o", { mode: "shared" }, note("s2")),
      mgr.request("o", { mode: "shared" }, note("s3")),
    ]);
    expect(order).toEqual(["s1", "x", "s2", "s3"]);
  });

  it("an abort, even right after request(), rejects with the signal's reason and lets the next request through", async () => {
    const mgr = new LockManager({ engine: new Engine() });
    const ac = new AbortController();
    let called = false;
    const p = mgr.request("s", { signal: ac.signal }, () => {
      called = true;
    });
    ac.abort(new Error("changed my mind"));
    await expect(p).rejects.toThrow("changed my mind");
    expect(called).toBe(false);
    let release = () => {};
    const holder = mgr.request("s", () => new Promise<void>((r) => (release = r)));
    const queued = new AbortController();
    const waiting = mgr.request("s", { signal: queued.signal }, () => "never");
    const next = mgr.request("s", () => "next");
    await tick();
    queued.abort();
    await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
    release();
    await holder;
    expect(await next).toBe("next");
    await expect(mgr.request("s", { signal: queued.signal }, () => 1)).rejects.toMatchObject({ name: "AbortError" });
  });

  it("steal releases the holders (their requests reject with AbortError, their callbacks run on) and grants at once", async () => {
    const mgr = new LockManager({ engine: new Engine() });
    let ended = false;
    let finish = () => {};
    const held = mgr.request("st", async () => {
      await new Promise<void>((r) => (finish = r));
      ended = true;
      return "finished";
    });
    const queued = mgr.request("st", { mode: "shared" }, (l) => l?.mode);
    await tick();
    const order: string[] = [];
    const stealer = mgr.request("st", { steal: true }, async (lock) => {
      order.push(`stealer ${lock?.mode}`);
      const q = await mgr.query();
      expect(q.held).toEqual([{ name: "st", mode: "exclusive", clientId: String(Engine.threadId) }]);
      expect(q.pending).toEqual([{ name: "st", mode: "shared", clientId: String(Engine.threadId) }]);
      return "stolen";
    });
    await expect(held).rejects.toMatchObject({ name: "AbortError" });
    expect(ended).toBe(false);
    expect(await stealer).toBe("stolen");
    // The queue stayed as it was: the shared request is next.
    expect(await queued).toBe("shared");
    expect(order).toEqual(["stealer exclusive"]);
    finish();
    await tick();
    expect(ended).toBe(true);
    expect(await mgr.query()).toEqual({ held: [], pending: [] });
  });

  it("query() lists held requests in grant order and pending ones in queue order, with this thread's clientId", async () => {
    const mgr = new LockManager({ engine: new Engine() });
    let release = () => {};
    const a = mgr.request("q", { mode: "shared" }, () => new Promise<void>((r) => (release = r)));
    const b = mgr.request("q", { mode: "shared" }, () => a);
    const c = mgr.request("q", () => 0);
    await tick();
    const id = String(Engine.threadId);
    expect(await mgr.query()).toEqual({
      held: [
        { name: "q", mode: "shared", clientId: id },
        { name: "q", mode: "shared", clientId: id },
      ],
      pending: [{ name: "q", mode: "exclusive", clientId: id }],
    });
    release();
    await Promise.all([a, b, c]);
    expect(await mgr.query()).toEqual({ held: [], pending: [] });
  });
});

describe("across workers, with no share()/from()", () => {
  it("workers spawned after import share the default engine: 4 workers on one name in both modes and a named Mutex, no overlap", async () => {
    const s = new Int32Array(new SharedArrayBuffer(32));
    const ws = [1, 2, 3, 4].map((seed) => worker({ op: "hammer", name: "hammer", rounds: 150, seed, s }));
    console.log("names across workers: seeds 1-4");
    const done = await Promise.all(ws.map(message));
    await Promise.all(ws.map(exit));
    expect(done.every((d) => d.done === true)).toBe(true);
    expect(Atomics.load(s, 2)).toBe(0);
    expect(s[3]).toBe(600);
    expect(Atomics.load(s, 4)).toBe(600);
    // The named Mutex the workers used is this thread's too.
    expect(new Mutex({ name: "hammer:mutex" }).locked).toBe(false);
    expect(await locks.query()).toEqual({ held: [], pending: [] });
  });

  it("query() from any thread lists every thread's holders and waiters", async () => {
    let release = () => {};
    const mine = locks.request("seen", () => new Promise<void>((r) => (release = r)));
    const w = worker({ op: "hold", name: "seen-by-worker" });
    const { threadId } = await message(w);
    const waiting = locks.request("seen-by-worker", { mode: "shared" }, () => "granted after the steal");
    await tick();
    const q = worker({ op: "query" });
    const seen = (await message(q)) as { held: unknown[]; pending: unknown[] };
    await exit(q);
    expect(seen.held).toEqual(
      expect.arrayContaining([
        { name: "seen", mode: "exclusive", clientId: String(Engine.threadId) },
        { name: "seen-by-worker", mode: "exclusive", clientId: String(threadId) },
      ]),
    );
    expect(seen.pending).toEqual([{ name: "seen-by-worker", mode: "shared", clientId: String(Engine.threadId) }]);
    // A steal from this thread: the worker's request rejects with AbortError.
    const stolen = message(w);
    expect(await locks.request("seen-by-worker", { steal: true }, () => "mine now")).toBe("mine now");
    expect(await stolen).toEqual({ rejected: "AbortError" });
    // Owner death: the worker ends holding a named Mutex (and its stolen hold).
    const m = new Mutex({ name: "seen-by-worker:mutex" });
    const next = m.acquire();
    await w.terminate();
    expect(await waiting).toBe("granted after the steal");
    const g = await next;
    expect(g.abandoned).toBe(true);
    g.release();
    release();
    await mine;
  });
});
