// Bug repro (Bun): ringlock's process 'worker' hook (bindings/deaths.ts,
// watchWorkers) calls worker.once("exit", ...), but Bun fires process 'worker'
// for Web Workers too, and a Web Worker is an EventTarget with no once():
// spawning any Web Worker once an engine exists throws an uncaught TypeError
// ("worker.once is not a function") from the event handler: the script runs
// on, but the process exits with code 1, and the Web Worker's death is never
// noticed (its threadId, which Bun does give, is never reaped).
// Run: bun test/runtimes/repro-bun-web-worker-event.mjs
// Expected: prints {"ok":true,...} and exits 0. Got (Bun 1.4.4): that line, a TypeError on stderr, exit code 1.

import { Mutex } from "../../dist/bindings/index.js";
import { done, equal } from "./assert.mjs";

await done(async () => {
  const m = new Mutex();
  const g = await m.acquire();
  const w = new Worker(new URL("./hello-worker.mjs", import.meta.url), { type: "module" });
  const got = await new Promise((r) => {
    w.onmessage = (e) => r(e.data);
  });
  equal(got, "hello", "the Web Worker ran");
  g.release();
});
