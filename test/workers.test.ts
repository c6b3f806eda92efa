// Multi-worker tests: many worker_threads share locks through one engine
// memory. Worker scripts live in test/workers/ and import the built package
// (dist/), as does this file, so both sides run the same build.

import { spawn as spawnProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { threadId, Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { H_THREADS, R_ALIVE, R_NCACHE, R_NEXT } from "../dist/assembly/layout.js";
import { Engine, FifoLock, Mutex, RWLock, Semaphore } from "../dist/bindings/index.js";
import {
  acquireRequest,
  attempt,
  F_FAILS,
  F_GATE,
  F_SEQ,
  F_TICKET,
  MGL_CONFLICTS,
  MGL_MODES,
  MODE_NAMES,
  newStats,
  rng,
  S_ABANDONED,
  S_ABORTS,
  S_ERRORS,
  S_EXCLUSIVE,
  S_GRANTED,
  S_INSIDE,
  S_MAX,
  S_PLAIN,
  S_TIMEOUTS,
  S_VIOLATIONS,
  S_WRITERS,
  T_MODE,
  T_SEQ,
  T_THREAD,
  T_WEIGHT,
  TICKET_WORDS,
} from "./workers/common.mjs";

// Random tests print their seed; replay one with RINGLOCK_SEED=<seed>.
const SEED = Number(process.env.RINGLOCK_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`workers.test.ts seed: ${SEED} (replay with RINGLOCK_SEED=${SEED})`);

const HANG_MS = 20_000;

/** Rejects if `p` has not settled within `ms`: a hang guard, not a timing assertion. */
function within<T>(p: Promise<T>, what: string, ms = HANG_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} did not happen within ${ms} ms (seed ${SEED})`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

const workerUrl = (name: string) => new URL(`./workers/${name}`, import.meta.url);

interface Spawned {
  worker: Worker;
  /** Every message the worker posted, in order. */
  messages: unknown[];
  /** The worker's exit code, once it has exited (and this thread has reaped it). */
  exited: Promise<number>;
  /** Errors thrown in the worker and not caught there. */
  errors: Error[];
  /**
   * Resolves with the first message that satisfies `pred` (including ones
   * already received); with `what`, rejects if none comes (a hang guard).
   */
  next<T = Record<string, unknown>>(pred: (m: T) => boolean, what?: string): Promise<T>;
}

const live = new Set<Worker>();

function spawn(name: string, workerData?: unknown): Spawned {
  const worker = new Worker(workerUrl(name), { workerData });
  live.add(worker);
  const messages: unknown[] = [];
  const errors: Error[] = [];
  const waiting: { pred: (m: never) => boolean; resolve: (m: never) => void }[] = [];
  worker.on("message", (m) => {
    messages.push(m);
    for (let i = waiting.length - 1; i >= 0; i--) {
      if (waiting[i].pred(m as never)) {
        waiting[i].resolve(m as never);
        waiting.splice(i, 1);
      }
    }
  });
  worker.on("error", (e) => errors.push(e));
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve)).finally(() => live.delete(worker));
  const next = <T>(pred: (m: T) => boolean, what?: string): Promise<T> => {
    const found = messages.find((m) => pred(m as T));
    if (found !== undefined) return Promise.resolve(found as T);
    const p = new Promise<T>((resolve) => waiting.push({ pred, resolve } as never));
    return what === undefined ? p : within(p, what);
  };
  return { worker, messages, exited, errors, next };
}

afterEach(async () => {
  // A failed test must not leave workers running into the next one. One at a
  // time: each exit is reaped before the next worker is stopped.
  for (const w of [...live]) await w.terminate();
  live.clear();
});

/**
 * Blocks of the engine in use, from its header: liveBlocks minus the nodes
 * that live threads keep cached for reuse, minus the records of attached
 * threads (liveBlocks counts every record not recycled), so that a leak check
 * can compare it with a baseline however many nodes sit in caches. `dead`
 * counts records of threads that ended and are not reaped yet: a reaped
 * thread's record is recycled for the next thread that attaches.
 */
function census(engine: Engine) {
  const i32 = new Int32Array(engine.memory.buffer);
  let cached = 0;
  let alive = 0;
  let dead = 0;
  for (let t = i32[H_THREADS >> 2]; t !== 0; t = i32[(t + R_NEXT) >> 2]) {
    const state = Atomics.load(i32, (t + R_ALIVE) >> 2) & 3;
    if (state === 1) {
      alive++;
      cached += i32[(t + R_NCACHE) >> 2];
    } else if (state === 2) dead++;
  }
  const live = engine.liveBlocks;
  return { live, cached, alive, dead, inUse: live - cached - alive - dead };
}

/**
 * The census to compare with at the end of a test, taken once the locks are
 * shared: sharing pins a lock's block in the engine (a lock that was never
 * shared may hold a block only while it is in use).
 */
function baseline(engine: Engine, ...locks: { share(): unknown }[]) {
  for (const l of locks) l.share();
  return census(engine);
}

type Kind = "mutex" | "rw" | "sem" | "mgl";
type AnyLock = Mutex | RWLock | Semaphore | FifoLock;
const PERMITS = 3;

function makeLock(kind: Kind, engine: Engine): AnyLock {
  switch (kind) {
    case "mutex":
      return new Mutex({ engine });
    case "rw":
      return new RWLock({ engine });
    case "sem":
      return new Semaphore(PERMITS, { engine });
    case "mgl":
      return new FifoLock(MGL_MODES, { engine });
  }
}

/** Asserts the lock is idle: nothing held, nothing queued, across all threads. */
function expectIdle(lock: AnyLock) {
  expect(lock.query()).toEqual({ held: [], pending: [] });
  expect(lock.waiting).toBe(0);
}

/**
 * Runs `workers` sections workers over the given locks until they end, while
 * the main thread runs `alongside` on the same locks; returns each lock's stats.
 */
async function runSections(
  locks: { kind: Kind; lock: AnyLock }[],
  workers: number,
  sections: number,
  cancel: boolean,
  alongside?: (locks: { kind: Kind; obj: AnyLock; s: Int32Array; permits: number }[]) => Promise<void>,
) {
  const descs = locks.map(({ kind, lock }) => ({
    kind,
    lock: lock.share(),
    stats: newStats().buffer,
    permits: PERMITS,
  }));
  const spawned = Array.from({ length: workers }, (_, i) =>
    spawn("sections.mjs", { locks: descs, sections, tasks: cancel ? 4 : 2, seed: SEED + i, cancel }),
  );
  if (alongside) {
    const mine = descs.map((d, i) => ({
      kind: d.kind,
      obj: locks[i].lock,
      s: new Int32Array(d.stats),
      permits: PERMITS,
    }));
    await within(alongside(mine), "the main thread's sections");
  }
  const done = await within(
    Promise.all(
      spawned.map((w) => w.next<{ done: boolean; errors: string[] }>((m) => m.done, "a worker's last section")),
    ),
    "all sections",
  );
  const codes = await within(Promise.all(spawned.map((w) => w.exited)), "workers ending by themselves");
  expect(spawned.flatMap((w) => w.errors)).toEqual([]);
  expect(done.flatMap((d) => d.errors)).toEqual([]);
  expect(codes).toEqual(spawned.map(() => 0));
  return descs.map((d) => new Int32Array(d.stats));
}

const LABEL: Record<Kind, string> = {
  mutex: "Mutex",
  rw: "RWLock",
  sem: `Semaphore(${PERMITS})`,
  mgl: "FifoLock with modes IS/IX/S/SIX/X",
};
const KINDS = (["mutex", "rw", "sem", "mgl"] as const).map((kind) => [LABEL[kind], kind] as const);

describe.each(KINDS)("a %s shared by workers", (_, kind) => {
  it.each([2, 4, 8])("keeps %i workers' critical sections apart", async (workers) => {
    const engine = new Engine({ debug: true });
    const lock = makeLock(kind, engine);
    const before = baseline(engine, lock);
    const perWorker = 160;
    const [s] = await runSections([{ kind, lock }], workers, perWorker, false);

    expect(s[S_VIOLATIONS]).toBe(0);
    expect(s[S_ERRORS]).toBe(0);
    expect(s[S_GRANTED]).toBe(workers * perWorker);
    expect(s[S_ABANDONED]).toBe(0);
    expect(s[S_TIMEOUTS] + s[S_ABORTS]).toBe(0);
    // The plain counter lost no update: every exclusive section's read-pause-write stood alone.
    expect(s[S_PLAIN]).toBe(s[S_EXCLUSIVE]);
    expect(s[S_INSIDE]).toBe(0);
    expect(s[S_WRITERS]).toBe(0);
    switch (kind) {
      case "mutex":
        expect(s[S_EXCLUSIVE]).toBe(workers * perWorker);
        expect(s[S_MAX]).toBe(1);
        break;
      case "rw":
        expect(s[S_EXCLUSIVE]).toBeGreaterThan(0);
        expect(s[S_MAX]).toBeGreaterThan(1); // readers did share the lock
        break;
      case "sem":
        expect(s[S_MAX]).toBe(PERMITS); // the semaphore was used to its limit, never beyond
        break;
      case "mgl":
        expect(s[S_EXCLUSIVE]).toBeGreaterThan(0);
        expect(s[S_MAX]).toBeGreaterThan(1); // compatible modes did share the lock
        break;
    }
    expectIdle(lock);
    engine.validate();
    const after = census(engine);
    expect(after.inUse).toBe(before.inUse);
    expect(after.alive).toBe(1);
    expect(after.dead).toBe(0);
  });
});

/** Whether two modes (by index) of a lock kind may not be held together; semaphores have none. */
function conflicting(kind: Kind, a: number, b: number): boolean {
  switch (kind) {
    case "mutex":
      return true;
    case "rw":
      return a === 1 || b === 1;
    case "sem":
      return false;
    case "mgl":
      return MGL_CONFLICTS[a][b];
  }
}

/** Takes all of the lock, so that every request behind it queues. */
function holdAll(kind: Kind, lock: AnyLock): Promise<{ release(): void }> {
  switch (kind) {
    case "mutex":
      return (lock as Mutex).acquire();
    case "rw":
      return (lock as RWLock).write();
    case "sem":
      return (lock as Semaphore).acquire({ weight: PERMITS });
    case "mgl":
      return (lock as FifoLock).acquire("X");
  }
}

describe.each(KINDS)("a %s queued from several workers", (_, kind) => {
  it("grants in ticket order: conflicting requests never overtake, and the queue only ever loses its head", async () => {
    const engine = new Engine({ debug: true });
    const lock = makeLock(kind, engine);
    const before = baseline(engine, lock);
    const workers = 4;
    const count = 25;
    const mine = 5; // the main thread queues the last tickets
    const total = workers * count + mine;
    const ctl = new Int32Array(new SharedArrayBuffer(16));
    const tickets = new Int32Array(new SharedArrayBuffer(total * TICKET_WORDS * 4));

    const holder = await holdAll(kind, lock);
    const shared = { kind, lock: lock.share(), permits: PERMITS, ctl: ctl.buffer, tickets: tickets.buffer, count };
    const spawned = Array.from({ length: workers }, (_, i) => spawn("fifo.mjs", { ...shared, seed: SEED + 100 + i }));
    await Promise.all(spawned.map((w) => w.next((m: { queued?: number }) => m.queued === count, "requests queued")));

    // The main thread's tickets, taken with the workers' gate although nobody contends for it now.
    const names = MODE_NAMES[kind];
    const modeOf = (i: number) => (kind === "mgl" ? i % names.length : kind === "rw" ? i % 2 : 0);
    const mainGrants: Promise<void>[] = [];
    const mainErrors: string[] = [];
    for (let i = 0; i < mine; i++) {
      expect(Atomics.compareExchange(ctl, F_GATE, 0, 1)).toBe(0);
      const t = Atomics.add(ctl, F_TICKET, 1);
      const m = modeOf(i);
      const weight = kind === "sem" ? 1 + (i % 2) : 1;
      tickets.set([m, weight, threadId, -1], t * TICKET_WORDS);
      const p: Promise<{ release(): void }> = acquireRequest(kind, lock, { mode: names[m], weight });
      Atomics.store(ctl, F_GATE, 0);
      mainGrants.push(
        p.then(async (g) => {
          tickets[t * TICKET_WORDS + T_SEQ] = Atomics.add(ctl, F_SEQ, 1);
          const left = lock.query().pending.length;
          if (left > total - 1 - t) mainErrors.push(`ticket ${t} granted with ${left} still queued`);
          await new Promise((r) => setImmediate(r));
          g.release();
        }),
      );
    }

    // Every request is queued, in ticket order, as every thread sees it.
    expect(Atomics.load(ctl, F_TICKET)).toBe(total);
    expect(lock.waiting).toBe(total);
    const entry = (t: number) => ({
      mode: names[tickets[t * TICKET_WORDS + T_MODE]],
      weight: tickets[t * TICKET_WORDS + T_WEIGHT],
      threadId: tickets[t * TICKET_WORDS + T_THREAD],
    });
    expect(lock.query().pending).toEqual(Array.from({ length: total }, (_, t) => entry(t)));

    holder.release();
    const done = await within(
      Promise.all(spawned.map((w) => w.next<{ done: boolean; errors: string[] }>((m) => m.done, "all grants"))),
      "all grants",
    );
    await within(Promise.all(mainGrants), "the main thread's grants");
    expect(await Promise.all(spawned.map((w) => w.exited))).toEqual(spawned.map(() => 0));
    expect(spawned.flatMap((w) => w.errors)).toEqual([]);
    expect([...done.flatMap((d) => d.errors), ...mainErrors]).toEqual([]);
    expect(ctl[F_FAILS]).toBe(0);
    expect(ctl[F_SEQ]).toBe(total);

    const seq = Array.from({ length: total }, (_, t) => tickets[t * TICKET_WORDS + T_SEQ]);
    const mode = Array.from({ length: total }, (_, t) => tickets[t * TICKET_WORDS + T_MODE]);
    const overtaken: string[] = [];
    for (let j = 0; j < total; j++) {
      for (let i = 0; i < j; i++) {
        if (conflicting(kind, mode[i], mode[j]) && seq[i] > seq[j]) {
          overtaken.push(`ticket ${j} (${names[mode[j]]}) granted before ticket ${i} (${names[mode[i]]})`);
        }
      }
    }
    expect(overtaken).toEqual([]);
    if (kind === "mutex") expect(seq).toEqual(Array.from({ length: total }, (_, t) => t));

    expectIdle(lock);
    engine.validate();
    const after = census(engine);
    expect(after.inUse).toBe(before.inUse);
    expect(after.dead).toBe(0);
  });
});

describe("a cancellation storm across workers", () => {
  it("leaves nothing held or queued, and every attempt either held the lock or rejected", async () => {
    const engine = new Engine({ debug: true });
    const kinds: Kind[] = ["mutex", "rw", "sem", "mgl"];
    const locks = kinds.map((kind) => ({ kind, lock: makeLock(kind, engine) }));
    const before = baseline(engine, ...locks.map((l) => l.lock));
    const workers = 4;
    const sections = 300;
    const mainAttempts = 200;
    const mainErrors: string[] = [];
    const stats = await runSections(locks, workers, sections, true, async (mine) => {
      // The main thread storms too: its waiters are granted and cancelled by the workers' releases.
      const rand = rng(SEED + 7);
      let left = mainAttempts;
      const loop = async () => {
        while (left > 0) {
          left--;
          await attempt(mine[rand.int(mine.length)], rand, mainErrors, true);
        }
      };
      await Promise.all([loop(), loop(), loop(), loop()]);
    });
    expect(mainErrors).toEqual([]);

    const sum = (w: number) => stats.reduce((a, s) => a + s[w], 0);
    expect(sum(S_GRANTED) + sum(S_TIMEOUTS) + sum(S_ABORTS)).toBe(workers * sections + mainAttempts);
    expect(sum(S_TIMEOUTS)).toBeGreaterThan(0);
    expect(sum(S_ABORTS)).toBeGreaterThan(0);
    expect(sum(S_GRANTED)).toBeGreaterThan(0);
    expect(sum(S_ERRORS)).toBe(0);
    expect(sum(S_VIOLATIONS)).toBe(0);
    expect(sum(S_ABANDONED)).toBe(0);
    for (const s of stats) {
      expect(s[S_PLAIN]).toBe(s[S_EXCLUSIVE]);
      expect(s[S_INSIDE]).toBe(0);
      expect(s[S_WRITERS]).toBe(0);
    }
    for (const { lock } of locks) expectIdle(lock);
    engine.validate();
    const after = census(engine);
    expect(after.inUse).toBe(before.inUse);
    expect(after.dead).toBe(0);
  });
});

// ---------------------------------------------------------------- owner death

interface Agent extends Spawned {
  threadId: number;
}

async function spawnAgent(locks: { kind: Kind; lock: AnyLock }[]): Promise<Agent> {
  const a = spawn("agent.mjs", { locks: locks.map(({ kind, lock }) => ({ kind, lock: lock.share() })) });
  const ready = await a.next((m: { type: string; threadId: number }) => m.type === "ready", "an agent starting");
  return Object.assign(a, { threadId: ready.threadId });
}

interface Granted {
  type: "granted";
  id: number;
  abandoned: boolean;
  mode: string;
}

let nextId = 1;
/** Has the agent request `mode` on lock `lock`; resolves once the request is made, with a promise of its grant. */
async function agentAcquire(a: Agent, lock: number, mode: string) {
  const id = nextId++;
  a.worker.postMessage({ op: "acquire", id, lock, mode });
  await a.next((m: { type: string; id: number }) => m.type === "queued" && m.id === id, "an agent's request");
  const settled = a.next<Granted | { type: "rejected" }>(
    (m) => (m.type === "granted" || m.type === "rejected") && (m as Granted).id === id,
  );
  /** The grant, once it comes (hang-guarded from the moment it is awaited). */
  const granted = () =>
    within(settled, `the grant of agent request ${id}`).then((m) => {
      if (m.type !== "granted") throw new Error(`agent request rejected: ${JSON.stringify(m)}`);
      return m;
    });
  return { id, granted };
}

async function agentRelease(a: Agent, lock: number) {
  const id = nextId++;
  a.worker.postMessage({ op: "release", id, lock });
  await a.next((m: { type: string; id: number }) => m.type === "released" && m.id === id, "an agent's release");
}

type Death = "return" | "throw" | "exit" | "terminate";

/** Ends the agent the given way; resolves with its exit code once this thread has reaped it. */
async function kill(a: Agent, how: Death): Promise<number> {
  if (how === "terminate") await a.worker.terminate();
  else a.worker.postMessage({ op: "die", how, code: 7 });
  return within(a.exited, `an agent ending by ${how}`);
}

const EXIT_CODE: Record<Death, number> = { return: 0, throw: 1, exit: 7, terminate: 1 };

describe("a worker that ends while holding a lock", () => {
  it.each<Death>(["return", "throw", "exit", "terminate"])(
    "(%s) hands it to the main thread's waiter, which is told it was abandoned",
    async (how) => {
      const engine = new Engine({ debug: true });
      const mutex = new Mutex({ engine });
      const before = baseline(engine, mutex);
      const a = await spawnAgent([{ kind: "mutex", lock: mutex }]);
      const { granted } = await agentAcquire(a, 0, "exclusive");
      expect((await granted()).abandoned).toBe(false);

      const waiter = mutex.acquire();
      expect(mutex.query()).toEqual({
        held: [{ mode: "exclusive", weight: 1, threadId: a.threadId }],
        pending: [{ mode: "exclusive", weight: 1, threadId }],
      });
      expect(await kill(a, how)).toBe(EXIT_CODE[how]);
      const g = await within(waiter, "the waiter's grant after the holder died");
      expect(g.abandoned).toBe(true);
      expect(mutex.query()).toEqual({ held: [{ mode: "exclusive", weight: 1, threadId }], pending: [] });
      g.release();
      // Told once: the next holder took over from a live thread.
      const again = await mutex.acquire();
      expect(again.abandoned).toBe(false);
      again.release();

      expectIdle(mutex);
      engine.validate();
      const after = census(engine);
      expect(after.inUse).toBe(before.inUse);
      expect(after.dead).toBe(0);
    },
  );

  it("with nobody waiting: the next thread to take the lock is told, and only that one", async () => {
    const engine = new Engine({ debug: true });
    const rw = new RWLock({ engine });
    const a = await spawnAgent([{ kind: "rw", lock: rw }]);
    await (await agentAcquire(a, 0, "write")).granted();
    expect(await kill(a, "terminate")).toBe(1);
    expectIdle(rw);
    const r1 = rw.tryRead();
    expect(r1?.abandoned).toBe(true);
    const r2 = await rw.read();
    expect(r2.abandoned).toBe(false);
    r1?.release();
    r2.release();
    engine.validate();
  });

  it("passes abandoned to the survivor granted right after the death, not to the ones after it", async () => {
    const engine = new Engine({ debug: true });
    const mutex = new Mutex({ engine });
    const rw = new RWLock({ engine });
    const locks = [
      { kind: "mutex" as Kind, lock: mutex },
      { kind: "rw" as Kind, lock: rw },
    ];
    const before = baseline(engine, mutex, rw);
    const [a, b, c] = await Promise.all([spawnAgent(locks), spawnAgent(locks), spawnAgent(locks)]);
    // a holds the mutex and reads; b waits for the mutex, c for the write lock; main queues behind both.
    await (await agentAcquire(a, 0, "exclusive")).granted();
    await (await agentAcquire(a, 1, "read")).granted();
    const mainRead = await rw.read(); // a second reader, from the main thread
    const bMutex = await agentAcquire(b, 0, "exclusive");
    await agentAcquire(c, 1, "write"); // c dies waiting, below
    const mainMutex = mutex.acquire();
    const mainWrite = rw.write();
    expect(mutex.waiting).toBe(2);
    expect(rw.waiting).toBe(2);

    expect(await kill(a, "terminate")).toBe(1);
    // The mutex went straight to b, abandoned; the write lock still has the main thread reading.
    expect((await bMutex.granted()).abandoned).toBe(true);
    expect(rw.query()).toEqual({
      held: [{ mode: "read", weight: 1, threadId }],
      pending: [
        { mode: "write", weight: 1, threadId: c.threadId },
        { mode: "write", weight: 1, threadId },
      ],
    });
    // A waiter that dies is simply dropped: nothing was abandoned by it.
    expect(await kill(c, "terminate")).toBe(1);
    expect(rw.query().pending).toEqual([{ mode: "write", weight: 1, threadId }]);
    mainRead.release();
    // The dead reader's abandonment is reported to the next grant, the main thread's writer.
    expect((await within(mainWrite, "main's write")).abandoned).toBe(true);
    await agentRelease(b, 0);
    const m = await within(mainMutex, "main's mutex");
    expect(m.abandoned).toBe(false);
    m.release();
    (await mainWrite).release();
    expect(await kill(b, "return")).toBe(0);

    expectIdle(mutex);
    expectIdle(rw);
    engine.validate();
    const after = census(engine);
    expect(after.inUse).toBe(before.inUse);
    expect(after.dead).toBe(0);
  });
});

describe("a shared lock's block", () => {
  it.each([
    ["with no other thread involved", 0],
    ["after the two workers that adopted it have ended (one returned, one was terminated holding it)", 2],
  ])("is freed when its creator disposes it, %s", async (_, n) => {
    const engine = new Engine({ debug: true });
    const warm = new Mutex({ engine });
    warm.share();
    warm.dispose(); // the engine keeps the Mutex mode table from now on
    const before = census(engine);
    const mutex = new Mutex({ engine });
    const locks = [{ kind: "mutex" as Kind, lock: mutex }];
    const agents = await Promise.all(Array.from({ length: n }, () => spawnAgent(locks)));
    if (n > 0) {
      // One ends cleanly; the other is terminated holding the lock.
      await (await agentAcquire(agents[1], 0, "exclusive")).granted();
      expect(await kill(agents[0], "return")).toBe(0);
      expect(await kill(agents[1], "terminate")).toBe(1);
    }
    mutex.share();
    mutex.dispose();
    const after = census(engine);
    expect(after.dead).toBe(0);
    expect(after.inUse).toBe(before.inUse);
  });
});

/** A reference model of one lock: the grant rule of DESIGN.md, FIFO queue, abandonment flag. */
interface Req {
  who: number; // 0: the main thread; otherwise an agent's number
  lock: number;
  mode: number;
  abandoned: boolean;
}

class LockModel {
  holds: Req[] = []; // in grant order
  queue: Req[] = [];
  abandoned = false; // a holder died and no grant has reported it yet
  constructor(readonly conflicts: (a: number, b: number) => boolean) {}

  #compatible(mode: number): boolean {
    return this.holds.every((h) => !this.conflicts(h.mode, mode));
  }

  #grantPrefix(): Req[] {
    const out: Req[] = [];
    while (this.queue.length > 0 && this.#compatible(this.queue[0].mode)) {
      const r = this.queue.shift() as Req;
      this.holds.push(r);
      out.push(r);
    }
    for (const r of out) r.abandoned = this.abandoned;
    if (out.length > 0) this.abandoned = false;
    return out;
  }

  request(r: Req): Req[] {
    this.queue.push(r);
    return this.queue.length === 1 ? this.#grantPrefix() : [];
  }

  release(who: number): Req[] {
    this.holds = this.holds.filter((h) => h.who !== who);
    return this.#grantPrefix();
  }

  /** The owner died: its holds are released (abandoning the lock), its waits dropped. */
  kill(who: number): Req[] {
    const held = this.holds.some((h) => h.who === who);
    const waited = this.queue.some((h) => h.who === who);
    if (held) this.abandoned = true;
    this.holds = this.holds.filter((h) => h.who !== who);
    this.queue = this.queue.filter((h) => h.who !== who);
    return held || waited ? this.#grantPrefix() : [];
  }
}

describe("workers dying at random points while they hold or wait", () => {
  it("never wedge the survivors, who are told of abandonment exactly when a holder died", async () => {
    const rand = rng(SEED + 13);
    const engine = new Engine({ debug: true });
    const locks: { kind: Kind; lock: AnyLock }[] = [
      { kind: "mgl", lock: new FifoLock(MGL_MODES, { engine }) },
      { kind: "mutex", lock: new Mutex({ engine }) },
      { kind: "rw", lock: new RWLock({ engine }) },
    ];
    const models = locks.map(({ kind }) => new LockModel((a, b) => conflicting(kind, a, b)));
    const before = baseline(engine, ...locks.map((l) => l.lock));
    const MAIN = 0;
    const AGENTS = 4;
    const STEPS = 160;

    const agents = new Map<number, Agent & { grants: Map<number, () => Promise<Granted>> }>();
    let spawnedAgents = 0;
    const addAgent = async () => {
      const a = await spawnAgent(locks);
      agents.set(++spawnedAgents, Object.assign(a, { grants: new Map<number, () => Promise<Granted>>() }));
    };
    const mainWaits = new Map<number, Promise<{ release(): void; abandoned: boolean; mode: string }>>();
    const mainHolds = new Map<number, { release(): void }>();
    const threadOf = (who: number) => (who === MAIN ? threadId : (agents.get(who) as Agent).threadId);
    let abandonedGrants = 0;
    let deaths = 0;

    // Every grant the model predicts arrives, in its mode, abandoned exactly as predicted.
    const settle = async (grants: Req[]) => {
      for (const r of grants) {
        const name = MODE_NAMES[locks[r.lock].kind][r.mode];
        let got: { abandoned: boolean; mode: string };
        if (r.who === MAIN) {
          const g = await within(
            mainWaits.get(r.lock) as Promise<{ release(): void; abandoned: boolean; mode: string }>,
            "main's grant",
          );
          mainWaits.delete(r.lock);
          mainHolds.set(r.lock, g);
          got = g;
        } else {
          const a = agents.get(r.who) as Agent & { grants: Map<number, () => Promise<Granted>> };
          got = await (a.grants.get(r.lock) as () => Promise<Granted>)();
          a.grants.delete(r.lock);
        }
        expect({ who: r.who, lock: r.lock, mode: got.mode, abandoned: got.abandoned }).toEqual({
          who: r.who,
          lock: r.lock,
          mode: name,
          abandoned: r.abandoned,
        });
        if (got.abandoned) abandonedGrants++;
      }
    };
    // Every thread's view of every lock is the model's, holders in grant order, waiters in queue order.
    const checkState = () => {
      locks.forEach(({ kind, lock }, i) => {
        const entry = (r: Req) => ({ mode: MODE_NAMES[kind][r.mode], weight: 1, threadId: threadOf(r.who) });
        expect(lock.query()).toEqual({ held: models[i].holds.map(entry), pending: models[i].queue.map(entry) });
      });
      engine.validate();
    };
    const acquire = async (who: number, lock: number) => {
      const { kind, lock: obj } = locks[lock];
      const names = MODE_NAMES[kind];
      const mode = kind === "rw" ? (rand() < 0.6 ? 0 : 1) : rand.int(names.length);
      if (who === MAIN) {
        mainWaits.set(lock, acquireRequest(kind, obj, { mode: names[mode], weight: 1 }));
      } else {
        const a = agents.get(who) as Agent & { grants: Map<number, () => Promise<Granted>> };
        a.grants.set(lock, (await agentAcquire(a, lock, names[mode])).granted);
      }
      return models[lock].request({ who, lock, mode, abandoned: false });
    };
    const release = async (who: number, lock: number) => {
      if (who === MAIN) {
        (mainHolds.get(lock) as { release(): void }).release();
        mainHolds.delete(lock);
      } else await agentRelease(agents.get(who) as Agent, lock);
      return models[lock].release(who);
    };
    const holds = (who: number, lock: number) => models[lock].holds.some((h) => h.who === who);
    const waits = (who: number, lock: number) => models[lock].queue.some((h) => h.who === who);

    for (let i = 0; i < AGENTS; i++) await addAgent();
    for (let step = 0; step < STEPS; step++) {
      if (rand() < 0.12) {
        // A death: most often a holder that others are queued behind.
        const ids = [...agents.keys()];
        const blocking = ids.filter((id) => models.some((m, l) => holds(id, l) && m.queue.length > 0));
        const pool = blocking.length > 0 && rand() < 0.7 ? blocking : ids;
        const who = pool[rand.int(pool.length)];
        const waiting = models.some((_, l) => waits(who, l));
        const ways: Death[] = waiting ? ["terminate", "throw", "exit"] : ["terminate", "throw", "exit", "return"];
        const how = ways[rand.int(ways.length)];
        const a = agents.get(who) as Agent;
        const expected = models.flatMap((m) => m.kill(who));
        expect(await kill(a, how)).toBe(EXIT_CODE[how]);
        deaths++;
        checkState();
        agents.delete(who);
        await settle(expected);
        await addAgent();
      } else {
        const who = rand.int(agents.size + 1) === 0 ? MAIN : [...agents.keys()][rand.int(agents.size)];
        const lock = rand.int(locks.length);
        if (waits(who, lock)) continue;
        const grants = holds(who, lock) ? await release(who, lock) : await acquire(who, lock);
        checkState();
        await settle(grants);
      }
      checkState();
    }

    // Wind down: release the oldest hold until nothing is held or queued; the agents then end by themselves.
    for (;;) {
      const l = models.findIndex((m) => m.holds.length > 0);
      if (l < 0) break;
      await settle(await release(models[l].holds[0].who, l));
      checkState();
    }
    expect(models.every((m) => m.queue.length === 0)).toBe(true);
    const codes = await Promise.all([...agents.values()].map((a) => kill(a, "return")));
    expect(codes).toEqual(codes.map(() => 0));

    for (const { lock } of locks) expectIdle(lock);
    engine.validate();
    const after = census(engine);
    expect(after.inUse).toBe(before.inUse);
    expect(after.alive).toBe(1);
    expect(after.dead).toBe(0);
    expect(deaths).toBeGreaterThan(0);
    expect(abandonedGrants).toBeGreaterThan(0);
  });
});

/**
 * Runs test/workers/<name> in a fresh Node process (this test's own node
 * binary); resolves when it ends, or after `ms`, when it is killed and reported
 * as hung.
 */
function runScript(name: string, args: string[], ms: number) {
  return new Promise<{ code: number | null; hung: boolean; stdout: string; stderr: string }>((resolve) => {
    const child = spawnProcess(process.execPath, [fileURLToPath(workerUrl(name)), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, ms);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, hung, stdout, stderr });
    });
  });
}

describe("owner death, edge cases", () => {
  it("reaps a worker that was spawned before any lock was shared and given the lock later", async () => {
    // A fresh process: in this one, earlier tests have long since shared locks.
    const r = await runScript("late-share.mjs", [], 20_000);
    expect({ hung: r.hung, code: r.code, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({
      hung: false,
      code: 0,
      stdout: "ok",
      stderr: "",
    });
  });

  it("does not wedge anyone when workers are terminated in the middle of engine calls", async () => {
    // Three busy workers (two loops each) spend much of their time inside acquire/release, so
    // random terminations land inside the engine's internal critical sections.
    const r = await runScript("kill-busy.mjs", ["100", String(SEED)], 45_000);
    expect({ hung: r.hung, code: r.code, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({
      hung: false,
      code: 0,
      stdout: "ok 100",
      stderr: "",
    });
  });

  it("grants the rest of the queue when a worker is terminated in the middle of a release that grants it", async () => {
    // 100 000 readers queued behind a worker's write lock: its release grants
    // them one by one, long enough for terminate() to land in the middle.
    const r = await runScript("kill-granter.mjs", ["4", "100000"], 40_000);
    expect({ hung: r.hung, code: r.code, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({
      hung: false,
      code: 0,
      stdout: "ok 4",
      stderr: "",
    });
  });

  it("does not wedge anyone when two workers are terminated together while one is inside query()", async () => {
    const r = await runScript("kill-two.mjs", ["10"], 20_000);
    expect({ hung: r.hung, code: r.code, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({
      hung: false,
      code: 0,
      stdout: "ok 10",
      stderr: "",
    });
  });
});

// ---------------------------------------------------------------- liveness

describe("liveness", () => {
  it("keeps a worker that awaits a lock held by the main thread alive until it gets the lock", async () => {
    const engine = new Engine({ debug: true });
    const mutex = new Mutex({ engine });
    const held = await mutex.acquire();
    const w = spawn("await-main.mjs", { lock: mutex.share() });
    await w.next((m: unknown) => m === "queued", "the worker's request");
    let ended = false;
    void w.exited.then(() => {
      ended = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ended).toBe(false);
    expect(mutex.query().pending).toEqual([{ mode: "exclusive", weight: 1, threadId: w.worker.threadId }]);
    held.release();
    expect(await w.next((m: { got?: boolean }) => m.got === true, "the worker's grant")).toEqual({
      got: true,
      abandoned: false,
    });
    expect(await within(w.exited, "the worker ending by itself")).toBe(0);
    expect(w.errors).toEqual([]);
    expectIdle(mutex);
    engine.validate();
  });

  it("lets a script that used locks across workers exit by itself", async () => {
    const r = await runScript("script.mjs", [], 30_000);
    expect({ hung: r.hung, code: r.code, stderr: r.stderr }).toEqual({ hung: false, code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^done \d+ \d+ \d+ \d+\n$/);
  });
});

// ---------------------------------------------------------------- memory growth

describe("memory growth", () => {
  it("is seen by every thread: waiters queued past the first pages, from both sides, are granted in order", async () => {
    const PAGE = 65536;
    const engine = new Engine({ debug: true });
    const mutex = new Mutex({ engine });
    const before = baseline(engine, mutex);
    expect(engine.memory.buffer.byteLength).toBe(PAGE);
    const ctl = new Int32Array(new SharedArrayBuffer(16)); // ticket, grant sequence, failures
    const held = await mutex.acquire();
    const w = spawn("grow.mjs", { lock: mutex.share(), ctl: ctl.buffer });
    const enqueue = async (n: number) => {
      const seen = w.messages.length;
      w.worker.postMessage({ op: "enqueue", n });
      return w.next<{ type: string; byteLength: number }>(
        (m) => m.type === "queued" && w.messages.indexOf(m) >= seen,
        "the worker's requests",
      );
    };

    // The worker grows the memory...
    const first = await enqueue(5000);
    expect(first.byteLength).toBeGreaterThan(2 * PAGE);
    expect(engine.memory.buffer.byteLength).toBe(first.byteLength);
    expect(mutex.waiting).toBe(5000);
    const pending = mutex.query().pending;
    expect(pending).toHaveLength(5000);
    expect(pending.every((p) => p.threadId === w.worker.threadId)).toBe(true);

    // ...then this thread, then the worker again, with nodes past what it had seen.
    const mine: Promise<void>[] = [];
    let mainFails = 0;
    for (let i = 0; i < 5000; i++) {
      const t = Atomics.add(ctl, 0, 1);
      mine.push(
        mutex.acquire().then((g) => {
          if (Atomics.add(ctl, 1, 1) !== t || g.abandoned) mainFails++;
          g.release();
        }),
      );
    }
    expect(engine.memory.buffer.byteLength).toBeGreaterThan(first.byteLength);
    const last = await enqueue(1);
    expect(last.byteLength).toBe(engine.memory.buffer.byteLength);
    expect(mutex.waiting).toBe(10_001);
    expect(mutex.query().pending.at(-1)).toEqual({ mode: "exclusive", weight: 1, threadId: w.worker.threadId });

    held.release();
    w.worker.postMessage({ op: "finish" });
    await w.next((m: { type?: string }) => m.type === "done", "the worker's grants");
    await within(Promise.all(mine), "the main thread's grants");
    expect(await within(w.exited, "the worker ending")).toBe(0);
    expect(ctl[1]).toBe(10_001);
    expect(ctl[2]).toBe(0);
    expect(mainFails).toBe(0);
    expect(engine.heapBytes).toBeGreaterThan(4 * PAGE);

    expectIdle(mutex);
    engine.validate();
    const after = census(engine);
    expect(after.inUse).toBe(before.inUse);
    expect(after.dead).toBe(0);
  });
});
