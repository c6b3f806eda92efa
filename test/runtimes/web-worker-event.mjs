// Regression (Bun): Bun fires process 'worker' for Web Workers too, and a Web
// Worker is an EventTarget with no once(); ringlock's death hook called
// worker.once("exit") and threw an uncaught TypeError (exit code 1), and the
// Web Worker's death was never noticed. Now it listens for 'close'.
// Run: bun test/runtimes/web-worker-event.mjs (prints {"ok":true,...}, exits 0).

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
