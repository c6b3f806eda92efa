// Worker of the sync storm (test/sync-workers.test.ts): random waits and state
// changes on shared sync objects, every wait with a short timeout, until the
// test terminates it. Word 0 of `stats`: the mutex's holder inside (exclusion check);
// 1: violations; 2: operations done; 3: errors that are none of the expected ones.

import { workerData } from "node:worker_threads";
import { Barrier, CapacityLimiter, Condition, Event, Notify, TimeoutError } from "../../dist/bindings/index.js";
import { rng } from "./common.mjs";

const d = workerData;
const e = Event.from(d.event);
const n = Notify.from(d.notify);
const c = CapacityLimiter.from(d.limiter);
const b = Barrier.from(d.barrier);
const cond = Condition.from(d.cond);
const m = cond.mutex;
const s = new Int32Array(d.stats);
const rand = rng(d.seed);

const expected = (err) =>
  err instanceof TimeoutError || err?.name === "BrokenBarrierError" || err?.code === "ERR_RINGLOCK_BORROWER";

// Takes the mutex's owner word: free, or left by a holder that died inside
// (then this grant is abandoned); anything else is a second holder.
function enter(g) {
  if (g.abandoned) Atomics.store(s, 0, 0);
  if (Atomics.compareExchange(s, 0, 0, d.seed) !== 0) Atomics.add(s, 1, 1);
}

async function step() {
  const r = rand();
  if (r < 0.1) e.set();
  else if (r < 0.15) e.clear();
  else if (r < 0.25) await e.wait({ timeout: 3 });
  else if (r < 0.3) n.notifyOne();
  else if (r < 0.33) n.notifyAll();
  else if (r < 0.43) await n.notified({ timeout: 3 });
  else if (r < 0.53) {
    const g = await c.acquire({ timeout: 3, borrower: rand() < 0.5 ? `b${rand.int(4)}` : undefined });
    await new Promise((res) => setTimeout(res, rand.int(2)));
    g.release();
  } else if (r < 0.55) c.total = 1 + rand.int(3);
  else if (r < 0.75) {
    const g = await m.acquire({ timeout: 20 });
    enter(g);
    if (rand() < 0.5) {
      Atomics.store(s, 0, 0);
      try {
        await cond.wait(g, { timeout: 3 });
      } finally {
        enter(g); // whether notified or timed out, the mutex is held again
      }
    }
    cond.notify(rand.int(3));
    Atomics.store(s, 0, 0);
    g.release();
  } else if (r < 0.95) await b.wait({ timeout: 3 });
  else b.reset();
}

for (;;) {
  try {
    await step();
  } catch (err) {
    if (!expected(err)) {
      Atomics.add(s, 3, 1);
      console.error(err);
    }
  }
  Atomics.add(s, 2, 1);
}
