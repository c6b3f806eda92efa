// Child-process script: two workers that both sit in query() on a Mutex with
// a long queue are terminated together, `trials` times. Whichever exit is
// handled first is reaped while the other, also dead, may still hold the
// lock's internal word. Prints "ok <trials>" and ends by itself; a wedge
// shows as a hang, which the parent test turns into a failure.
//
// argv: [trials]

import "../../dist/bindings/debug.js";
import { Worker } from "node:worker_threads";
import { Engine, Mutex } from "../../dist/bindings/index.js";

const trials = Number(process.argv[2] ?? 10);
const engine = new Engine({ debug: true });
const mutex = new Mutex({ engine });
const held = await mutex.acquire();
const waiters = Array.from({ length: 2000 }, () => mutex.acquire().then((g) => g.release()));
const shared = mutex.share();

async function start() {
  const w = new Worker(new URL("./query-loop.mjs", import.meta.url), { workerData: { lock: shared } });
  await new Promise((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
  });
  return w;
}

for (let t = 0; t < trials; t++) {
  const [a, b] = await Promise.all([start(), start()]);
  await new Promise((resolve) => setTimeout(resolve, 5));
  await Promise.all([a.terminate(), b.terminate()]);
}
held.release();
await Promise.all(waiters);
engine.validate();
console.log(`ok ${trials}`);
