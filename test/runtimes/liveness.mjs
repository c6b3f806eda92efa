// Liveness (argv: "node" or "web"):
// - a worker awaiting a Mutex held by the main thread stays alive until it is
//   granted, then finishes (a worker_threads worker exits by itself, code 0);
// - the main thread awaiting a Mutex held by an unref'd worker_threads worker
//   stays alive until granted (only ringlock's wait keeps it alive);
// - whenAcquirable of an unshared lock keeps the thread alive (the Deno bug);
// and the script, its work done, ends by itself (runtimes.test.ts checks how soon).

import { Mutex } from "../../dist/bindings/index.js";
import { done, equal, info, sleep, within } from "./assert.mjs";
import { spawn } from "./threads.mjs";

const kind = (globalThis.Deno?.args ?? process.argv.slice(2))[0];
info.kind = kind;

await done(async () => {
  // A worker that waits for the main thread.
  {
    const m = new Mutex();
    const g = await m.acquire();
    const w = spawn(kind, "./wait-worker.mjs");
    let exited = false;
    w.exited?.then(() => {
      exited = true;
    });
    w.post({ lock: m.share(), hold: 0 });
    equal(await within(10_000, w.next(), "the worker asks"), "asking", "the worker asks for the mutex");
    const until = Date.now() + 5_000;
    while (m.waiting === 0 && Date.now() < until) await sleep(2);
    equal(m.waiting, 1, "the worker's request is queued");
    await sleep(200);
    equal(exited, false, "the waiting worker is still alive");
    g.release();
    equal(await within(10_000, w.next(), "the worker is granted"), "granted", "the worker is granted and says so");
    if (w.exited) equal(await within(10_000, w.exited, "the worker exits"), 0, "then exits by itself, code 0");
    else equal(await within(10_000, w.next(), "the worker finishes"), "finished", "then finishes");
  }

  // The main thread waits for a worker that does not keep the process alive.
  if (kind === "node") {
    const m = new Mutex();
    const w = spawn(kind, "./wait-worker.mjs");
    w.post({ lock: m.share(), hold: 300 });
    equal(await within(10_000, w.next(), "the worker asks"), "asking", "the holder asks");
    equal(await within(10_000, w.next(), "the worker is granted"), "granted", "the worker holds the mutex");
    w.worker.unref();
    const g = await within(10_000, m.acquire(), "the main thread is granted");
    equal(g.abandoned, false, "the main thread is granted by the worker's release");
    g.release();
  }

  // whenAcquirable on an unshared lock (examples/demo.js hung here in Deno).
  {
    const m = new Mutex();
    const g = await m.acquire();
    const free = m.whenAcquirable();
    queueMicrotask(() => g.release());
    await within(10_000, free, "whenAcquirable resolves");
    equal(m.locked, false, "whenAcquirable resolved once the mutex was free");
  }
});
