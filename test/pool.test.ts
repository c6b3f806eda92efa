// A real client: a tinypool worker pool whose tasks share ringlock locks, with
// tasks aborted at random (tinypool terminates the worker that runs an aborted
// task, wherever it is: inside a critical section, queued for a lock, or in
// the middle of an engine call).
//
// The scenario runs in a Node process of its own (test/workers/pool-task.mjs,
// both the driver and the pool's task module): its main thread creates the
// engine and the locks, runs the pool and takes the locks itself now and then,
// so a wedge can be a synchronous deadlock of that thread, which no timer in
// it would report. This test gives it a deadline, kills it past that, and
// reports the last thing it said. The driver checks everything itself and
// prints one "result {json}" line; see pool-task.mjs for the checks.
//
// Environment: RINGLOCK_SEED replays a run; RINGLOCK_POOL_TASKS (default 300)
// sets the number of tasks; RINGLOCK_POOL_ABORT (default 0.3) the fraction of
// tasks aborted, 0 for none.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SEED = Number(process.env.RINGLOCK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TASKS = Number(process.env.RINGLOCK_POOL_TASKS ?? 300);
const ABORT = Number(process.env.RINGLOCK_POOL_ABORT ?? 0.3);
console.log(
  `pool.test.ts seed: ${SEED} (replay with RINGLOCK_SEED=${SEED}); ${TASKS} tasks (RINGLOCK_POOL_TASKS), ` +
    `abort rate ${ABORT} (RINGLOCK_POOL_ABORT)`,
);

// The driver's own watchdogs add up to about a minute (30 s for the tasks,
// more for more than 750 of them, 10 s per wind-down step, 10 s for the locks
// to come back idle); past DEADLINE_MS, or once it has not printed its
// heartbeat for SILENT_MS, it is stuck where no timer of its own can fire: its
// main thread is blocked.
const DEADLINE_MS = Math.max(30_000, TASKS * 40) + 50_000;
const SILENT_MS = 10_000;
const TEST_TIMEOUT_MS = DEADLINE_MS + 20_000;

interface PoolResult {
  seed: number;
  tasks: number;
  threads: number;
  completed: number;
  aborted: number;
  collateral: number;
  lateAborts: number;
  abortsAt: { queued: number; holding: number; waiting: number; neither: number };
  grants: number;
  abandoned: number;
  abandonedAtEnd: number;
  timeouts: number;
  tryFails: number;
  sections: number;
  nested: number;
  maxInside: number[];
  leftovers: { swept: number[]; met: number[]; end: number[] };
  violations: number;
  mainOps: number;
  workers: number;
  liveBlocks?: { before: number; after: number; threadRecords: number; cached: number };
  ms: number;
  failures: string[];
}

function runDriver(seed: number, tasks: number, abortRate: number) {
  const script = fileURLToPath(new URL("./workers/pool-task.mjs", import.meta.url));
  return new Promise<{ code: number | null; hung?: string; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [script, String(seed), String(tasks), String(abortRate)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const started = Date.now();
    let heard = started;
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      heard = Date.now();
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    let hung: string | undefined;
    const timer = setInterval(() => {
      const now = Date.now();
      if (now - heard > SILENT_MS) hung = `its main thread stopped: no heartbeat for ${SILENT_MS} ms`;
      else if (now - started > DEADLINE_MS) hung = `it was still running after ${DEADLINE_MS} ms`;
      if (hung !== undefined) child.kill("SIGKILL");
    }, 500);
    child.once("close", (code) => {
      clearInterval(timer);
      resolve({ code, hung, stdout: stdout.replaceAll("heartbeat\n", ""), stderr });
    });
  });
}

describe("a real client: a worker pool whose tasks share ringlock locks", { timeout: TEST_TIMEOUT_MS }, () => {
  it("wedges nothing when tasks are aborted at random, each abort terminating the worker that runs it", async () => {
    expect(Number.isInteger(TASKS) && TASKS > 0).toBe(true);
    expect(ABORT >= 0 && ABORT <= 1).toBe(true);
    const run = await runDriver(SEED, TASKS, ABORT);
    const lines = run.stdout.trim().split("\n");
    const last = [...lines].reverse().find((l) => l.startsWith("result "));
    const result: PoolResult | undefined = last === undefined ? undefined : JSON.parse(last.slice(7));
    if (result !== undefined) {
      const a = result.abortsAt;
      const left = (k: keyof PoolResult["leftovers"]) => result.leftovers[k].reduce((x, y) => x + y, 0);
      console.log(
        `pool.test.ts (seed ${SEED}): ${result.tasks} tasks run on ${result.threads} threads in ${result.ms} ms: ` +
          `${result.completed} completed, ${result.aborted} aborted, ${result.collateral} killed with another ` +
          `task's abort (tinypool race) ` +
          `(at the abort: ${a.holding} holding, ${a.waiting} waiting, ${a.neither} neither, ${a.queued} still queued; ` +
          `${result.lateAborts} aborts came after the task had finished); ${result.workers} workers; ` +
          `${result.grants} grants, ${result.abandoned} abandoned grants (${result.abandonedAtEnd} of them once the pool ` +
          `was gone); ${result.timeouts} timeouts, ` +
          `${result.tryFails} failed tryAcquires, ${result.nested} nested acquires, ${result.mainOps} operations ` +
          `by the main thread; most holders inside at once ${result.maxInside}; sections left by dead holders ` +
          `${left("swept") + left("met") + left("end")}; liveBlocks ${JSON.stringify(result.liveBlocks)}`,
      );
    }
    const failures = result?.failures ?? [
      run.hung !== undefined ? `hang: the driver was killed: ${run.hung}` : "the driver printed no result",
      `its last output: ${lines.slice(-5).join(" | ")}`,
    ];
    if (result !== undefined && run.hung !== undefined) {
      failures.push(`the driver printed its result but did not exit by itself (${run.hung})`);
    }
    expect({ failures, code: run.code, stderr: run.stderr }).toEqual({ failures: [], code: 0, stderr: "" });
    const r = result as PoolResult;
    expect(r.completed + r.aborted + r.collateral).toBe(TASKS);
    expect(r.violations).toBe(0);
    if (ABORT === 0) expect([r.aborted, r.collateral, r.abandoned]).toEqual([0, 0, 0]);
    else if (TASKS >= 100) expect(r.aborted).toBeGreaterThan(0);
  });
});
