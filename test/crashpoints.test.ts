// Crash-point injection, exhaustive: every engine export that touches shared
// state is stopped at its k-th crash point (before every store, read-modify-
// write and bulk write, at every function entry and loop header: see
// crash/instrument.ts), for k = 1, 2, ... until it runs to completion. After
// each stop the stopped thread is marked dead and reaped by another; then the
// validator runs, no internal word may be left held, every survivor's waiter
// must be granted in FIFO order as the survivors release, and once every
// simulated thread is reaped the engine's live blocks are back to baseline.
// Reapers are stopped too (every k of a reap), and reaped by a third thread.
//
// Several simulated threads share one memory inside this one JS thread: the
// engine names its caller by thread record, so one instance serves all.
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import {
  CTL_GEN_SHIFT,
  CTL_STATE_MASK,
  E_CHARS,
  E_HASH,
  E_KIND,
  E_LEN,
  E_MORE,
  E_MORE_CHARS,
  ERR_RETRY,
  H_ALLOC,
  H_LOCKS,
  H_REAP,
  L_HELD,
  L_LNEXT,
  L_NWAIT,
  L_TABLE,
  L_WORD,
  N_LOCK,
  N_NEXT,
  NAME_FIRST_UNITS,
  NAME_MORE_UNITS,
  QUEUED_BIT,
  R_NCACHE,
  R_RESCAN,
  S_BROKEN,
  S_LIMIT,
  S_VALUE,
  SK_BARRIER,
  SK_COND,
  SK_EVENT,
  SK_LIMITER,
  SK_NOTIFY,
  SO_BREAK,
  SO_CLEAR,
  SO_LIMIT,
  SO_NOTIFY_ALL,
  SO_NOTIFY_ONE,
  SO_RESET,
  SO_SET,
  ST_FREE,
  ST_HELD,
  ST_STOLEN,
  ST_WAITING,
} from "../assembly/layout.js";
import type { EngineExports } from "../bindings/engine.js";
import { validateFailure } from "../bindings/errors.js";
import type { SyncExports } from "../bindings/sync.js";
import { engineImports } from "../bindings/wasm.js";
import { instrument } from "./crash/instrument.js";
import { rng as mulberry } from "./workers/common.mjs";

const rng = (seed: number) => mulberry(seed) as Rand;

const SEED = Number(process.env.RINGLOCK_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`crashpoints.test.ts seed: ${SEED} (replay with RINGLOCK_SEED=${SEED})`);

const release = readFileSync(new URL("../build/ringlock.wasm", import.meta.url));
const debug = new WebAssembly.Module(readFileSync(new URL("../build/ringlock.debug.wasm", import.meta.url)));
const crash = instrument(release);
const crashModule = new WebAssembly.Module(crash.wasm);

class Stop extends Error {}
const STOP = new Stop("stopped at a crash point");

type Rand = (() => number) & { int(n: number): number };

const UNLIMITED = 0xffffffff;
// Lock kinds: rows of [conflict mask, limit].
const KINDS: [number, number][][] = [
  [[1, UNLIMITED]], // mutex
  [
    [0b10, UNLIMITED],
    [0b11, UNLIMITED],
  ], // read / write
  [[0, 3]], // semaphore of 3
  [
    [0b10000, UNLIMITED],
    [0b11100, UNLIMITED],
    [0b11010, UNLIMITED],
    [0b11110, UNLIMITED],
    [0b11111, UNLIMITED],
  ], // IS IX S SIX X
];

// Sync objects (assembly/sync.ts), after the KINDS locks: [kind, limit, value, parties].
const SYNC: [number, number, number, number][] = [
  [SK_EVENT, 0, 0, 0],
  [SK_NOTIFY, 0, 0, 0],
  [SK_BARRIER, 0, 0, 3],
  [SK_LIMITER, 1, 0, 0],
  [SK_COND, 0, 0, 0],
];
const EVENT = KINDS.length;
const NOTIFY = EVENT + 1;
const BARRIER = EVENT + 2;
const LIMITER = EVENT + 3;
const COND = EVENT + 4; // a Condition's queue over locks[0] (the mutex)

interface Req {
  lock: number; // index into sim.locks
  seq: number; // enqueue order, for the FIFO check
}
interface Thread {
  tid: number;
  thr: number;
  pending: Map<number, Req>; // node -> request (queued)
  held: Map<number, Req>; // node -> request (granted)
  handles: number[];
  ownLocks: number[];
  ownTables: number[];
}

const stats = { stops: 0, reaperStops: 0, seconds: 0, runs: 0, ops: new Map<string, number>() };

class Sim {
  memory = new WebAssembly.Memory({ initial: 1, maximum: 256, shared: true });
  stopAt = 0;
  count = 0;
  x: EngineExports;
  v: EngineExports;
  main: number;
  locks: number[] = [];
  tables: number[] = [];
  threads: Thread[] = [];
  seq = 0;
  nextTid = 100;
  grants: { lock: number; seq: number }[] = [];

  constructor() {
    const point = () => {
      if (this.stopAt !== 0 && ++this.count === this.stopAt) throw STOP;
    };
    this.x = new WebAssembly.Instance(crashModule, { ...engineImports(this.memory), crash: { point } })
      .exports as unknown as EngineExports;
    this.v = new WebAssembly.Instance(debug, engineImports(this.memory)).exports as unknown as EngineExports;
    this.x.init(256 * 65536, 7, 9);
    this.main = this.x.attach(1, 1);
    this.x.markShared();
    for (const rows of KINDS) {
      const t = this.x.tableNew(this.main, rows.length);
      rows.forEach(([c, lim], m) => {
        this.x.tableSet(t, m, c, lim);
      });
      this.tables.push(t);
      this.locks.push(this.x.lockNew(this.main, t));
    }
    for (const [kind, limit, value, parties] of SYNC) {
      const t = this.sx.syncTable(this.main, kind, limit, value, parties);
      this.locks.push(this.x.lockNew(this.main, t));
      expect(this.x.tableDrop(this.main, t)).toBe(0);
    }
    // A name the main thread keeps (its bucket array is made here too).
    expect(this.bindName(this.main, "kept", 0)).toBeGreaterThan(0);
  }

  get sx(): SyncExports {
    return this.x as unknown as SyncExports;
  }

  // ---- sync operations of a simulated thread (each may be stopped)

  arrive(t: Thread): void {
    const r = this.sx.syncArrive(t.thr, this.locks[BARRIER]);
    if (r === ERR_RETRY || r === -10) return; // busy, or broken
    expect(r).toBeGreaterThanOrEqual(0);
    if (r & QUEUED_BIT) t.pending.set(r & ~QUEUED_BIT, { lock: BARRIER, seq: this.seq++ });
  }

  syncOp(t: Thread, lock: number, op: number, arg: number): void {
    const r = this.sx.syncOp(t.thr, this.locks[lock], op, arg);
    if (r === ERR_RETRY) return;
    expect(r).toBeGreaterThanOrEqual(0);
  }

  condWait(t: Thread): void {
    const node = [...t.held].find(([, req]) => req.lock === 0)?.[0];
    if (node === undefined) return;
    const r = this.sx.condWait(t.thr, this.locks[COND], node, this.gen(node));
    if (r === ERR_RETRY) return;
    expect(r).toBeGreaterThanOrEqual(0);
    t.held.delete(node);
    t.pending.set(node, { lock: COND, seq: this.seq++ });
  }

  condMove(t: Thread, node: number, n: number): void {
    const r = this.sx.condMove(t.thr, this.locks[COND], this.locks[0], node, node === 0 ? 0 : this.gen(node), n);
    if (r === ERR_RETRY) return;
    expect(r).toBeGreaterThanOrEqual(0);
  }

  /** Opens every sync object (the main thread), so that every sync waiter is granted. */
  open(): void {
    const m = this.main;
    this.sx.syncOp(m, this.locks[EVENT], SO_SET, 0);
    this.sx.syncOp(m, this.locks[NOTIFY], SO_NOTIFY_ALL, 0);
    this.sx.syncOp(m, this.locks[BARRIER], SO_BREAK, 0);
    this.sx.syncOp(m, this.locks[LIMITER], SO_LIMIT, 1000);
    this.sx.condMove(m, this.locks[COND], this.locks[0], 0, 0, 1000);
  }

  /** nameAlloc, the name written as the binding does, nameBind on tables[t]. */
  bindName(thr: number, name: string, t: number): number {
    const buf = this.x.nameAlloc(thr, name.length);
    expect(buf).toBeGreaterThan(0);
    const i32 = this.i32();
    const u16 = new Uint16Array(this.memory.buffer);
    i32[(buf + E_HASH) >> 2] = name.length * 31;
    i32[(buf + E_LEN) >> 2] = name.length;
    i32[(buf + E_KIND) >> 2] = 1;
    let block = buf;
    for (let i = 0, at = (buf + E_CHARS) >> 1, room = NAME_FIRST_UNITS; i < name.length; i++, room--) {
      if (room === 0) {
        block = i32[(block + E_MORE) >> 2];
        at = (block + E_MORE_CHARS) >> 1;
        room = NAME_MORE_UNITS;
      }
      u16[at++] = name.charCodeAt(i);
    }
    return this.x.nameBind(thr, this.tables[t]);
  }

  i32(): Int32Array {
    return new Int32Array(this.memory.buffer);
  }

  spawn(): Thread {
    const tid = this.nextTid++;
    const thr = this.x.attach(tid, 1);
    const t: Thread = { tid, thr, pending: new Map(), held: new Map(), handles: [], ownLocks: [], ownTables: [] };
    this.threads.push(t);
    return t;
  }

  /** Live blocks apart from the main thread's node cache. */
  blocks(): number {
    return this.x.liveBlocks() - this.i32()[(this.main + R_NCACHE) >> 2];
  }

  gen(node: number): number {
    return this.i32()[node >> 2] >>> CTL_GEN_SHIFT;
  }

  state(node: number): number {
    return this.i32()[node >> 2] & CTL_STATE_MASK;
  }

  // ---- operations of a simulated thread (each may be stopped)

  acquire(t: Thread, lock: number, m: number, w: number): void {
    const r = this.x.acquire(t.thr, this.locks[lock], m, w);
    if (r === ERR_RETRY) return; // a word held by a dead thread not yet reaped
    expect(r).toBeGreaterThan(0);
    const req = { lock, seq: this.seq++ };
    if (r & QUEUED_BIT) t.pending.set(r & ~QUEUED_BIT, req);
    else this.granted(t, r, req);
  }

  tryAcquire(t: Thread, lock: number, m: number, w: number): void {
    const r = this.x.tryAcquire(t.thr, this.locks[lock], m, w);
    if (r === ERR_RETRY) return;
    expect(r).toBeGreaterThanOrEqual(0);
    if (r > 0) this.granted(t, r, { lock, seq: this.seq++ });
  }

  /** Takes the lock at once (Web Locks' steal): its holders' nodes become STOLEN. */
  steal(t: Thread, lock: number, m: number, w: number): void {
    const r = this.x.steal(t.thr, this.locks[lock], m, w);
    if (r === ERR_RETRY) return;
    expect(r).toBeGreaterThan(0);
    this.granted(t, r, { lock, seq: this.seq++ });
  }

  release(t: Thread, node: number): void {
    // A Notify waiter consumes its permit as it lets go (as the binding's does).
    const notify = t.held.get(node)?.lock === NOTIFY;
    const r = notify ? this.sx.syncRelease(t.thr, node, this.gen(node)) : this.x.release(t.thr, node, this.gen(node));
    if (r === ERR_RETRY) return;
    expect(r).toBeGreaterThanOrEqual(0);
    t.held.delete(node);
  }

  cancel(t: Thread, node: number): void {
    const r = this.x.cancel(t.thr, node, this.gen(node));
    if (r === -5 || r === ERR_RETRY) return; // granted first (collect() finds it), or busy
    expect(r).toBeGreaterThanOrEqual(0);
    t.pending.delete(node);
  }

  granted(t: Thread, node: number, req: Req): void {
    t.held.set(node, req);
    if (req.lock === 0) this.grants.push(req);
  }

  /** A thread's grants: its inbox, and (after a lost delivery) its waits' CTL words. */
  collect(t: Thread): void {
    const i32 = this.i32();
    for (let p = this.x.takeInbox(t.thr); p !== 0; p = i32[(p + N_NEXT) >> 2]) {
      const req = t.pending.get(p);
      if (req !== undefined && this.state(p) === ST_HELD) {
        t.pending.delete(p);
        this.granted(t, p, req);
      }
    }
    i32[(t.thr + R_RESCAN) >> 2] = 0;
    for (const [p, req] of [...t.pending].sort((a, b) => a[1].seq - b[1].seq)) {
      if (this.state(p) === ST_HELD) {
        t.pending.delete(p);
        this.granted(t, p, req);
      }
    }
  }

  // ---- checks

  reap(by: Thread | number): void {
    const thr = typeof by === "number" ? by : by.thr;
    let r = ERR_RETRY;
    for (let i = 0; i < 3 && r === ERR_RETRY; i++) r = this.x.reapAll(thr);
    expect(r, "reapAll").toBeGreaterThanOrEqual(0);
  }

  check(): void {
    const r = this.v.validate?.(this.main) ?? 0;
    expect(r === 0 ? "ok" : validateFailure(r)).toBe("ok");
    const i32 = this.i32();
    expect(i32[H_ALLOC >> 2], "ALLOC left held").toBe(0);
    expect(i32[H_REAP >> 2], "REAP left held").toBe(0);
    for (let l = i32[H_LOCKS >> 2]; l !== 0; l = i32[(l + L_LNEXT) >> 2]) {
      expect(i32[(l + L_WORD) >> 2], "a lock's word left held").toBe(0);
    }
    // Every sync operation is atomic: its state words agree with each other
    // and with the queue, whichever prefix of its writes a stop left.
    const word = (lock: number, off: number) => i32[(i32[(this.locks[lock] + L_TABLE) >> 2] + off) >> 2] >>> 0;
    const nwait = (lock: number) => i32[(this.locks[lock] + L_NWAIT) >> 2];
    expect(word(EVENT, S_LIMIT), "Event: LIMIT open iff set").toBe(word(EVENT, S_VALUE) === 1 ? 0xffffffff : 0);
    const permits = word(NOTIFY, S_LIMIT) - i32[(this.locks[NOTIFY] + L_HELD) >> 2];
    expect(permits, "Notify: at most one permit stored").toBeGreaterThanOrEqual(0);
    expect(permits, "Notify: at most one permit stored").toBeLessThanOrEqual(1);
    if (nwait(NOTIFY) > 0) expect(permits, "Notify: no permit while someone waits").toBe(0);
    if (word(BARRIER, S_BROKEN) === 0) {
      expect(word(BARRIER, S_LIMIT), "Barrier: closed while not broken").toBe(0);
      expect(word(BARRIER, S_VALUE), "Barrier: one waiter per arrival").toBe(nwait(BARRIER));
    } else {
      expect(word(BARRIER, S_LIMIT), "Barrier: open while broken").toBe(0xffffffff);
    }
    for (const t of this.threads) {
      for (const p of t.pending.keys()) expect([ST_WAITING, ST_HELD]).toContain(this.state(p));
      // A stolen hold stays its owner's until released.
      for (const p of t.held.keys()) expect([ST_HELD, ST_STOLEN]).toContain(this.state(p));
    }
  }

  /** Survivors release until nothing is held or queued; every waiter must be
   *  granted, and on the mutex in FIFO order. */
  drain(): void {
    for (let round = 0; round < 1000; round++) {
      this.open();
      for (const t of this.threads) this.collect(t);
      const holders = this.threads.filter((t) => t.held.size > 0);
      if (holders.length === 0) break;
      for (const t of holders) for (const p of [...t.held.keys()]) this.release(t, p);
    }
    for (const t of this.threads) {
      expect(t.pending.size, `thread ${t.tid}: waiters never granted`).toBe(0);
      expect(t.held.size).toBe(0);
    }
    const seqs = this.grants.map((g) => g.seq);
    // FIFO on the mutex: each grant is later in queue order than the one before it.
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
  }

  kill(t: Thread): void {
    expect(this.x.markDead(t.tid)).toBe(1);
    this.threads = this.threads.filter((u) => u !== t);
  }

  endAll(): void {
    for (const t of [...this.threads]) {
      for (const h of t.handles) expect(this.x.handleDrop(t.thr, h)).toBe(0);
      t.handles = [];
      this.kill(t);
    }
    this.reap(this.main);
  }

  snapshot() {
    return {
      mem: new Uint8Array(this.memory.buffer).slice(),
      js: structuredClone({ threads: this.threads, seq: this.seq, nextTid: this.nextTid, grants: this.grants }),
    };
  }

  restore(s: ReturnType<Sim["snapshot"]>): void {
    const now = new Uint8Array(this.memory.buffer);
    now.set(s.mem);
    now.fill(0, s.mem.length);
    const js = structuredClone(s.js);
    this.threads = js.threads;
    this.seq = js.seq;
    this.nextTid = js.nextTid;
    this.grants = js.grants;
  }
}

/** Random history: holders of several modes and weights, queued waiters, cancels. */
function prepare(sim: Sim, rand: Rand, steps: number): void {
  for (let i = 0; i < 4; i++) sim.spawn();
  for (let i = 0; i < steps; i++) {
    const t = sim.threads[rand.int(sim.threads.length)];
    sim.collect(t);
    const r = rand();
    if (r < 0.5) {
      const lock = rand.int(KINDS.length);
      const m = rand.int(KINDS[lock].length);
      const w = lock === 2 ? 1 + rand.int(3) : 1;
      sim.acquire(t, lock, m, w);
    } else if (r < 0.8 && t.held.size > 0) {
      sim.release(t, [...t.held.keys()][rand.int(t.held.size)]);
    } else if (t.pending.size > 0) {
      sim.cancel(t, [...t.pending.keys()][rand.int(t.pending.size)]);
    }
  }
  for (const t of sim.threads) sim.collect(t);
}

/** Random history on the sync objects: waiters on each, condition waits, notifies. */
function prepareSync(sim: Sim, rand: Rand, steps: number): void {
  for (let i = 0; i < steps; i++) {
    const t = sim.threads[rand.int(sim.threads.length)];
    sim.collect(t);
    const r = rand();
    if (r < 0.15) sim.acquire(t, EVENT, 0, 1);
    else if (r < 0.3) sim.acquire(t, NOTIFY, 0, 1);
    else if (r < 0.45) sim.arrive(t);
    else if (r < 0.55) sim.acquire(t, LIMITER, 0, 1);
    else if (r < 0.7) sim.acquire(t, 0, 0, 1);
    else if (r < 0.85) sim.condWait(t);
    else if (r < 0.9) sim.condMove(t, 0, 1);
    else if (r < 0.95) sim.syncOp(t, NOTIFY, SO_NOTIFY_ONE, 0);
    else if (t.held.size > 0) {
      const [node, req] = [...t.held][rand.int(t.held.size)];
      if (req.lock !== 0 || rand() < 0.3) sim.release(t, node);
    }
  }
  for (const t of sim.threads) sim.collect(t);
}

type Op = {
  name: string;
  run: (sim: Sim, t: Thread, rand: Rand) => void;
  fits?: (t: Thread) => boolean;
  sync?: boolean;
};

const heldOn = (t: Thread, lock: number) => [...t.held].filter(([, r]) => r.lock === lock).map(([n]) => n);
const pendingOn = (t: Thread, lock: number) => [...t.pending].filter(([, r]) => r.lock === lock).map(([n]) => n);

const SYNC_OPS: Op[] = [
  { name: "syncOp (Event set, clear)", run: (s, t, rand) => s.syncOp(t, EVENT, rand() < 0.7 ? SO_SET : SO_CLEAR, 0) },
  {
    name: "syncOp (Notify one, all)",
    run: (s, t, rand) => s.syncOp(t, NOTIFY, rand() < 0.5 ? SO_NOTIFY_ONE : SO_NOTIFY_ALL, 0),
  },
  { name: "syncArrive (Barrier)", run: (s, t) => s.arrive(t) },
  {
    name: "syncOp (Barrier abort, reset)",
    run: (s, t, rand) => s.syncOp(t, BARRIER, rand() < 0.5 ? SO_BREAK : SO_RESET, 0),
  },
  { name: "syncOp (CapacityLimiter total)", run: (s, t, rand) => s.syncOp(t, LIMITER, SO_LIMIT, rand.int(4)) },
  {
    name: "syncRelease (a Notify waiter consumes its permit)",
    fits: (t) => heldOn(t, NOTIFY).length > 0,
    run: (s, t) => {
      const node = heldOn(t, NOTIFY)[0];
      const r = s.sx.syncRelease(t.thr, node, s.gen(node));
      if (r !== ERR_RETRY) t.held.delete(node);
    },
  },
  {
    name: "cancel (a Barrier waiter that gives up breaks it in the same step)",
    fits: (t) => pendingOn(t, BARRIER).length > 0,
    run: (s, t) => s.cancel(t, pendingOn(t, BARRIER)[0]),
  },
  { name: "condWait", fits: (t) => heldOn(t, 0).length > 0, run: (s, t) => s.condWait(t) },
  { name: "condMove (notify)", run: (s, t, rand) => s.condMove(t, 0, 1 + rand.int(3)) },
  {
    name: "condMove (a wait that gives up)",
    fits: (t) => pendingOn(t, COND).length > 0,
    run: (s, t) => s.condMove(t, pendingOn(t, COND)[0], 0),
  },
].map((op) => ({ ...op, sync: true }));

const OPS: Op[] = [
  {
    name: "acquire",
    run: (s, t, rand) => {
      const lock = rand.int(KINDS.length);
      s.acquire(t, lock, rand.int(KINDS[lock].length), lock === 2 ? 1 + rand.int(3) : 1);
    },
  },
  { name: "tryAcquire", run: (s, t, rand) => s.tryAcquire(t, 2, 0, 1 + rand.int(3)) },
  {
    name: "release",
    fits: (t) => t.held.size > 0,
    run: (s, t, rand) => s.release(t, [...t.held.keys()][rand.int(t.held.size)]),
  },
  {
    name: "cancel",
    fits: (t) => t.pending.size > 0,
    run: (s, t, rand) => s.cancel(t, [...t.pending.keys()][rand.int(t.pending.size)]),
  },
  { name: "takeInbox", run: (s, t) => s.collect(t) },
  {
    name: "enter+leave (query)",
    run: (s, t, rand) => {
      const l = s.locks[rand.int(s.locks.length)];
      expect(s.x.enter(t.thr, l)).toBe(0);
      s.x.leave(t.thr, l);
    },
  },
  {
    name: "lockNew+lockDrop",
    run: (s, t) => {
      const l = s.x.lockNew(t.thr, s.tables[1]);
      expect(l).toBeGreaterThan(0);
      expect(s.x.lockDrop(t.thr, l)).toBe(0);
    },
  },
  { name: "lockNew", run: (s, t) => void t.ownLocks.push(s.x.lockNew(t.thr, s.tables[3])) },
  {
    name: "handleNew+handleDrop",
    run: (s, t) => {
      const h = s.x.handleNew(t.thr, s.locks[0], 0);
      expect(h).toBeGreaterThan(0);
      expect(s.x.handleDrop(t.thr, h)).toBe(0);
    },
  },
  { name: "handleNew", run: (s, t) => void t.handles.push(s.x.handleNew(t.thr, s.locks[1], 0)) },
  {
    name: "tableNew+tableDrop",
    run: (s, t) => {
      const tb = s.x.tableNew(t.thr, 2);
      expect(tb).toBeGreaterThan(0);
      expect(s.x.tableDrop(t.thr, tb)).toBe(0);
    },
  },
  { name: "tableNew", run: (s, t) => void t.ownTables.push(s.x.tableNew(t.thr, 3)) },
  { name: "attach", run: (s) => void s.spawn() },
  { name: "steal", run: (s, t) => s.steal(t, 1, 0, 1) },
  {
    name: "nameAlloc+nameBind (new name)+handleDrop",
    run: (s, t, rand) => {
      // Long enough for two overflow blocks now and then.
      const h = s.bindName(t.thr, `n${rand.int(1e9)}`.padEnd(rand() < 0.5 ? 3 : 600, "\u{d800}"), 0);
      expect(h).toBeGreaterThan(0);
      expect(s.x.handleDrop(t.thr, h)).toBe(0);
    },
  },
  {
    name: "nameBind (a name in use)",
    run: (s, t) => {
      const h = s.bindName(t.thr, "kept", 0);
      expect(h).toBeGreaterThan(0);
      t.handles.push(h);
    },
  },
  {
    name: "nameBind (new name, kept)",
    run: (s, t, rand) => void t.handles.push(s.bindName(t.thr, `k${rand.int(1e9)}`, 1)),
  },
  ...SYNC_OPS,
];

const SCENARIOS = Number(process.env.RINGLOCK_CRASH_SCENARIOS ?? 6);

afterAll(() => {
  const per = [...stats.ops].map(([k, v]) => `${k} ${v}`).join(", ");
  console.log(
    `crash points: ${crash.sites} sites instrumented; ${stats.stops} operation stops, ${stats.reaperStops} reaper stops and ${stats.seconds} second-death stops exercised in ${stats.runs} runs (${per})`,
  );
});

describe("crash-point injection: a thread stopped at any point of any engine operation", () => {
  for (const op of OPS) {
    it(`${op.name}: is reaped, leaves a valid engine, and survivors are all granted in FIFO order`, () => {
      for (let sc = 0; sc < SCENARIOS; sc++) {
        const rand = rng(SEED + sc * 7919 + op.name.length);
        const sim = new Sim();
        const baseline = sim.blocks();
        prepare(sim, rand, 20 + rand.int(20));
        if (op.sync) prepareSync(sim, rand, 30 + rand.int(20));
        const actor = sim.threads.find((t) => op.fits?.(t) ?? true);
        if (actor === undefined) continue;
        const choice = rand();
        const snap = sim.snapshot();
        for (let k = 1; ; k++) {
          sim.restore(snap);
          const t = sim.threads.find((u) => u.tid === actor.tid) as Thread;
          sim.count = 0;
          sim.stopAt = k;
          stats.runs++;
          try {
            op.run(sim, t, rng(choice * 2 ** 31));
          } catch (e) {
            if (e !== STOP) throw e;
            sim.stopAt = 0;
            stats.stops++;
            stats.ops.set(op.name, (stats.ops.get(op.name) ?? 0) + 1);
            // A stopped attach may have claimed a record for a tid nobody tracks.
            if (op.name === "attach") sim.x.markDead(sim.nextTid - 1);
            else sim.kill(t);
            sim.reap(sim.main);
            sim.check();
            sim.drain();
            sim.check();
            sim.endAll();
            sim.check();
            expect(sim.blocks(), `blocks after a stop at point ${k}`).toBe(baseline);
            continue;
          }
          sim.stopAt = 0;
          // Ran to completion: the same checks, once.
          sim.check();
          sim.drain();
          sim.endAll();
          sim.check();
          expect(sim.blocks()).toBe(baseline);
          break;
        }
      }
    });
  }
});

describe("crash-point injection: a reaper stopped at any point of its reap", () => {
  it("is reaped with the thread it was reaping by a third thread, and nothing is lost", () => {
    for (let sc = 0; sc < Math.max(2, SCENARIOS >> 1); sc++) {
      const rand = rng(SEED + 104729 * (sc + 1));
      const sim = new Sim();
      const baseline = sim.blocks();
      prepare(sim, rand, 30);
      // The victim dies in the middle of a release or an acquire that queues.
      const victim = sim.threads[rand.int(sim.threads.length)];
      const reaper = sim.spawn();
      const snap = sim.snapshot();
      for (let k = 1; ; k++) {
        sim.restore(snap);
        const v = sim.threads.find((u) => u.tid === victim.tid) as Thread;
        const r = sim.threads.find((u) => u.tid === reaper.tid) as Thread;
        sim.kill(v);
        sim.count = 0;
        sim.stopAt = k;
        stats.runs++;
        try {
          sim.reap(r);
        } catch (e) {
          if (e !== STOP) throw e;
          sim.stopAt = 0;
          stats.reaperStops++;
          sim.kill(r);
          sim.reap(sim.main);
          sim.check();
          sim.drain();
          sim.endAll();
          sim.check();
          expect(sim.blocks(), `blocks after a reaper stop at point ${k}`).toBe(baseline);
          continue;
        }
        sim.stopAt = 0;
        sim.check();
        sim.drain();
        sim.endAll();
        expect(sim.blocks()).toBe(baseline);
        break;
      }
    }
  });
});

describe("crash-point injection: two threads stopped in a row before anyone reaps", () => {
  it("reaps both, and the survivors still get every grant in FIFO order", () => {
    for (let sc = 0; sc < SCENARIOS; sc++) {
      const rand = rng(SEED + 15485863 * (sc + 1));
      const sim = new Sim();
      const baseline = sim.blocks();
      prepare(sim, rand, 30);
      const holders = sim.threads.filter((t) => t.held.size > 0);
      if (holders.length < 2) continue;
      const [first, second] = holders;
      const firstNode = [...first.held.keys()][0];
      // The first dies in the middle of a release (at a point drawn at random).
      const kFirst = 1 + rand.int(12);
      const snap = sim.snapshot();
      for (let k = 1; ; k++) {
        sim.restore(snap);
        const a = sim.threads.find((u) => u.tid === first.tid) as Thread;
        const b = sim.threads.find((u) => u.tid === second.tid) as Thread;
        sim.count = 0;
        sim.stopAt = kFirst;
        try {
          sim.release(a, firstNode);
        } catch (e) {
          if (e !== STOP) throw e;
        }
        sim.stopAt = 0;
        sim.kill(a);
        // The second stops at every point of its own release and acquire.
        sim.count = 0;
        sim.stopAt = k;
        stats.runs++;
        try {
          sim.release(b, [...b.held.keys()][0]);
          sim.acquire(b, 0, 0, 1);
        } catch (e) {
          if (e !== STOP) throw e;
          sim.stopAt = 0;
          stats.seconds++;
          sim.kill(b);
          sim.reap(sim.main);
          sim.check();
          sim.drain();
          sim.endAll();
          sim.check();
          expect(sim.blocks(), `blocks after a second death at point ${k}`).toBe(baseline);
          continue;
        }
        sim.stopAt = 0;
        sim.reap(sim.main);
        sim.check();
        sim.drain();
        sim.endAll();
        expect(sim.blocks()).toBe(baseline);
        break;
      }
    }
  });
});

// Unused symbols kept honest by the type checker.
void N_LOCK;
void ST_FREE;
