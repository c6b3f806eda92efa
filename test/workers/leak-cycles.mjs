// A long one-off run of the leak cycles of test/leak.test.ts:
//
//   node test/workers/leak-cycles.mjs [cycles = 1000]
//
// Runs that many cycles (each a new worker that makes, holds and awaits locks
// in a shared engine and ends by terminate(), process.exit() or return, in
// turn; the worker waits for the shared Mutex in even cycles and holds it in
// odd ones), prints liveBlocks and heapBytes before, every 1000 cycles and
// after, and exits 1 if anything was left behind or went wrong.

import "../../dist/bindings/debug.js";
import { Engine, Mutex } from "../../dist/bindings/index.js";
import { drainCaches, ENDINGS, runCycle, settle } from "./leak-cycle.mjs";

const n = Number(process.argv[2] ?? 1000);
const HOW = Object.keys(ENDINGS);
const engine = new Engine({ debug: true });
const mutex = new Mutex({ engine });
mutex.share();
const drainer = new Mutex({ engine });
drainer.share();
await drainCaches(drainer);
const before = { liveBlocks: engine.liveBlocks, heapBytes: engine.heapBytes };
console.log(`before: liveBlocks ${before.liveBlocks}, heapBytes ${before.heapBytes}`);
const problems = [];
let firstHeap;
const t0 = Date.now();
for (let cycle = 1; cycle <= n; cycle++) {
  const r = await runCycle({
    engine,
    mutex,
    cycle,
    how: HOW[(cycle - 1) % HOW.length],
    role: cycle % 2 ? "holder" : "waiter",
  });
  problems.push(...r.problems);
  if (cycle === 1) firstHeap = (await settle(engine, drainer, before.liveBlocks)).heapBytes;
  if (cycle % 1000 === 0 && cycle < n) {
    const now = await settle(engine, drainer, before.liveBlocks);
    console.log(
      `after ${cycle} cycles (${Math.round((Date.now() - t0) / 1000)} s): liveBlocks ${now.liveBlocks}, heapBytes ${now.heapBytes}`,
    );
  }
}
engine.validate();
const after = await settle(engine, drainer, before.liveBlocks);
console.log(
  `after ${n} cycles (${Math.round((Date.now() - t0) / 1000)} s): liveBlocks ${after.liveBlocks} (before ${before.liveBlocks}), ` +
    `heapBytes ${after.heapBytes} (before ${before.heapBytes}, after cycle 1 ${firstHeap})`,
);
if (problems.length > 0) console.log(`problems (${problems.length}):\n${problems.slice(0, 20).join("\n")}`);
const ok = problems.length === 0 && after.liveBlocks === before.liveBlocks && after.heapBytes === firstHeap;
console.log(ok ? "ok: nothing left behind" : "LEAK or problems: see above");
process.exit(ok ? 0 : 1);
