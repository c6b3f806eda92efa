// Owner death by terminate(): a worker of one kind (argv: "node" or "web")
// holds a Mutex and waits on a second one; the main thread queues for the
// first and terminates the worker. The main thread's waiter must be granted
// with guard.abandoned === true, and the dead worker's wait must be dropped.

import { Mutex } from "../../dist/bindings/index.js";
import { done, equal, info, ok, sleep, within } from "./assert.mjs";
import { spawn } from "./threads.mjs";

const kind = (globalThis.Deno?.args ?? process.argv.slice(2))[0];
info.kind = kind;

await done(async () => {
  const held = new Mutex();
  const awaited = new Mutex();
  const mine = await awaited.acquire();
  const w = spawn(kind, "./death-worker.mjs");
  w.post({ held: held.share(), awaited: awaited.share() });
  equal(await within(10_000, w.next(), "the worker takes the mutex"), "holding", "worker holds the mutex");
  equal([held.locked, awaited.waiting], [true, 1], "held by the worker, which waits on the other");
  const next = held.acquire();
  await sleep(20);
  await w.terminate();
  const g = await within(10_000, next, "the main thread's waiter is granted after the holder's death");
  equal(g.abandoned, true, "the waiter granted after the death is told the lock was abandoned");
  g.release();
  const again = await held.acquire();
  equal(again.abandoned, false, "the next grant is not abandoned");
  again.release();
  // The dead worker's wait on the other mutex is dropped (reaped with its holds).
  const until = Date.now() + 10_000;
  while (awaited.waiting !== 0 && Date.now() < until) await sleep(5);
  equal(awaited.waiting, 0, "the dead worker's wait is dropped");
  mine.release();
  ok(!held.locked && !awaited.locked, "both mutexes free at the end");
  equal(held.query(), { held: [], pending: [] }, "query() of the recovered mutex");
});
