// Nothing leaks from dead threads: cycle after cycle, a new worker makes locks
// of its own in a shared engine, holds and queues on them and on a shared
// Mutex, and ends by terminate(), process.exit() or a normal return, in turn.
// After each cycle the engine's liveBlocks must be back at its baseline, and
// its heapBytes (the high-water mark) may have grown in the first cycle only.
// The cycle itself is in test/workers/leak-cycle.mjs; for a long one-off run:
// node test/workers/leak-cycles.mjs 10000
//
// RINGLOCK_LEAK_CYCLES=n sets the number of cycles (split over the two tests).

import { describe, expect, it } from "vitest";
import { Engine, Mutex } from "../dist/bindings/index.js";
import { drainCaches, ENDINGS, runCycle, settle } from "./workers/leak-cycle.mjs";

const CYCLES = Number(process.env.RINGLOCK_LEAK_CYCLES ?? 200);
const HOW = Object.keys(ENDINGS) as (keyof typeof ENDINGS)[];

/** Runs `n` cycles in which the worker plays `role` on the shared mutex; returns what went wrong. */
async function cycles(n: number, role: "waiter" | "holder") {
  const engine = new Engine({ debug: true });
  const mutex = new Mutex({ engine });
  mutex.share();
  const drainer = new Mutex({ engine });
  drainer.share(); // pinned, like the shared mutex: both blocks stay from the baseline on
  await drainCaches(drainer);
  const baseline = { liveBlocks: engine.liveBlocks, heapBytes: engine.heapBytes };
  console.log(
    `leak (${role}, ${n} cycles): before: liveBlocks ${baseline.liveBlocks}, heapBytes ${baseline.heapBytes}`,
  );
  const problems: string[] = [];
  const leaks: string[] = [];
  const growth: string[] = [];
  const byHow: Record<string, number> = {};
  let heapAfterFirst = 0;
  let last = baseline;
  for (let cycle = 1; cycle <= n; cycle++) {
    const how = HOW[(cycle - 1) % HOW.length];
    const r = await runCycle({ engine, mutex, cycle, how, role });
    problems.push(...r.problems);
    try {
      engine.validate();
    } catch (e) {
      problems.push(`cycle ${cycle} (${how}): validate(): ${(e as Error).message}`);
    }
    const now = await settle(engine, drainer, baseline.liveBlocks);
    if (now.liveBlocks !== baseline.liveBlocks) {
      leaks.push(`cycle ${cycle} (${how}): liveBlocks ${now.liveBlocks} (+${now.liveBlocks - last.liveBlocks})`);
      byHow[how] = (byHow[how] ?? 0) + now.liveBlocks - last.liveBlocks;
    }
    if (cycle === 1) heapAfterFirst = now.heapBytes;
    else if (now.heapBytes !== heapAfterFirst) {
      growth.push(`cycle ${cycle} (${how}): heapBytes ${now.heapBytes} (after cycle 1: ${heapAfterFirst})`);
    }
    last = now;
  }
  console.log(
    `leak (${role}, ${n} cycles): after: liveBlocks ${last.liveBlocks} (baseline ${baseline.liveBlocks}), ` +
      `heapBytes ${last.heapBytes} (after cycle 1: ${heapAfterFirst}, baseline ${baseline.heapBytes}); ` +
      `blocks left per ending: ${JSON.stringify(byHow)}`,
  );
  return { problems, leaks, growth, baseline, last };
}

describe("nothing leaks from dead threads", () => {
  it("a worker that made locks of its own, held them, queued behind itself and waited for a lock the main thread holds, then ended by terminate(), process.exit() or return, leaves the engine as it found it", async () => {
    const r = await cycles(Math.ceil(CYCLES / 2), "waiter");
    expect.soft(r.problems).toEqual([]);
    expect.soft(r.leaks.slice(0, 6), `${r.leaks.length} cycles left liveBlocks off the baseline`).toEqual([]);
    expect.soft(r.growth.slice(0, 6), `${r.growth.length} cycles after the first grew heapBytes`).toEqual([]);
    expect(r.last.liveBlocks).toBe(r.baseline.liveBlocks);
  }, 120_000);

  it("a worker that died holding a lock the main thread waited for hands it over abandoned and leaves the engine as it found it", async () => {
    const r = await cycles(Math.floor(CYCLES / 2), "holder");
    expect.soft(r.problems).toEqual([]);
    expect.soft(r.leaks.slice(0, 6), `${r.leaks.length} cycles left liveBlocks off the baseline`).toEqual([]);
    expect.soft(r.growth.slice(0, 6), `${r.growth.length} cycles after the first grew heapBytes`).toEqual([]);
    expect(r.last.liveBlocks).toBe(r.baseline.liveBlocks);
  }, 120_000);
});
