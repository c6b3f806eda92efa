// Scale cell for one library, in its own process (a peer that overflows its
// stack or jams cannot take the others down). run.js starts one per library
// per repetition, interleaving libraries, with --expose-gc and a timeout.
//
//   node --expose-gc bench/suites/scale.js --lib=ringlock.Mutex [--n=100000]
//
// 1. warm-up: queue and drain n/10 waiters;
// 2. timed:   hold the lock, queue n waiters (enqueue ns/waiter), release the
//             holder and time until the last waiter has been granted and has
//             released (drain ms); no forced GC around it;
// 3. memory:  hold the lock and queue n bare requests (each request's return
//             value kept in a preallocated array, no .then(), no per-waiter
//             closure of ours), with two full GCs before and after: the JS heap
//             the library itself spends per queued waiter, and for ringlock the
//             engine's shared-memory delta. The process exits without draining.

import { drain } from "../lib/codegen.js";
import { now, options, send, watchdog } from "../lib/util.js";
import { byId } from "../peers/index.js";

const opt = options();
const peer = byId.get(String(opt.lib));
if (!peer?.drain) throw new Error(`no drain capability for --lib=${opt.lib}`);
const N = Number(opt.n ?? 100_000);
const spec = peer.drain;
const { hold, enqueue, bare } = drain(`7-${peer.id}`, spec);

function heapUsed() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

async function memory(n) {
  const L = spec.make();
  await hold(L);
  const C = { n: 0, N: n, done: null };
  const P = new Array(n).fill(null);
  const engine = L?.engine;
  const h0 = heapUsed();
  const s0 = engine ? engine.heapBytes : 0;
  bare(L, C, n, P);
  const h1 = heapUsed();
  const s1 = engine ? engine.heapBytes : 0;
  return { heapBytes: (h1 - h0) / n, sharedBytes: engine ? (s1 - s0) / n : undefined, keep: P };
}

async function once(n) {
  const L = spec.make();
  const unhold = await hold(L);
  const C = { n: 0, N: n, done: null };
  const finished = new Promise((r) => {
    C.done = r;
  });
  const t0 = now();
  enqueue(L, C, n);
  const t1 = now();
  const t2 = now();
  unhold();
  await watchdog(finished, 30_000, `draining ${n} waiters`);
  const t3 = now();
  if (C.n !== n) throw new Error(`${C.n} of ${n} waiters granted`);
  return { enqueueNs: ((t1 - t0) * 1e6) / n, drainMs: t3 - t2 };
}

let result;
try {
  await once(Math.max(1000, Math.round(N / 10)));
  const timed = await once(N);
  const mem = await memory(N);
  result = {
    lib: peer.id,
    n: N,
    drainMs: timed.drainMs,
    enqueueNs: timed.enqueueNs,
    heapBytes: mem.heapBytes,
    sharedBytes: mem.sharedBytes,
  };
} catch (e) {
  result = { lib: peer.id, n: N, error: String(e?.stack ?? e) };
}
await send({ type: "scale", node: process.version, result });
process.exit(0);
