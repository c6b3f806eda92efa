// A pooled worker of the cross-worker suite (workers.js). It runs one job at a
// time: attach to the lock, wait at the start barrier, run n sections, count
// overlaps and handoffs with Atomics, report. One loop function per library so
// that each stays monomorphic.
//
// Handoff latency: the holder stamps the time (performance.timeOrigin + now(),
// comparable across threads) into a shared Float64 word right before it
// releases; a worker that gets the lock from another worker subtracts that
// stamp from its own clock first thing in the section. The raw ping-pong floor
// stamps right before it hands the turn over, the same way.
//
// With a baseline build (workerData.baseline, the URL of an older ringlock's
// dist/bindings/index.js), "ringlock@baseline" jobs run the ringlock loops on
// that build's Mutex.

import * as wt from "node:worker_threads";
import { parentPort, workerData } from "node:worker_threads";
import { Mutex } from "../../dist/bindings/index.js";
import { C } from "./workers-layout.js";

const MUTEX = { ringlock: Mutex };
if (workerData.baseline) MUTEX["ringlock@baseline"] = (await import(workerData.baseline)).Mutex;

const origin = performance.timeOrigin;
const clock = () => origin + performance.now();

// ---------------------------------------------------------------- lock server client
let pmGranted = null;
function pmAcquire() {
  parentPort.postMessage({ type: "acq" });
  return new Promise((r) => {
    pmGranted = r;
  });
}
function pmRelease() {
  parentPort.postMessage({ type: "rel" });
}

// ---------------------------------------------------------------- lean loops
// One worker (8a): nothing to overtake or overlap, so no instrumentation
// either, as in the single-thread uncontended scenario.

async function leanRinglock(L, n) {
  for (let i = 0; i < n; i++) {
    const g = await L.acquire();
    g.release();
  }
  return { overlaps: 0, handoffs: 0, lat: [] };
}

async function leanWtLocks(name, n) {
  const noop = () => {};
  for (let i = 0; i < n; i++) await wt.locks.request(name, noop);
  return { overlaps: 0, handoffs: 0, lat: [] };
}

async function leanServer(n) {
  for (let i = 0; i < n; i++) {
    await pmAcquire();
    pmRelease();
  }
  return { overlaps: 0, handoffs: 0, lat: [] };
}

// ---------------------------------------------------------------- loops
// In every loop, between the grant and the release (the lock's words order
// these accesses): record the grant, check exclusion, note who held last.

async function loopRinglock(L, ctl, order, stamp, me, n, stamps) {
  let overlaps = 0;
  let handoffs = 0;
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t = Atomics.add(ctl, C.TICKET, 1);
    const g = await L.acquire();
    const now = stamps ? clock() : 0;
    order[Atomics.add(ctl, C.GRANTS, 1)] = t;
    if (Atomics.add(ctl, C.EX, 1) !== 0) overlaps++;
    const prev = Atomics.exchange(ctl, C.TURN, me);
    if (prev !== me) {
      handoffs++;
      if (stamps && prev >= 0) lat.push(now - stamp[0]);
    }
    Atomics.sub(ctl, C.EX, 1);
    if (stamps) stamp[0] = clock();
    g.release();
  }
  return { overlaps, handoffs, lat };
}

async function loopWtLocks(name, ctl, order, stamp, me, n, stamps) {
  let overlaps = 0;
  let handoffs = 0;
  const lat = [];
  const section = (t) => {
    const now = stamps ? clock() : 0;
    order[Atomics.add(ctl, C.GRANTS, 1)] = t;
    if (Atomics.add(ctl, C.EX, 1) !== 0) overlaps++;
    const prev = Atomics.exchange(ctl, C.TURN, me);
    if (prev !== me) {
      handoffs++;
      if (stamps && prev >= 0) lat.push(now - stamp[0]);
    }
    Atomics.sub(ctl, C.EX, 1);
    if (stamps) stamp[0] = clock();
  };
  for (let i = 0; i < n; i++) {
    const t = Atomics.add(ctl, C.TICKET, 1);
    await wt.locks.request(name, () => section(t));
  }
  return { overlaps, handoffs, lat };
}

async function loopServer(ctl, order, stamp, me, n, stamps) {
  let overlaps = 0;
  let handoffs = 0;
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t = Atomics.add(ctl, C.TICKET, 1);
    await pmAcquire();
    const now = stamps ? clock() : 0;
    order[Atomics.add(ctl, C.GRANTS, 1)] = t;
    if (Atomics.add(ctl, C.EX, 1) !== 0) overlaps++;
    const prev = Atomics.exchange(ctl, C.TURN, me);
    if (prev !== me) {
      handoffs++;
      if (stamps && prev >= 0) lat.push(now - stamp[0]);
    }
    Atomics.sub(ctl, C.EX, 1);
    if (stamps) stamp[0] = clock();
    pmRelease();
  }
  return { overlaps, handoffs, lat };
}

// The physical floor of a cross-thread handoff with an event loop on both
// sides: wait (asynchronously) for my turn on one shared word, hand it over.
async function loopRaw(ctl, stamp, me, n) {
  const lat = [];
  for (let i = 0; i < n; i++) {
    let v = Atomics.load(ctl, C.PP);
    while (v !== me) {
      const r = Atomics.waitAsync(ctl, C.PP, v);
      if (r.async) await r.value;
      v = Atomics.load(ctl, C.PP);
    }
    if (i > 0 || me === 1) lat.push(clock() - stamp[0]);
    stamp[0] = clock();
    Atomics.store(ctl, C.PP, 1 - me);
    Atomics.notify(ctl, C.PP, 1);
  }
  return { overlaps: 0, handoffs: n, lat };
}

// The baseline build's copies of the ringlock loops, compiled from their
// source: distinct functions with their own type feedback, so that neither
// build's Mutex makes the other's call sites polymorphic.
const fresh = (f) => new Function("C", "clock", `"use strict";\nreturn ${f}`)(C, clock);
const baselineLoops = workerData.baseline ? { lean: fresh(leanRinglock), loop: fresh(loopRinglock) } : undefined;

// ---------------------------------------------------------------- jobs
async function run(job) {
  const ctl = new Int32Array(job.ctl);
  const order = new Int32Array(job.order);
  const stamp = new Float64Array(job.stamp);
  const L = MUTEX[job.lib]?.from(job.shared) ?? null;
  // Start barrier: a blocking wait is fine here, no event-loop work is pending.
  Atomics.add(ctl, C.READY, 1);
  Atomics.notify(ctl, C.READY);
  while (Atomics.load(ctl, C.GO) === 0) Atomics.wait(ctl, C.GO, 0);
  let r;
  // Handoff stamps cost two clock reads per section: only the 2-worker jobs,
  // which report the handoff latency, take them.
  const stamps = job.k === 2;
  switch (job.k === 1 && job.lib !== "raw" ? `${job.lib}.lean` : job.lib) {
    case "ringlock.lean":
      r = await leanRinglock(L, job.n);
      break;
    case "ringlock@baseline.lean":
      r = await baselineLoops.lean(L, job.n);
      break;
    case "wtlocks.lean":
      r = await leanWtLocks(job.name, job.n);
      break;
    case "server.lean":
      r = await leanServer(job.n);
      break;
    case "ringlock":
      r = await loopRinglock(L, ctl, order, stamp, job.me, job.n, stamps);
      break;
    case "ringlock@baseline":
      r = await baselineLoops.loop(L, ctl, order, stamp, job.me, job.n, stamps);
      break;
    case "wtlocks":
      r = await loopWtLocks(job.name, ctl, order, stamp, job.me, job.n, stamps);
      break;
    case "server":
      r = await loopServer(ctl, order, stamp, job.me, job.n, stamps);
      break;
    case "raw":
      r = await loopRaw(ctl, stamp, job.me, job.n);
      break;
    default:
      throw new Error(`unknown job ${job.lib}`);
  }
  Atomics.add(ctl, C.DONE, 1);
  Atomics.notify(ctl, C.DONE);
  // Only the median is needed by the suite; send a sorted sample, not all.
  r.lat.sort((a, b) => a - b);
  return r;
}

parentPort.on("message", (m) => {
  if (m.type === "grant") {
    const g = pmGranted;
    pmGranted = null;
    g();
  } else if (m.type === "job") {
    run(m.job).then(
      (r) => parentPort.postMessage({ type: "result", id: m.job.id, ...r }),
      (e) => parentPort.postMessage({ type: "result", id: m.job.id, error: String(e?.stack ?? e) }),
    );
  }
});
parentPort.postMessage({ type: "up" });
