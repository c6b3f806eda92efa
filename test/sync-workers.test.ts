// Event, Notify, Latch, Barrier, Condition, CapacityLimiter and the blocking
// forms across worker_threads (2-8 workers), including owner death by
// terminate(): a dead party breaks a barrier or latch, a dead borrower's token
// comes back (abandoned), a dead waiter leaves no trace. Worker roles live in
// test/workers/sync.mjs and import the built package (dist/).

import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import {
  Barrier,
  BrokenBarrierError,
  CapacityLimiter,
  Condition,
  CountdownEvent,
  Engine,
  Event,
  Latch,
  Mutex,
  Notify,
  TimeoutError,
} from "../dist/bindings/index.js";

const HANG_MS = 20_000;
const live = new Set<Worker>();

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} did not happen within ${HANG_MS} ms`)), HANG_MS);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

interface Msg {
  step: string;
  [k: string]: unknown;
}

function spawn(data: Record<string, unknown>) {
  const worker = new Worker(new URL("./workers/sync.mjs", import.meta.url), { workerData: data });
  live.add(worker);
  const messages: Msg[] = [];
  const waiting: { step: string; resolve: (m: Msg) => void }[] = [];
  const errors: Error[] = [];
  worker.on("message", (m: Msg) => {
    messages.push(m);
    for (let i = waiting.length - 1; i >= 0; i--) {
      if (waiting[i].step === m.step) waiting.splice(i, 1)[0].resolve(m);
    }
  });
  worker.on("error", (e) => errors.push(e));
  const exited = new Promise<number>((r) => worker.once("exit", r)).finally(() => live.delete(worker));
  const next = (step: string): Promise<Msg> => {
    const found = messages.find((m) => m.step === step);
    if (found) return Promise.resolve(found);
    return within(new Promise<Msg>((resolve) => waiting.push({ step, resolve })), `message ${step}`);
  };
  return { worker, next, exited, errors };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + HANG_MS;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`hang: ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

const newLog = (n = 64) => new Int32Array(new SharedArrayBuffer(4 * (n + 1)));
const logged = (log: Int32Array) => Array.from(log.subarray(1, 1 + log[0]));

afterEach(async () => {
  for (const w of [...live]) await w.terminate();
  live.clear();
});

describe("across workers", () => {
  it("Event: set() wakes every thread's waiters (async and blocking)", async () => {
    const engine = new Engine();
    const e = new Event({ engine });
    const ws = [0, 1, 2, 3].map((i) => spawn({ role: "event", obj: e.share(), sync: i % 2 === 1 }));
    await Promise.all(ws.map((w) => w.next("ready")));
    await until(() => e.waiting === 4, "4 waiters");
    e.set();
    e.clear(); // a pulse: those already waiting still wake
    await Promise.all(ws.map((w) => w.next("woke")));
    expect(e.waiting).toBe(0);
    await Promise.all(ws.map((w) => w.exited));
  });

  it("CountdownEvent: 6 workers count up and down; every waiter wakes at 0, none before", async () => {
    const engine = new Engine();
    const c = new CountdownEvent(1, { engine });
    const ws = [0, 1, 2, 3, 4, 5].map((i) => spawn({ role: "countdown", obj: c.share(), sync: i % 2 === 0 }));
    await Promise.all(ws.map((w) => w.next("up")));
    expect(c.value).toBe(7);
    for (const w of ws) w.worker.postMessage("go");
    await until(() => c.value === 1, "every worker counted down");
    const mine = c.wait();
    await until(() => c.waiting === 7, "seven waiters");
    c.down();
    await within(mine, "the main thread's wait");
    const zero = await Promise.all(ws.map((w) => w.next("zero")));
    expect(zero.every((m) => m.value === 0)).toBe(true);
  });

  it("Event: a waiter whose worker dies leaves no trace", async () => {
    const engine = new Engine();
    const e = new Event({ engine });
    const w = spawn({ role: "event", obj: e.share() });
    await w.next("ready");
    await until(() => e.waiting === 1, "the worker waits");
    await w.worker.terminate();
    await until(() => e.waiting === 0, "the dead waiter removed");
    e.set();
    await e.wait();
  });

  it("Barrier: 4 workers and the main thread pass 200 phases in step; one leader per phase (regression: a waiter granted before it parked was lost)", async () => {
    const engine = new Engine();
    const parties = 5;
    const rounds = 200; // enough for a leader in another thread to grant a waiter before it parks (a lost wake-up once)
    const b = new Barrier(parties, { engine });
    const log = newLog(4 * rounds);
    const ws = [0, 1, 2, 3].map((id) =>
      spawn({ role: "barrier", obj: b.share(), rounds, id, log: log.buffer, sync: id >= 2 }),
    );
    const mine = [];
    for (let r = 0; r < rounds; r++) mine.push(await within(b.wait(), `phase ${r}`));
    const done = await Promise.all(ws.map((w) => w.next("done")));
    const all = [mine, ...done.map((m) => m.results as typeof mine)];
    for (let r = 0; r < rounds; r++) {
      const phase = all.map((rs) => rs[r]);
      expect(phase.every((x) => x.phase === r)).toBe(true);
      expect(phase.filter((x) => x.isLeader).length).toBe(1);
      expect(phase.map((x) => x.index).sort()).toEqual([0, 1, 2, 3, 4]);
    }
    // No worker ran ahead: phases in the log never decrease by more than one step.
    expect(logged(log).length).toBe(4 * rounds);
  });

  it.each(["barrier", "latch"])("a %s party whose worker dies while waiting breaks it; nobody wedges", async (kind) => {
    const engine = new Engine();
    const obj = kind === "latch" ? new Latch(3, { engine }) : new Barrier(3, { engine });
    const a = spawn({ role: "barrier-hang", kind, obj: obj.share() });
    const b = spawn({ role: "barrier-hang", kind, obj: obj.share() });
    await Promise.all([a.next("ready"), b.next("ready")]);
    await until(() => obj.waiting === 2, "2 waiting");
    await a.worker.terminate();
    expect((await b.next("failed")).name).toBe("BrokenBarrierError");
    expect(obj.broken).toBe(true);
    const mine = kind === "latch" ? (obj as Latch).wait() : (obj as Barrier).wait();
    await expect(mine).rejects.toBeInstanceOf(BrokenBarrierError);
  });

  it.each([false, true])(
    "Condition: producer/consumer across workers (blocking: %s) moves every item",
    async (sync) => {
      const engine = new Engine();
      const m = new Mutex({ engine });
      const c = new Condition(m);
      const queue = new Int32Array(new SharedArrayBuffer(16));
      const items = 200;
      const common = { mutex: m.share(), obj: c.share(), queue: queue.buffer, cap: 4, items, sync };
      const ws = [
        spawn({ role: "condition", producer: true, ...common }),
        spawn({ role: "condition", producer: true, ...common }),
        spawn({ role: "condition", producer: false, ...common }),
        spawn({ role: "condition", producer: false, ...common }),
      ];
      await Promise.all(ws.map((w) => w.next("done")));
      expect([queue[0], queue[1], queue[2]]).toEqual([0, 2 * items, 2 * items]);
      expect(c.waiting).toBe(0);
      expect(m.locked).toBe(false);
    },
  );

  it("Condition: a waiter whose worker dies leaves the queue", async () => {
    const engine = new Engine();
    const m = new Mutex({ engine });
    const c = new Condition(m);
    const w = spawn({ role: "cond-hang", mutex: m.share(), obj: c.share() });
    await w.next("ready");
    await until(() => c.waiting === 1, "the worker waits");
    await w.worker.terminate();
    await until(() => c.waiting === 0, "the dead waiter removed");
    expect(c.notify()).toBe(0);
    expect(m.locked).toBe(false);
  });

  it("CapacityLimiter: borrowers across threads; a borrower's worker that dies gives its token back (abandoned)", async () => {
    const engine = new Engine();
    const c = new CapacityLimiter(2, { engine });
    const a = spawn({ role: "limiter", obj: c.share(), borrower: "a" });
    const b = spawn({ role: "limiter", obj: c.share(), borrower: 2, sync: true });
    await Promise.all([a.next("holding"), b.next("holding")]);
    expect(c.borrowers.sort()).toEqual([2, "a"].sort());
    await expect(c.acquire({ borrower: "a" })).rejects.toThrow(/already holds or awaits/);
    const mine = c.acquire({ borrower: "main" });
    await until(() => c.waiting === 1, "main queued");
    await a.worker.terminate();
    const g = await within(mine, "the dead borrower's token");
    expect(g.abandoned).toBe(true);
    expect(c.borrowers.sort()).toEqual([2, "main"].sort());
    b.worker.postMessage("go");
    await b.next("released");
    g.release();
    expect(c.borrowed).toBe(0);
  });

  it("Notify: notifyOne() wakes one worker at a time in arrival order", async () => {
    const engine = new Engine();
    const n = new Notify({ engine });
    const log = newLog();
    const ws = [];
    for (let id = 1; id <= 3; id++) {
      const w = spawn({ role: "notify", obj: n.share(), id, log: log.buffer, sync: id === 2 });
      await w.next("ready");
      await until(() => n.waiting === id, `waiter ${id}`);
      ws.push(w);
    }
    for (let i = 1; i <= 3; i++) {
      n.notifyOne();
      await ws[i - 1].next("woke");
    }
    expect(logged(log)).toEqual([1, 2, 3]);
  });

  it("blocking forms: sync and async waiters share one FIFO queue", async () => {
    const engine = new Engine();
    const m = new Mutex({ engine });
    const log = newLog();
    const holder = await m.acquire();
    const ws = [1, 2, 3, 4].map((id) =>
      spawn({ role: "fifo", obj: m.share(), id, log: log.buffer, sync: id % 2 === 1 }),
    );
    for (let i = 0; i < ws.length; i++) {
      ws[i].worker.postMessage("go");
      await until(() => m.waiting === i + 1, `waiter ${i + 1}`);
    }
    holder.release();
    await Promise.all(ws.map((w) => w.next("done")));
    expect(logged(log)).toEqual([1, 2, 3, 4]);
  });

  it("a blocking request behind the thread's own async request throws ERR_RINGLOCK_DEADLOCK", async () => {
    const engine = new Engine();
    const m = new Mutex({ engine });
    const holder = await m.acquire();
    const w = spawn({ role: "self-deadlock", obj: m.share() });
    expect((await w.next("threw")).code).toBe("ERR_RINGLOCK_DEADLOCK");
    holder.release();
    await w.next("done");
  });
});

describe("a terminate() storm on workers using every sync primitive at once", () => {
  const SEED = Number(process.env.RINGLOCK_SEED ?? Math.floor(Math.random() * 2 ** 31));

  it(`leaves every object valid and usable, and the mutex exclusive (seed ${SEED})`, async () => {
    console.log(`sync storm seed ${SEED} (replay with RINGLOCK_SEED=${SEED})`);
    const engine = new Engine({ debug: true });
    const e = new Event({ engine });
    const n = new Notify({ engine });
    const c = new CapacityLimiter(2, { engine });
    const b = new Barrier(3, { engine });
    const m = new Mutex({ engine });
    const cond = new Condition(m);
    const stats = new Int32Array(new SharedArrayBuffer(16));
    const data = {
      event: e.share(),
      notify: n.share(),
      limiter: c.share(),
      barrier: b.share(),
      cond: cond.share(),
      stats: stats.buffer,
    };
    let seed = SEED;
    const start = () => {
      const w = new Worker(new URL("./workers/sync-storm.mjs", import.meta.url), {
        workerData: { ...data, seed: seed++ },
      });
      live.add(w);
      w.once("exit", () => live.delete(w));
      return w;
    };
    const ws = Array.from({ length: 6 }, start);
    let kills = 0;
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 15 + (seed % 20)));
      const i = seed % ws.length;
      await ws[i].terminate();
      kills++;
      ws[i] = start();
    }
    for (const w of ws) await w.terminate();
    // Reaping a dead worker retries from a timer when the engine is busy: wait for it.
    await until(
      () => [e, n, c, b, cond, m].every((o) => o.waiting === 0) && !m.locked && c.borrowed === 0,
      "the dead workers' waits and holds reaped",
    );
    console.log(`sync storm: ${kills} kills, ${stats[2]} operations`);
    expect(stats[1], "two holders of the mutex at once").toBe(0);
    expect(stats[3], "unexpected errors in workers").toBe(0);
    expect(stats[2]).toBeGreaterThan(0);
    engine.validate();
    // Nothing is left waiting, and every object still works.
    expect([e.waiting, n.waiting, c.waiting, b.waiting, cond.waiting, m.waiting]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(m.locked).toBe(false);
    expect(c.borrowed).toBe(0);
    e.set();
    await e.wait();
    n.notifyOne();
    await n.notified();
    const g = await within(c.acquire({ borrower: "b1" }), "a token");
    g.release();
    b.reset();
    const phases = await within(Promise.all([b.wait(), b.wait(), b.wait()]), "a barrier phase");
    expect(phases.filter((r) => r.isLeader).length).toBe(1);
    const mg = await m.acquire();
    await expect(cond.wait(mg, { timeout: 1 })).rejects.toBeInstanceOf(TimeoutError);
    expect(m.locked).toBe(true);
    mg.release();
    engine.validate();
  });
});
