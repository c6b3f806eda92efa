// Thread identity (argv: "node" or "web"): Engine.threadId is distinct in the
// main thread and in two workers, and query() reports the holder's and each
// waiter's threadId.

import { Engine, Mutex } from "../../dist/bindings/index.js";
import { done, equal, info, ok, sleep, within } from "./assert.mjs";
import { lifeLockSettled, spawn } from "./threads.mjs";

const kind = (globalThis.Deno?.args ?? process.argv.slice(2))[0];
info.kind = kind;

await done(async () => {
  const m = new Mutex();
  const workers = [spawn(kind, "./id-worker.mjs"), spawn(kind, "./id-worker.mjs")];
  for (const w of workers) w.post(m.share());
  const ids = await within(10_000, Promise.all(workers.map((w) => w.next())), "the workers report their ids");
  const main = Engine.threadId;
  info.ids = [main, ...ids];
  equal(new Set([main, ...ids]).size, 3, "Engine.threadId is distinct per thread");
  ok(
    [main, ...ids].every((id) => Number.isInteger(id) && id >= 0),
    "thread ids are integers",
  );
  if (kind === "node") {
    equal(
      ids,
      workers.map((w) => w.worker.threadId),
      "a worker_threads worker's Engine.threadId is its threadId",
    );
  }
  // The first worker holds the mutex; the main thread and the second worker wait.
  workers[0].post("take");
  equal(await within(10_000, workers[0].next(), "worker 0 takes the mutex"), "holding", "worker 0 holds");
  const mine = m.acquire();
  workers[1].post("take");
  const until = Date.now() + 5_000;
  while (m.waiting < 2 && Date.now() < until) await sleep(2);
  const q = m.query();
  equal(
    [q.held.map((e) => e.threadId), q.pending.map((e) => e.threadId)],
    [[ids[0]], [main, ids[1]]],
    "query() names the holder's thread and each waiter's, in queue order",
  );
  workers[0].post("release");
  const g = await within(10_000, mine, "the main thread is granted");
  equal(
    m.query().held.map((e) => e.threadId),
    [main],
    "query() names the main thread once it holds",
  );
  g.release();
  equal(await within(10_000, workers[1].next(), "worker 1 takes the mutex"), "holding", "worker 1 holds");
  equal(
    m.query().held.map((e) => e.threadId),
    [ids[1]],
    "then worker 1",
  );
  // Worker 0 has closed (web): let its end be seen before worker 1 closes too
  // (two Web Workers closing together can hit a Deno bug, see threads.mjs).
  if (kind === "web") await lifeLockSettled(ids[0]);
  workers[1].post("release");
  for (const w of workers) {
    if (w.exited) equal(await within(10_000, w.exited, "a worker exits"), 0, "workers exit by themselves");
    else equal(await within(10_000, w.next(), "a worker finishes"), "finished", "workers finish");
  }
  equal(m.query(), { held: [], pending: [] }, "query() of the free mutex");
});
