// A worker of the sync suite (sync.js): one job per worker, by workerData.job.
// Workers start together on a GO word and report their own elapsed time.

import { parentPort, workerData } from "node:worker_threads";
import { Barrier, Condition, Event, Mutex } from "../../dist/bindings/index.js";

const d = workerData;
const ctl = new Int32Array(d.ctl); // 0: GO, 1: arrivals at the start line
Atomics.add(ctl, 1, 1);
Atomics.wait(ctl, 0, 0);

const jobs = {
  // Barrier rounds: async waits, blocking waits, or a hand-written Atomics barrier.
  async barrier() {
    const b = Barrier.from(d.obj);
    for (let i = 0; i < d.n; i++) await b.wait();
  },
  barrierSync() {
    const b = Barrier.from(d.obj);
    for (let i = 0; i < d.n; i++) b.waitSync();
  },
  atomicsBarrier() {
    // Sense-reversing counter barrier: words 0 count, 1 generation.
    const w = new Int32Array(d.words);
    for (let i = 0; i < d.n; i++) {
      const gen = Atomics.load(w, 1);
      if (Atomics.add(w, 0, 1) === d.parties - 1) {
        Atomics.store(w, 0, 0);
        Atomics.add(w, 1, 1);
        Atomics.notify(w, 1);
      } else {
        while (Atomics.load(w, 1) === gen) Atomics.wait(w, 1, gen);
      }
    }
  },
  // Event ping-pong: wait on a, clear it, set b.
  async event() {
    const a = Event.from(d.a);
    const b = Event.from(d.b);
    if (d.first) b.set();
    for (let i = 0; i < d.n; i++) {
      await a.wait();
      a.clear();
      b.set();
    }
  },
  async atomicsEvent() {
    // The same ping-pong on two raw words with waitAsync.
    const w = new Int32Array(d.words);
    const mine = d.first ? 1 : 0;
    const other = 1 - mine;
    const set = () => {
      Atomics.store(w, other, 1);
      Atomics.notify(w, other);
    };
    if (d.first) set();
    for (let i = 0; i < d.n; i++) {
      while (Atomics.load(w, mine) === 0) {
        const r = Atomics.waitAsync(w, mine, 0);
        if (r.async) await r.value;
      }
      Atomics.store(w, mine, 0);
      set();
    }
  },
  // Condition producer or consumer over a one-slot buffer (word 0: full).
  async cond() {
    const m = Mutex.from(d.mutex);
    const c = Condition.from(d.obj);
    const q = new Int32Array(d.words);
    for (let i = 0; i < d.n; i++) {
      const g = await m.acquire();
      while (q[0] === (d.producer ? 1 : 0)) await c.wait(g);
      q[0] = d.producer ? 1 : 0;
      c.notify();
      g.release();
    }
  },
  condSync() {
    const m = Mutex.from(d.mutex);
    const c = Condition.from(d.obj);
    const q = new Int32Array(d.words);
    for (let i = 0; i < d.n; i++) {
      const g = m.acquireSync();
      while (q[0] === (d.producer ? 1 : 0)) c.waitSync(g);
      q[0] = d.producer ? 1 : 0;
      c.notify();
      g.release();
    }
  },
  // Mutex handoffs between workers: blocking or async.
  mutexSync() {
    const m = Mutex.from(d.obj);
    for (let i = 0; i < d.n; i++) m.acquireSync().release();
  },
  async mutexAsync() {
    const m = Mutex.from(d.obj);
    for (let i = 0; i < d.n; i++) (await m.acquire()).release();
  },
};

// A pending Atomics.waitAsync does not keep a worker alive; this does.
const keep = setInterval(() => {}, 2 ** 30);
const t0 = performance.now();
await jobs[d.job]();
clearInterval(keep);
parentPort.postMessage({ ms: performance.now() - t0 });
