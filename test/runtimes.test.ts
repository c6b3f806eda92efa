// Deno and Bun: each script in test/runtimes/ runs as a child process under
// both runtimes (the npm packages `deno` and `bun`, dev dependencies) against
// the built package (dist/), and prints one JSON result line. A run passes when
// that line says ok, the process exits 0 by itself, and it exits promptly after
// its work is done (nothing, such as a leaked keep-alive timer, holds it open).

import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = "test/runtimes";

interface Runtime {
  name: "deno" | "bun";
  bin: string;
  /** The command line that runs a script file with arguments. */
  args(script: string, ...rest: string[]): string[];
  /** Worker kinds its runs cover (see KNOWN_BUGS for what is left out). */
  kinds: Kind[];
}

type Kind = "node" | "web";

const runtimes: Runtime[] = [
  {
    name: "deno",
    bin: `${root}node_modules/.bin/deno`,
    args: (script, ...rest) => ["run", "-A", script, ...rest],
    kinds: ["node", "web"],
  },
  {
    name: "bun",
    bin: `${root}node_modules/.bin/bun`,
    args: (script, ...rest) => [script, ...rest],
    kinds: ["node", "web"],
  },
];

/** Longest a run may take, and how soon after its result line it must have exited. */
const RUN_MS = 30_000;
const EXIT_AFTER_RESULT_MS = 5_000;

interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from the JSON result line to the process's exit. */
  exitAfterResult: number | undefined;
  result: { ok: boolean; runtime: string; version: string; checks: number; failures: string[] } | undefined;
}

function run(rt: Runtime, args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(rt.bin, args, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let resultAt: number | undefined;
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_MS);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (resultAt === undefined && /^\{"ok":/m.test(stdout)) resultAt = performance.now();
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split("\n").find((l) => l.startsWith('{"ok":'));
      resolve({
        code,
        signal,
        stdout,
        stderr,
        exitAfterResult: resultAt === undefined ? undefined : performance.now() - resultAt,
        result: line === undefined ? undefined : JSON.parse(line),
      });
    });
  });
}

/** Runs a script of test/runtimes/ and asserts that it passed and ended by itself, promptly. */
async function passes(rt: Runtime, script: string, ...rest: string[]): Promise<void> {
  const o = await run(rt, rt.args(`${dir}/${script}`, ...rest));
  const story = `${rt.name} ${script} ${rest.join(" ")}\nstdout:\n${o.stdout}\nstderr:\n${o.stderr}`;
  expect(o.result, story).toBeDefined();
  expect(o.result?.failures, story).toEqual([]);
  expect(o.result?.ok, story).toBe(true);
  expect(o.result?.runtime, story).toBe(rt.name);
  expect(o.result?.checks, story).toBeGreaterThan(0);
  expect([o.code, o.signal], story).toEqual([0, null]);
  expect(o.exitAfterResult, story).toBeLessThan(EXIT_AFTER_RESULT_MS);
}

describe.each(runtimes)("$name", (rt) => {
  beforeAll(() => {
    const version = execFileSync(rt.bin, ["--version"], { encoding: "utf8" }).trim();
    console.log(`${rt.name} --version: ${version.split("\n").join("; ")}`);
  });

  it("passes the conformance cross-section (FIFO, try-acquire, timeout, abort, weights, RWLock, IS/IX/S/SIX/X, guards, query)", async () => {
    await passes(rt, "conformance.mjs");
  });

  // Regression: Bun announces Web Workers through process 'worker' too, as
  // EventTargets without once(); the death hook threw an uncaught TypeError.
  it("spawns a Web Worker after an engine exists without an uncaught error", async () => {
    await passes(rt, "web-worker-event.mjs");
  });

  it("shares named locks and `locks` with workers spawned after import, with no share()/from()", async () => {
    await passes(rt, "named.mjs");
  });

  describe.each(rt.kinds)("with %s workers", (kind) => {
    it("excludes conflicting modes across 4 workers (Mutex, RWLock, Semaphore(2), IS/IX/S/SIX/X), and shares the shared ones", async () => {
      await passes(rt, "exclusion.mjs", kind);
    });

    it("keeps a waiting worker alive until it is granted, and a waiting main thread too", async () => {
      await passes(rt, "liveness.mjs", kind);
    });

    it("grants the waiter of a terminated holder with abandoned === true, and drops the dead worker's waits", async () => {
      await passes(rt, "death.mjs", kind);
    });

    it("gives every thread a distinct Engine.threadId and reports it in query()", async () => {
      await passes(rt, "ids.mjs", kind);
    });
  });

  it("runs examples/demo.js to the end", async () => {
    const o = await run(rt, rt.args("examples/demo.js"));
    const story = `stdout:\n${o.stdout}\nstderr:\n${o.stderr}`;
    expect([o.code, o.signal], story).toEqual([0, null]);
    expect(o.stdout, story).toContain("whenAcquirable: the mutex is free again");
    expect(o.stdout, story).toContain("all released; S held now: 0");
  });

  it("runs examples/workers.js: every worker saw the setting the main thread wrote, and the total is correct", async () => {
    const o = await run(rt, rt.args("examples/workers.js"));
    const story = `stdout:\n${o.stdout}\nstderr:\n${o.stderr}`;
    expect([o.code, o.signal], story).toEqual([0, null]);
    const settings = o.stdout.match(/saw setting=\d+/g);
    expect(settings, story).toEqual(["saw setting=1", "saw setting=1", "saw setting=1", "saw setting=1"]);
    expect(o.stdout, story).toMatch(/^ {2}correct, \d+ ms$/m);
  });
});
