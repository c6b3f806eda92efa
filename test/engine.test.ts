// Step tests of the wasm engine's exports, on the debug build, with the
// validator run after every step.
import { beforeEach, describe, expect, it } from "vitest";
import {
  CTL_ABANDONED,
  CTL_GEN_SHIFT,
  CTL_MODE_SHIFT,
  CTL_STATE_MASK,
  ERR_GRANTED,
  ERR_MODE,
  ERR_NOMEM,
  ERR_RETRY,
  ERR_STALE,
  ERR_WEIGHT,
  H_MAGIC,
  H_VERSION,
  L_HEAD,
  L_MASK,
  L_NWAIT,
  L_TABLE,
  L_TAIL,
  L_WORD,
  LAYOUT_VERSION,
  MAGIC_VALUE,
  N_LOCK,
  N_NEXT,
  N_OWNER,
  N_WEIGHT,
  QUEUED_BIT,
  R_NCACHE,
  ST_HELD,
  ST_WAITING,
} from "../assembly/layout.js";
import { Engine } from "../bindings/index.js";

const UNLIMITED = 0xffffffff;

let e: Engine;
let step: <T>(v: T) => T;

beforeEach(() => {
  e = new Engine({ debug: true });
  step = (v) => {
    e.validate();
    return v;
  };
});

const word = (p: number) => e.refresh()[p >> 2];
const ctl = (node: number) => word(node) >>> 0;
const gen = (node: number) => ctl(node) >>> CTL_GEN_SHIFT;
const state = (node: number) => ctl(node) & CTL_STATE_MASK;

function inbox(): number[] {
  const out: number[] = [];
  for (let p = e.x.takeInbox(e.thr); p !== 0; p = word(p + N_NEXT)) out.push(p);
  return out;
}

/** A lock with one self-conflicting mode (a mutex). */
function mutexLock(): number {
  const t = e.x.tableNew(e.thr, 1);
  e.x.tableSet(t, 0, 1, UNLIMITED);
  const l = e.x.lockNew(e.thr, t);
  e.x.tableDrop(e.thr, t); // the lock keeps its own reference
  return l;
}

/** read (0) conflicts with write (1); write with both. */
function rwLock(): number {
  const t = e.x.tableNew(e.thr, 2);
  e.x.tableSet(t, 0, 0b10, UNLIMITED);
  e.x.tableSet(t, 1, 0b11, UNLIMITED);
  const l = e.x.lockNew(e.thr, t);
  e.x.tableDrop(e.thr, t);
  return l;
}

describe("the engine's header", () => {
  it("carries the magic and layout version the bindings were compiled against", () => {
    expect(word(H_MAGIC)).toBe(MAGIC_VALUE);
    expect(word(H_VERSION)).toBe(LAYOUT_VERSION);
  });

  it("lays out locks and nodes where layout.ts says (the bindings read through it)", () => {
    const t = e.x.tableNew(e.thr, 1);
    e.x.tableSet(t, 0, 1, UNLIMITED);
    const l = e.x.lockNew(e.thr, t);
    expect(word(l + L_TABLE)).toBe(t);
    const n = e.x.acquire(e.thr, l, 0, 1);
    expect(word(n + N_LOCK)).toBe(l);
    expect(word(n + N_OWNER)).toBe(e.thr);
    expect(word(n + N_WEIGHT)).toBe(1);
    expect(state(n)).toBe(ST_HELD);
    const q = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    expect(word(l + L_HEAD)).toBe(q);
    expect(word(l + L_TAIL)).toBe(q);
    expect(word(l + L_NWAIT)).toBe(1);
    expect((ctl(q) >>> CTL_MODE_SHIFT) & 31).toBe(0);
    step(0);
  });
});

describe("acquire and release", () => {
  it("grants at once when the queue is empty and the mode compatible, else queues", () => {
    const l = mutexLock();
    const a = step(e.x.acquire(e.thr, l, 0, 1));
    expect(a & QUEUED_BIT).toBe(0);
    const b = step(e.x.acquire(e.thr, l, 0, 1));
    expect(b & QUEUED_BIT).toBe(QUEUED_BIT);
    expect(state(b & ~QUEUED_BIT)).toBe(ST_WAITING);
  });

  it("hands the lock to waiters in FIFO order, each through the owner's inbox", () => {
    const l = mutexLock();
    let held = e.x.acquire(e.thr, l, 0, 1);
    const queued = [1, 2, 3, 4].map(() => step(e.x.acquire(e.thr, l, 0, 1)) & ~QUEUED_BIT);
    for (const next of queued) {
      expect(step(e.x.release(e.thr, held, gen(held)))).toBe(1);
      expect(inbox()).toEqual([next]);
      expect(state(next)).toBe(ST_HELD);
      held = next;
    }
    expect(step(e.x.release(e.thr, held, gen(held)))).toBe(0);
    expect(inbox()).toEqual([]);
  });

  it("grants the longest compatible prefix and nothing behind the first refusal", () => {
    const l = rwLock();
    const w = e.x.acquire(e.thr, l, 1, 1);
    const r1 = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    const r2 = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    const w2 = e.x.acquire(e.thr, l, 1, 1) & ~QUEUED_BIT;
    const r3 = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    step(0);
    expect(e.x.release(e.thr, w, gen(w))).toBe(2);
    expect(inbox()).toEqual([r1, r2]);
    expect(state(w2)).toBe(ST_WAITING);
    expect(state(r3)).toBe(ST_WAITING);
    step(0);
  });

  it("refuses a stale handle: released twice, or a generation that moved on", () => {
    const l = mutexLock();
    const a = e.x.acquire(e.thr, l, 0, 1);
    const g = gen(a);
    expect(e.x.release(e.thr, a, g)).toBe(0);
    expect(step(e.x.release(e.thr, a, g))).toBe(ERR_STALE);
    // The node is reused for the next request, under a new generation.
    const b = e.x.acquire(e.thr, l, 0, 1);
    expect(b).toBe(a);
    expect(gen(b)).not.toBe(g);
    expect(step(e.x.release(e.thr, b, g))).toBe(ERR_STALE);
    expect(state(b)).toBe(ST_HELD);
  });

  it("rejects a mode out of range and a weight of 0 or above the limit, queueing nothing", () => {
    const t = e.x.tableNew(e.thr, 1);
    e.x.tableSet(t, 0, 0, 3);
    const l = e.x.lockNew(e.thr, t);
    expect(e.x.acquire(e.thr, l, 1, 1)).toBe(ERR_MODE);
    expect(e.x.acquire(e.thr, l, 0, 0)).toBe(ERR_WEIGHT);
    expect(e.x.acquire(e.thr, l, 0, 4)).toBe(ERR_WEIGHT);
    expect(e.x.tryAcquire(e.thr, l, 0, 4)).toBe(ERR_WEIGHT);
    expect(word(l + L_NWAIT)).toBe(0);
    step(0);
  });

  it("counts weights against the limit: 2 + 1 fit in 3, a further 1 waits", () => {
    const t = e.x.tableNew(e.thr, 1);
    e.x.tableSet(t, 0, 0, 3);
    const l = e.x.lockNew(e.thr, t);
    const a = step(e.x.acquire(e.thr, l, 0, 2));
    expect(step(e.x.acquire(e.thr, l, 0, 1)) & QUEUED_BIT).toBe(0);
    const c = step(e.x.acquire(e.thr, l, 0, 1));
    expect(c & QUEUED_BIT).toBe(QUEUED_BIT);
    expect(e.x.release(e.thr, a, gen(a))).toBe(1);
    expect(inbox()).toEqual([c & ~QUEUED_BIT]);
    step(0);
  });
});

describe("tryAcquire", () => {
  it("never queues: 0 when held, 0 when the queue is not empty even if compatible", () => {
    const l = rwLock();
    const r = e.x.tryAcquire(e.thr, l, 0, 1);
    expect(r).toBeGreaterThan(0);
    expect(e.x.tryAcquire(e.thr, l, 1, 1)).toBe(0);
    e.x.acquire(e.thr, l, 1, 1); // a writer queues behind the reader
    expect(e.x.tryAcquire(e.thr, l, 0, 1)).toBe(0); // a reader may not overtake it
    expect(word(l + L_NWAIT)).toBe(1);
    step(0);
  });
});

describe("cancel", () => {
  it("removes a waiter from the middle without granting anything", () => {
    const l = mutexLock();
    e.x.acquire(e.thr, l, 0, 1);
    const a = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    const b = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    const c = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    expect(step(e.x.cancel(e.thr, b, gen(b)))).toBe(0);
    expect(word(a + N_NEXT)).toBe(c);
    expect(word(l + L_NWAIT)).toBe(2);
  });

  it("of the head lets the compatible followers it blocked through", () => {
    const l = rwLock();
    const r = e.x.acquire(e.thr, l, 0, 1);
    const w = e.x.acquire(e.thr, l, 1, 1) & ~QUEUED_BIT;
    const r2 = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    const r3 = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    expect(step(e.x.cancel(e.thr, w, gen(w)))).toBe(2);
    expect(inbox()).toEqual([r2, r3]);
    expect(step(e.x.release(e.thr, r, gen(r)))).toBe(0);
  });

  it("loses to a grant that came first: the caller holds the lock", () => {
    const l = mutexLock();
    const a = e.x.acquire(e.thr, l, 0, 1);
    const b = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    e.x.release(e.thr, a, gen(a));
    expect(step(e.x.cancel(e.thr, b, gen(b)))).toBe(ERR_GRANTED);
    expect(state(b)).toBe(ST_HELD);
    expect(inbox()).toEqual([b]);
  });
});

describe("memory", () => {
  it("grows the memory for more nodes, then refuses at maxMemoryBytes without disturbing anyone", () => {
    e = new Engine({ debug: true, maxMemoryBytes: 2 * 65536 });
    const l = mutexLock();
    const first = e.x.acquire(e.thr, l, 0, 1);
    const queued: number[] = [];
    for (;;) {
      const r = e.x.acquire(e.thr, l, 0, 1);
      if (r < 0) {
        expect(r).toBe(ERR_NOMEM);
        break;
      }
      queued.push(r & ~QUEUED_BIT);
    }
    expect(queued.length).toBeGreaterThan(65536 / 32);
    expect(e.memory.buffer.byteLength).toBe(2 * 65536);
    e.validate();
    let held = first;
    for (const next of queued) {
      expect(e.x.release(e.thr, held, gen(held))).toBe(1);
      expect(inbox()).toEqual([next]);
      held = next;
    }
    e.x.release(e.thr, held, gen(held));
    e.validate();
  });

  it("frees a dropped lock and its table, and reuses the blocks", () => {
    const before = e.liveBlocks;
    const l = mutexLock();
    const n = e.x.acquire(e.thr, l, 0, 1);
    e.x.release(e.thr, n, gen(n));
    e.x.lockDrop(e.thr, l);
    step(0);
    const top = e.heapBytes;
    for (let i = 0; i < 1000; i++) e.x.lockDrop(e.thr, mutexLock());
    expect(e.heapBytes).toBe(top);
    // The nodes stay in the thread's cache (one refill); the lock and table are gone.
    expect(word(e.thr + R_NCACHE)).toBeGreaterThan(0);
    expect(e.liveBlocks).toBe(before + word(e.thr + R_NCACHE));
  });
});

describe("reap (owner death)", () => {
  it("releases the dead thread's holds, drops its waits, and marks the next grant abandoned", () => {
    const l = mutexLock();
    const dead = e.x.attach(4242, 1);
    const held = e.x.acquire(dead, l, 0, 1);
    const deadWait = e.x.acquire(dead, l, 0, 1) & ~QUEUED_BIT;
    const mine = e.x.acquire(e.thr, l, 0, 1) & ~QUEUED_BIT;
    expect(state(held)).toBe(ST_HELD);
    expect(e.x.markDead(4242)).toBe(1);
    expect(e.x.deadPending()).toBe(1);
    expect(step(e.x.reapAll(e.thr))).toBe(1);
    expect(state(deadWait)).not.toBe(ST_WAITING);
    expect(inbox()).toEqual([mine]);
    expect(ctl(mine) & CTL_ABANDONED).toBe(CTL_ABANDONED);
    expect(e.x.deadPending()).toBe(0);
    expect(e.x.markDead(4242)).toBe(0);
    // The record is recycled for the next thread that attaches.
    expect(e.x.attach(4243, 1)).toBe(dead);
  });

  it("takes over the internal word of a thread killed inside the engine", () => {
    e.x.markShared();
    const l = mutexLock();
    const dead = e.x.attach(31337, 1);
    e.x.acquire(dead, l, 0, 1);
    e.x.enter(dead, l); // killed while holding l's internal word
    expect(word(l + L_WORD)).toBe(dead);
    // Nobody waits for it: a live thread is told to retry, not blocked.
    expect(e.x.acquire(e.thr, l, 0, 1)).toBe(ERR_RETRY);
    expect(e.x.markDead(31337)).toBe(1);
    expect(e.x.acquire(e.thr, l, 0, 1)).toBe(ERR_RETRY);
    expect(e.x.reapAll(e.thr)).toBe(0);
    expect(word(l + L_WORD)).toBe(0);
    const n = e.x.acquire(e.thr, l, 0, 1);
    expect(n & QUEUED_BIT).toBe(0);
    expect(ctl(n) & CTL_ABANDONED).toBe(CTL_ABANDONED);
    step(0);
  });

  it("flags an immediate grant after a holder died with nobody waiting", () => {
    const l = mutexLock();
    const dead = e.x.attach(77, 1);
    e.x.acquire(dead, l, 0, 1);
    e.x.markDead(77);
    step(e.x.reapAll(e.thr));
    const n = e.x.acquire(e.thr, l, 0, 1);
    expect(ctl(n) & CTL_ABANDONED).toBe(CTL_ABANDONED);
    e.x.release(e.thr, n, gen(n));
    const n2 = e.x.acquire(e.thr, l, 0, 1);
    expect(ctl(n2) & CTL_ABANDONED).toBe(0);
    step(0);
  });
});

describe("the validator", () => {
  it("catches a corrupted hold mask, queue count and FIFO violation", () => {
    const l = mutexLock();
    const n = e.x.acquire(e.thr, l, 0, 1);
    e.x.acquire(e.thr, l, 0, 1);
    const i32 = e.refresh();
    i32[(l + L_NWAIT) >> 2] = 5;
    expect(() => e.validate()).toThrow(/NWAIT differs/);
    i32[(l + L_NWAIT) >> 2] = 1;
    i32[(l + L_MASK) >> 2] = 0;
    expect(() => e.validate()).toThrow(/MASK differs/);
    i32[(l + L_MASK) >> 2] = 1;
    e.validate();
    // Drop the hold behind the engine's back: the head is now grantable.
    i32[(n + N_WEIGHT) >> 2] = 0;
    expect(() => e.validate()).toThrow(/HELD\[m\] differs/);
  });
});
