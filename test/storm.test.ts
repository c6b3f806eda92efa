// Real terminate() storms: workers hammer four shared locks while the main
// thread uses them too and kills a worker every few milliseconds, by
// worker.terminate() or by making it call process.exit() at a random point of
// its work, starting a replacement each time. Afterwards every lock must be
// idle, exclusive all along, usable, and the engine valid with every block
// back. The storm runs in a child process (test/workers/storm.mjs, which is
// also the workers' script): a wedged engine can block the thread that reaps
// dead workers, and only a watchdog in another process can then end the run.
//
// RINGLOCK_STORM_SEEDS=a,b,c replays given seeds; RINGLOCK_STORM_KILLS=n sets
// the kills per seed (0: the same traffic for a second, with no kills).

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SEEDS = process.env.RINGLOCK_STORM_SEEDS
  ? process.env.RINGLOCK_STORM_SEEDS.split(",").map((s) => Number(s.trim()))
  : Array.from({ length: 3 }, () => Math.floor(Math.random() * 2 ** 31));
const KILLS = Number(process.env.RINGLOCK_STORM_KILLS ?? 200);
/** No output from the storm for this long is a hang (it reports progress every 10 kills). */
const SILENT_MS = 45_000;
/** The storm's own hang guards fire after 20 s; a whole run past this is a hang too. */
const TOTAL_MS = 90_000 + 100 * KILLS;

const SCRIPT = fileURLToPath(new URL("./workers/storm.mjs", import.meta.url));

interface Report {
  seed: number;
  kills: number;
  terminated: number;
  exited: number;
  bootKills: number;
  workers: number;
  killMs: number;
  ms: number;
  grants: number;
  timeouts: number;
  aborts: number;
  abandoned: number;
  violations: number;
  errors: number;
  unchecked: number;
  sections: number;
  tryMisses: number;
  whens: number;
  queries: number;
  froms: number;
  errorMessages: string[];
  inside: (number | string)[];
  idle: Record<string, Record<string, unknown>>;
  finalAcquire: Record<string, string>;
  validate: string;
  baseline: { liveBlocks: number; heapBytes: number };
  after: { liveBlocks: number; heapBytes: number };
}

/**
 * Runs one storm; resolves with its report, or rejects with "hang: ..." when
 * the storm goes silent, runs too long, or reports a hang of its own.
 */
function storm(seed: number, kills: number): Promise<Report> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, String(seed), String(kills)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let killedFor: string | undefined;
    const kill = (why: string) => {
      killedFor ??= why;
      child.kill("SIGKILL");
    };
    let silent = setTimeout(() => kill(`no output for ${SILENT_MS} ms`), SILENT_MS);
    const total = setTimeout(() => kill(`not done after ${TOTAL_MS} ms`), TOTAL_MS);
    child.stdout.on("data", (d) => {
      stdout += d;
      clearTimeout(silent);
      silent = setTimeout(() => kill(`no output for ${SILENT_MS} ms`), SILENT_MS);
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.once("close", (code, signal) => {
      clearTimeout(silent);
      clearTimeout(total);
      const lines = stdout.trim().split("\n");
      // The last lines of progress (the report line, if any, is shown parsed).
      const tail = lines
        .filter((l) => !l.startsWith("{"))
        .slice(-4)
        .join("\n");
      if (killedFor !== undefined) {
        reject(
          new Error(
            `hang: storm seed=${seed} kills=${kills} killed by the watchdog (${killedFor}; its event loop is blocked, ` +
              `or every thread is waiting).\nLast output:\n${tail}\nstderr:\n${stderr.slice(-2000)}`,
          ),
        );
        return;
      }
      let last: Record<string, unknown> | undefined;
      try {
        last = JSON.parse(lines.at(-1) ?? "");
      } catch {
        last = undefined;
      }
      if (code !== 0 || last === undefined || "failed" in last) {
        const why = last !== undefined && "failed" in last ? String(last.failed) : `exit code ${code} ${signal ?? ""}`;
        reject(
          new Error(
            `${why.startsWith("hang:") ? "" : "storm failed: "}${why} (seed=${seed} kills=${kills})\n` +
              `state: ${JSON.stringify(last?.state ?? null)}\nLast output:\n${tail}\nstderr:\n${stderr.slice(-2000)}`,
          ),
        );
        return;
      }
      resolve(last as unknown as Report);
    });
  });
}

const IDLE = {
  mutex: { held: [], pending: [], waiting: 0, locked: false },
  rw: { held: [], pending: [], waiting: 0, readers: 0, writing: false },
  sem: { held: [], pending: [], waiting: 0, available: 3 },
  mgl: { held: [], pending: [], waiting: 0, heldPerMode: [0, 0, 0, 0, 0] },
};

describe("a storm of worker.terminate() and process.exit() on workers hammering shared locks", () => {
  it.each(SEEDS)(
    "leaves every lock idle and usable, never lets conflicting holders in together, and frees every block (seed %i)",
    async (seed) => {
      console.log(`storm seed=${seed} kills=${KILLS} (replay with RINGLOCK_STORM_SEEDS=${seed})`);
      const r = await storm(seed, KILLS);
      console.log(
        `storm seed=${seed}: ${r.terminated} terminate() + ${r.exited} process.exit() kills ` +
          `(${r.bootKills} during start-up) over ${r.workers} workers in ${r.killMs} ms (${r.ms} ms in all); ` +
          `${r.grants} grants, ${r.timeouts} timeouts, ${r.aborts} aborts, ${r.abandoned} abandoned grants, ` +
          `${r.tryMisses} tryAcquire misses, ${r.whens} whenAcquirable, ${r.queries} query(), ${r.froms} from(); ` +
          `liveBlocks ${r.baseline.liveBlocks} -> ${r.after.liveBlocks}, heapBytes ${r.baseline.heapBytes} -> ${r.after.heapBytes}`,
      );
      expect(r.terminated + r.exited).toBe(KILLS);
      // Soft: one run reports every check that fails, not just the first.
      expect.soft(r.grants).toBeGreaterThan(0);
      expect.soft(r.timeouts).toBeGreaterThan(0);
      expect.soft(r.aborts).toBeGreaterThan(0);
      if (KILLS >= 50) expect.soft(r.abandoned, "grants that reported an abandoned lock").toBeGreaterThan(0);
      // Nothing unexpected happened in any thread: no stray rejection, bad guard, bad snapshot, crash or exit code.
      expect.soft(r.errorMessages).toEqual([]);
      expect.soft(r.errors, "unexpected errors counted").toBe(0);
      // Conflicting holders were never inside together, and every section could be checked.
      expect.soft(r.violations, "exclusion violations").toBe(0);
      expect.soft(r.unchecked, "sections with no stable snapshot to check").toBe(0);
      expect.soft(r.inside, "holders still announced inside each lock").toEqual([0, 0, 0, 0]);
      // Idle as every getter and query() see it, fully acquirable, and valid.
      expect.soft(r.idle).toEqual(IDLE);
      expect.soft(r.finalAcquire).toEqual({ mutex: "granted", rw: "granted", sem: "granted", mgl: "granted" });
      expect.soft(r.validate, "engine.validate()").toBe("ok");
      // Every block of the dead and of the stopped workers came back.
      expect(
        r.after.liveBlocks,
        `liveBlocks after all ${r.workers} workers ended (baseline ${r.baseline.liveBlocks}, before any worker started)`,
      ).toBe(r.baseline.liveBlocks);
    },
    TOTAL_MS + 10_000,
  );
});
