// Work spread over worker_threads that share ringlock locks. Run: npm run demo
//
// Four workers count primes in chunks of a range. A Mutex guards a shared
// tally (a SharedArrayBuffer travels with the lock as its guarded value), a
// Semaphore(2) lets at most two workers "report" at a time, and an RWLock
// lets them all read the shared settings while the main thread
// raises a setting before they read it. Nothing here blocks an event loop.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Mutex, RWLock, Semaphore } from "../dist/bindings/index.js";

const WORKERS = 4;
const CHUNKS = 40;
const CHUNK = 25_000;

function countPrimes(from, to) {
  let n = 0;
  for (let i = Math.max(2, from); i < to; i++) {
    let prime = true;
    for (let d = 2; d * d <= i; d++) {
      if (i % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) n++;
  }
  return n;
}

if (isMainThread) {
  // tally[0]: primes found, tally[1]: chunks done, tally[2]: next chunk to take
  const tally = new Mutex({ value: new Int32Array(new SharedArrayBuffer(12)) });
  const reporters = new Semaphore(2);
  const settings = new RWLock({ value: new Int32Array(new SharedArrayBuffer(4)) });
  const shared = { tally: tally.share(), reporters: reporters.share(), settings: settings.share() };
  const started = performance.now();
  const reports = [];
  // The main thread holds the write lock while it spawns the workers and
  // raises a setting: every read waits for it. (Spawning may take a while, and
  // in Deno a worker can run before its constructor returns: a write issued
  // after spawning could come after all the work.)
  const writing = await settings.write();
  const done = Array.from({ length: WORKERS }, (_, id) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { id, ...shared } });
    w.on("message", (m) => reports.push(m));
    return new Promise((resolve, reject) => {
      w.on("exit", resolve);
      w.on("error", reject);
    });
  });
  writing.value[0] = 1;
  writing.release();
  await Promise.all(done);
  const g = await tally.acquire();
  const [primes, chunks] = g.value;
  g.release();
  const expected = countPrimes(0, CHUNKS * CHUNK);
  console.log(`== ${WORKERS} workers sharing a Mutex, a Semaphore(2) and an RWLock`);
  for (const r of reports.sort((a, b) => a.id - b.id)) {
    console.log(`  worker ${r.id}: ${r.chunks} chunks, ${r.primes} primes, saw setting=${r.setting}`);
  }
  console.log(`  total: ${primes} primes in ${chunks} chunks (single-threaded check: ${expected})`);
  console.log(`  ${primes === expected ? "correct" : "WRONG"}, ${(performance.now() - started).toFixed(0)} ms`);
  if (primes !== expected) process.exitCode = 1;
} else {
  const { id } = workerData;
  const tally = Mutex.from(workerData.tally);
  const reporters = Semaphore.from(workerData.reporters);
  const settings = RWLock.from(workerData.settings);
  let mine = 0;
  let chunks = 0;
  let setting = 0;
  for (;;) {
    // Take the next chunk number under the mutex (a plain, non-atomic update).
    const chunk = await tally.run((g) => g.value[2]++);
    if (chunk >= CHUNKS) break;
    setting = await settings.runRead((g) => g.value[0]);
    const n = countPrimes(chunk * CHUNK, (chunk + 1) * CHUNK);
    await tally.run((g) => {
      g.value[0] += n;
      g.value[1] += 1;
    });
    mine += n;
    chunks++;
  }
  await reporters.run(() => parentPort.postMessage({ id, chunks, primes: mine, setting }));
}
