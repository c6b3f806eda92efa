// Sync-primitive suite (issue 9), in its own process: Barrier, Event,
// Condition and blocking handoffs, each next to a peer in the same run.
//
//   node bench/suites/sync.js [--quick] [--reps=N]
//
// Rows (median of the repetitions; ratio = ringlock / peer, below 1 means
// ringlock is faster):
//   s1  4-worker Barrier round: ringlock Barrier (async wait, and waitSync)
//       against a hand-written Atomics barrier (counter + generation word)
//   s2  Event set-to-wake latency across 2 workers (half a ping-pong over two
//       Events) against the same ping-pong on raw Atomics words (waitAsync)
//   s3  Condition producer/consumer over a one-slot buffer, one thread:
//       ringlock Condition + Mutex against @esfx/async-conditionvariable +
//       @esfx/async-mutex (ns per item)
//   s4  the same across 2 workers (async, and blocking waitSync), against s3's
//       ringlock one-thread figure
//   s5  a Mutex handed between 2 workers: acquireSync against await acquire()

import { Worker } from "node:worker_threads";
import { AsyncConditionVariable } from "@esfx/async-conditionvariable";
import { AsyncMutex } from "@esfx/async-mutex";
import { Barrier, Condition, Engine, Event, Mutex } from "../../dist/bindings/index.js";
import { summarize } from "../lib/stats.js";
import { fmtNs, options, progress, send } from "../lib/util.js";

const opt = options();
const quick = opt.quick === true;
const REPS = Number(opt.reps ?? (quick ? 2 : 5));
const scale = quick ? 0.1 : 1;

// Runs `count` workers of the given jobs (one data object each), started together.
async function workers(datas) {
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  const ws = datas.map(
    (d) => new Worker(new URL("./sync-worker.js", import.meta.url), { workerData: { ...d, ctl: ctl.buffer } }),
  );
  const done = ws.map(
    (w) =>
      new Promise((resolve, reject) => {
        w.once("message", resolve);
        w.once("error", reject);
      }),
  );
  while (Atomics.load(ctl, 1) < ws.length) await new Promise((r) => setTimeout(r, 1));
  const t0 = performance.now();
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  await Promise.all(done);
  const ms = performance.now() - t0;
  await Promise.all(ws.map((w) => w.terminate()));
  return ms;
}

async function measure(fn) {
  const samples = [];
  for (let r = 0; r < REPS; r++) samples.push(await fn());
  return summarize(samples).median;
}

const rows = [];
function row(id, title, ringlock, peer, peerName, unit = "ns") {
  rows.push({ id, title, ringlock, peer, peerName, ratio: peer ? ringlock / peer : undefined, unit });
  progress(
    `[sync ${id}] ${title}: ${fmtNs(ringlock)}${peer ? ` vs ${peerName} ${fmtNs(peer)} (x${(ringlock / peer).toFixed(2)})` : ""}`,
  );
}

// ---- s1: Barrier rounds, 4 workers
{
  const n = Math.round(20_000 * scale);
  const parties = 4;
  const run = (job) =>
    measure(async () => {
      const engine = new Engine();
      const b = new Barrier(parties, { engine });
      const words = new SharedArrayBuffer(8);
      const ms = await workers(Array.from({ length: parties }, () => ({ job, obj: b.share(), words, parties, n })));
      return (ms * 1e6) / n;
    });
  const peer = await run("atomicsBarrier");
  row("s1a", "4-worker Barrier round (await wait())", await run("barrier"), peer, "Atomics barrier");
  row("s1b", "4-worker Barrier round (waitSync())", await run("barrierSync"), peer, "Atomics barrier");
}

// ---- s2: Event set-to-wake latency, 2 workers
{
  const n = Math.round(20_000 * scale);
  const ours = await measure(async () => {
    const engine = new Engine();
    const a = new Event({ engine });
    const b = new Event({ engine });
    const ms = await workers([
      { job: "event", a: a.share(), b: b.share(), n },
      { job: "event", a: b.share(), b: a.share(), n, first: true },
    ]);
    return (ms * 1e6) / (2 * n);
  });
  const peer = await measure(async () => {
    const words = new SharedArrayBuffer(8);
    const ms = await workers([
      { job: "atomicsEvent", words, n },
      { job: "atomicsEvent", words, n, first: true },
    ]);
    return (ms * 1e6) / (2 * n);
  });
  row("s2", "Event set-to-wake across workers (half a ping-pong)", ours, peer, "raw Atomics.waitAsync");
}

// ---- s3: Condition producer/consumer, one thread
let condOneThread;
{
  const n = Math.round(100_000 * scale);
  const ours = await measure(async () => {
    const m = new Mutex();
    const c = new Condition(m);
    let full = false;
    const side = async (producer) => {
      for (let i = 0; i < n; i++) {
        const g = await m.acquire();
        while (full === producer) await c.wait(g);
        full = producer;
        c.notify();
        g.release();
      }
    };
    const t0 = performance.now();
    await Promise.all([side(true), side(false)]);
    return ((performance.now() - t0) * 1e6) / n;
  });
  const peer = await measure(async () => {
    const m = new AsyncMutex();
    const c = new AsyncConditionVariable();
    let full = false;
    const side = async (producer) => {
      for (let i = 0; i < n; i++) {
        await m.lock();
        while (full === producer) await c.wait(m);
        full = producer;
        c.notifyOne();
        m.unlock();
      }
    };
    const t0 = performance.now();
    await Promise.all([side(true), side(false)]);
    return ((performance.now() - t0) * 1e6) / n;
  });
  condOneThread = ours;
  row("s3", "Condition producer/consumer, one thread (per item)", ours, peer, "@esfx/async-conditionvariable");
}

// ---- s4: Condition producer/consumer across 2 workers
{
  const n = Math.round(20_000 * scale);
  const run = (job) =>
    measure(async () => {
      const engine = new Engine();
      const m = new Mutex({ engine });
      const c = new Condition(m);
      const words = new SharedArrayBuffer(8);
      const common = { job, mutex: m.share(), obj: c.share(), words, n };
      const ms = await workers([
        { ...common, producer: true },
        { ...common, producer: false },
      ]);
      return (ms * 1e6) / n;
    });
  row(
    "s4a",
    "Condition producer/consumer across 2 workers (await wait)",
    await run("cond"),
    condOneThread,
    "ringlock, one thread (s3)",
  );
  row(
    "s4b",
    "Condition producer/consumer across 2 workers (waitSync)",
    await run("condSync"),
    condOneThread,
    "ringlock, one thread (s3)",
  );
}

// ---- s5: blocking handoff against async handoff
{
  const n = Math.round(50_000 * scale);
  const run = (job) =>
    measure(async () => {
      const engine = new Engine();
      const m = new Mutex({ engine });
      const ms = await workers([
        { job, obj: m.share(), n },
        { job, obj: m.share(), n },
      ]);
      return (ms * 1e6) / (2 * n);
    });
  const asyncNs = await run("mutexAsync");
  row("s5", "Mutex between 2 workers: acquireSync() (per section)", await run("mutexSync"), asyncNs, "await acquire()");
}

await send({ type: "sync", rows });
