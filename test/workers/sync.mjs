// Worker side of test/sync-workers.test.ts: one role per worker (workerData.role),
// on sync objects shared by the main thread. Roles post { step } messages the
// test waits for; "go" messages from the test move a role on.

import "../../dist/bindings/debug.js";
import { parentPort, workerData } from "node:worker_threads";
import {
  Barrier,
  CapacityLimiter,
  Condition,
  CountdownEvent,
  Event,
  Latch,
  Mutex,
  Notify,
} from "../../dist/bindings/index.js";

const d = workerData;
const post = (m) => parentPort.postMessage(m);
const go = () => new Promise((resolve) => parentPort.once("message", resolve));
const log = d.log ? new Int32Array(d.log) : undefined;
// Appends v to the shared log: word 0 is the count.
const record = (v) => {
  const i = Atomics.add(log, 0, 1);
  Atomics.store(log, 1 + i, v);
};

const roles = {
  async event() {
    const e = Event.from(d.obj);
    post({ step: "ready" });
    if (d.sync) e.waitSync();
    else await e.wait();
    post({ step: "woke", at: performance.now() });
  },
  async countdown() {
    // Counts one task up, waits for the go, counts it down; then waits for every task.
    const c = CountdownEvent.from(d.obj);
    c.up();
    post({ step: "up" });
    await go();
    c.down();
    if (d.sync) c.waitSync();
    else await c.wait();
    post({ step: "zero", value: c.value });
  },
  async barrier() {
    const b = Barrier.from(d.obj);
    const results = [];
    for (let r = 0; r < d.rounds; r++) {
      const res = d.sync ? b.waitSync() : await b.wait();
      results.push(res);
      record(d.id * 1000 + res.phase);
    }
    post({ step: "done", results });
  },
  async "barrier-hang"() {
    const b = d.kind === "latch" ? Latch.from(d.obj) : Barrier.from(d.obj);
    post({ step: "ready" });
    try {
      if (d.kind === "latch") await b.arriveAndWait();
      else await b.wait();
      post({ step: "passed" });
    } catch (e) {
      post({ step: "failed", name: e.name });
    }
  },
  async condition() {
    // Producer (id 0) or consumer over a shared ring of `cap` slots: words 0 count, 1 produced, 2 consumed, 3 sum.
    const m = Mutex.from(d.mutex);
    const c = Condition.from(d.obj);
    const q = new Int32Array(d.queue);
    for (let i = 0; i < d.items; i++) {
      const g = d.sync ? m.acquireSync() : await m.acquire();
      if (d.producer) {
        while (q[0] >= d.cap) {
          if (d.sync) c.waitSync(g);
          else await c.wait(g);
        }
        q[0]++;
        q[1]++;
      } else {
        while (q[0] === 0) {
          if (d.sync) c.waitSync(g);
          else await c.wait(g);
        }
        q[0]--;
        q[2]++;
      }
      c.notifyAll();
      g.release();
    }
    post({ step: "done" });
  },
  async "cond-hang"() {
    const m = Mutex.from(d.mutex);
    const c = Condition.from(d.obj);
    const g = await m.acquire();
    post({ step: "ready" });
    await c.wait(g);
    post({ step: "woke" });
  },
  async limiter() {
    const c = CapacityLimiter.from(d.obj);
    const g = d.sync ? c.acquireSync({ borrower: d.borrower }) : await c.acquire({ borrower: d.borrower });
    post({ step: "holding", borrowers: c.borrowers, abandoned: g.abandoned });
    await go();
    g.release();
    post({ step: "released" });
  },
  async notify() {
    const n = Notify.from(d.obj);
    post({ step: "ready" });
    if (d.sync) n.notifiedSync();
    else await n.notified();
    record(d.id);
    post({ step: "woke" });
  },
  async fifo() {
    // Queues on a mutex held elsewhere, blocking or async, and logs its grant.
    const m = Mutex.from(d.obj);
    await go();
    if (d.sync) {
      const g = m.acquireSync();
      record(d.id);
      g.release();
    } else {
      const p = m.acquire();
      post({ step: "queued" });
      const g = await p;
      record(d.id);
      g.release();
    }
    post({ step: "done" });
  },
  async "self-deadlock"() {
    // An async request of this thread queued ahead: a blocking one behind it would wait for ever.
    const m = Mutex.from(d.obj);
    const p = m.acquire();
    let code;
    try {
      m.acquireSync();
    } catch (e) {
      code = e.code;
    }
    post({ step: "threw", code });
    (await p).release();
    post({ step: "done" });
  },
};

await roles[d.role]();
