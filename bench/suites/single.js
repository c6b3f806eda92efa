// Single-thread suite: every library in one process, one event loop, cells of
// a scenario interleaved (rep r runs every cell once, in an order rotated by r),
// after warm-up and calibration.
//
//   node bench/suites/single.js [--quick] [--reps=N] [--only=1a,3b] [--libs=id,id]

import * as gen from "../lib/codegen.js";
import { mergeFairness, overtakes, rng, summarize } from "../lib/stats.js";
import { fmtNs, list, now, options, progress, send, watchdog } from "../lib/util.js";
import { PEERS } from "../peers/index.js";
import { SCENARIOS, SECTIONS, SEM_LIMIT, TASKS, TIMEOUT_MS } from "../scenarios.js";

const opt = options();
const quick = opt.quick === true;
const REPS = Number(opt.reps ?? (quick ? 3 : 7));
const TARGET_MS = quick ? 8 : 40; // per measurement, for the loop scenarios
const WARM_MS = quick ? 40 : 200; // warm-up per loop cell
const WARM_RUNS = quick ? 1 : 2; // warm-up runs per fixed-size cell
const K = quick ? 100 : SECTIONS; // sections per task
const CELL_TIMEOUT = quick ? 15_000 : 60_000;
const only = list(opt.only);
const libs = list(opt.libs);
// Off by default: on this class of machine a forced full GC makes the next
// scavenges slow (fresh young-generation pages are faulted back in), which
// punishes whichever cell runs right after it. Interleaving spreads ordinary
// GC cost evenly instead. --gc turns it on (needs --expose-gc).
const gc = opt.gc === true && globalThis.gc ? globalThis.gc : () => {};

// The request mixes, fixed by seed so every library sees the same sequence.
function mix(seed, pick) {
  const r = rng(seed);
  return Uint8Array.from({ length: TASKS * K }, () => pick(r()));
}
const MIXES = {
  rw: () => mix(9010, (x) => (x < 0.1 ? 1 : 0)),
  weighted: () => mix(4242, (x) => 1 + Math.floor(x * SEM_LIMIT)),
  modes: () => mix(5151, (x) => (x < 0.45 ? 0 : x < 0.85 ? 1 : x < 0.93 ? 2 : x < 0.95 ? 3 : 4)),
};

function specOf(peer, cap) {
  for (const c of Array.isArray(cap) ? cap : [cap]) if (peer[c] !== undefined) return peer[c];
  return undefined;
}

function buildCells(sc) {
  const cells = [];
  for (const peer of PEERS) {
    if (peer.kind === "floor" && !sc.floors) continue;
    if (libs && !libs.includes(peer.id) && peer.id !== sc.ref) continue;
    const spec = specOf(peer, sc.cap);
    if (spec === undefined) continue;
    const name = `${sc.id}-${peer.id}`;
    const cell = {
      scenario: sc.id,
      lib: peer.id,
      name: spec.label ? `${peer.name}: ${spec.label}` : peer.name,
      kind: peer.kind,
      version: peer.version,
      samples: [],
      fairness: undefined,
      violations: 0,
      error: undefined,
    };
    switch (sc.type) {
      case "uncontended":
      case "callback":
      case "try": {
        const fn =
          sc.type === "uncontended"
            ? gen.uncontended(name, spec)
            : sc.type === "callback"
              ? gen.callback(name, spec)
              : gen.tryLoop(name, spec);
        cell.ops = 0;
        cell.measure = async (n) => {
          const L = spec.make();
          const t0 = now();
          await fn(L, n);
          return { ns: ((now() - t0) * 1e6) / n };
        };
        break;
      }
      default: {
        let fn;
        let make = () => spec.make();
        let K_ = null;
        if (sc.type === "contended") {
          fn = gen.contended(name, spec, sc.inner, TIMEOUT_MS);
          if (sc.timed) make = () => spec.make(TIMEOUT_MS);
        } else if (sc.type === "sema") {
          fn = gen.sema(name, spec, SEM_LIMIT, sc.inner);
          make = () => spec.make(SEM_LIMIT);
        } else if (sc.type === "weighted") {
          fn = gen.weighted(name, spec, SEM_LIMIT, sc.inner);
          make = () => spec.make(SEM_LIMIT);
          K_ = MIXES.weighted();
        } else if (sc.type === "rw") {
          fn = gen.rw(name, spec, sc.inner);
          K_ = MIXES.rw();
        } else if (sc.type === "modes") {
          fn = gen.modes(name, spec, sc.inner);
          K_ = MIXES.modes();
        } else throw new Error(`unknown scenario type ${sc.type}`);
        const total = TASKS * K;
        const X = new Int32Array(new SharedArrayBuffer(64));
        cell.ops = total;
        cell.measure = async () => {
          const L = make();
          const P = { seq: 0, n: 0, bad: 0, order: new Int32Array(total) };
          X.fill(0);
          const t0 = now();
          await fn(L, P, X, K_, TASKS, K);
          const ns = ((now() - t0) * 1e6) / total;
          if (P.n !== total) throw new Error(`only ${P.n} of ${total} requests were granted`);
          return { ns, fairness: overtakes(P.order, P.n, P.seq), bad: P.bad };
        };
      }
    }
    cells.push(cell);
  }
  return cells;
}

async function measureOnce(cell, n) {
  gc();
  const r = await watchdog(cell.measure(n), CELL_TIMEOUT, `${cell.scenario} ${cell.name}`);
  return r;
}

// Loop cells: warm up for at least WARM_MS (wasm tier-up and V8 optimisation
// of the library and the generated loop), then size n so that one measurement
// takes about TARGET_MS.
async function warmAndCalibrate(cell) {
  let n = 1000;
  let spent = 0;
  for (;;) {
    const r = await measureOnce(cell, n);
    const ms = (r.ns * n) / 1e6;
    spent += ms;
    if ((ms >= TARGET_MS / 2 && spent >= WARM_MS) || n >= 1e8) {
      cell.ops = Math.max(1000, Math.round((TARGET_MS * 1e6) / r.ns));
      return;
    }
    if (ms < TARGET_MS / 2) n *= 4;
  }
}

async function runScenario(sc) {
  const cells = buildCells(sc);
  const t0 = now();
  progress(`[${sc.id}] ${sc.title}: ${cells.length} libraries, warm-up`);
  for (const cell of cells) {
    try {
      if (cell.ops === 0) await warmAndCalibrate(cell);
      else for (let w = 0; w < WARM_RUNS; w++) await measureOnce(cell, cell.ops);
    } catch (e) {
      cell.error = String(e?.message ?? e);
      progress(`[${sc.id}] ${cell.name}: ERROR in warm-up: ${cell.error}`);
    }
  }
  for (let rep = 0; rep < REPS; rep++) {
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[(i + rep) % cells.length];
      if (cell.error) continue;
      try {
        const r = await measureOnce(cell, cell.ops);
        cell.samples.push(r.ns);
        cell.fairness = mergeFairness(cell.fairness, r.fairness);
        cell.violations += r.bad ?? 0;
      } catch (e) {
        cell.error = String(e?.message ?? e);
        progress(`[${sc.id}] ${cell.name}: ERROR: ${cell.error}`);
      }
    }
    progress(`[${sc.id}] rep ${rep + 1}/${REPS} (${((now() - t0) / 1000).toFixed(1)} s)`);
  }
  const out = [];
  for (const cell of cells) {
    const s = cell.samples.length > 0 ? summarize(cell.samples) : undefined;
    const f = cell.fairness;
    const fair = f ? ` overtaken ${f.overtaken}/${f.requests} (max ${f.maxOvertakes})` : "";
    const viol = cell.violations ? ` VIOLATIONS ${cell.violations}` : "";
    progress(
      `[${sc.id}] ${cell.name}: ${s ? `${fmtNs(s.median)} (${fmtNs(s.min)}-${fmtNs(s.max)})` : "-"}${fair}${viol}${cell.error ? ` ERROR ${cell.error}` : ""}`,
    );
    const { measure: _m, ...plain } = cell;
    out.push({ ...plain, unit: sc.unit, summary: s });
  }
  return out;
}

// One message per scenario, so that a scenario that wedges the process (and
// gets it killed by run.js) does not take the finished ones with it.
for (const sc of SCENARIOS) {
  if (sc.group !== "single") continue;
  if (only && !only.includes(sc.id)) continue;
  const cells = await runScenario(sc);
  await send({ type: "cells", group: "single", node: process.version, cells });
}
// Some peers leave timers behind (rwlock never clears its timeout timers).
process.exit(0);
