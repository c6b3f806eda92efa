// One of exclusion.mjs's workers. First it proves that shared modes are shared
// (it holds a read of the RWLock, a permit of the Semaphore(2) and an IS of the
// FifoLock until as many threads as may be inside at once have been), then it
// runs random sections on the four locks from two async tasks, counting who is
// inside each mode with Atomics and every conflict it sees.

import "../../dist/bindings/debug.js";
import { Engine, FifoLock, Mutex, RWLock, Semaphore } from "../../dist/bindings/index.js";
import { parent, rng } from "./threads.mjs";

const STRIDE = 8;
const OVERLAPS = 5;
const MAX = 6;
const DONE = 7;
const port = parent();
const { locks: shared, stats, sections, seed } = await port.once();
const s = new Int32Array(stats);
const rand = rng(seed);
const errors = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// conflicts[lock][mode]: the modes that may not be inside with it; limit: how many may be.
const DB = ["IS", "IX", "S", "SIX", "X"];
const DB_CONFLICTS = { IS: ["X"], IX: ["S", "SIX", "X"], S: ["IX", "SIX", "X"], SIX: ["IX", "S", "SIX", "X"], X: DB };
const locks = [
  { obj: Mutex.from(shared[0]), modes: ["x"], conflicts: [[0]], limit: [1], take: (l) => l.acquire() },
  {
    obj: RWLock.from(shared[1]),
    modes: ["read", "write"],
    conflicts: [[1], [0, 1]],
    limit: [Infinity, 1],
    take: (l, m) => (m === 0 ? l.read() : l.write()),
  },
  { obj: Semaphore.from(shared[2]), modes: ["permit"], conflicts: [[]], limit: [2], take: (l) => l.acquire() },
  {
    obj: FifoLock.from(shared[3]),
    modes: DB,
    conflicts: DB.map((m) => DB_CONFLICTS[m].map((c) => DB.indexOf(c))),
    limit: DB.map(() => Infinity),
    take: (l, m) => l.acquire(DB[m]),
  },
];

function enter(i, m) {
  const b = i * STRIDE;
  const n = Atomics.add(s, b + m, 1) + 1;
  const L = locks[i];
  let bad = n > L.limit[m];
  for (const c of L.conflicts[m]) if (c === m ? n > 1 : Atomics.load(s, b + c) > 0) bad = true;
  if (bad) Atomics.add(s, b + OVERLAPS, 1);
  if (m === 0) {
    for (let seen = Atomics.load(s, b + MAX); n > seen; seen = Atomics.load(s, b + MAX)) {
      if (Atomics.compareExchange(s, b + MAX, seen, n) === seen) break;
    }
  }
}

function leave(i, m) {
  Atomics.sub(s, i * STRIDE + m, 1);
}

// Holds mode 0 of lock i until `want` threads have been inside it at once.
async function together(i, want) {
  const L = locks[i];
  const g = await L.take(L.obj, 0);
  enter(i, 0);
  const giveUp = Date.now() + 10_000;
  while (Atomics.load(s, i * STRIDE + MAX) < want) {
    if (Date.now() > giveUp) {
      errors.push(`${L.modes[0]} of lock ${i}: never ${want} inside at once`);
      break;
    }
    await sleep(1);
  }
  leave(i, 0);
  g.release();
}

let left = sections;
async function task() {
  while (left > 0) {
    left--;
    const i = rand.int(locks.length);
    const L = locks[i];
    const m = rand.int(L.modes.length);
    const g = await L.take(L.obj, m);
    if (g.mode !== (i === 0 ? "exclusive" : L.modes[m])) errors.push(`granted ${g.mode} for ${L.modes[m]}`);
    enter(i, m);
    const spin = performance.now() + rand.next() * 0.05;
    while (performance.now() < spin) {}
    if (rand.next() < 0.3) await sleep(0);
    leave(i, m);
    Atomics.add(s, i * STRIDE + DONE, 1);
    g.release();
  }
}

try {
  await together(1, 4);
  await together(2, 2);
  await together(3, 4);
  await Promise.all([task(), task()]);
} catch (e) {
  errors.push(String(e?.stack ?? e));
}
port.post({ errors, threadId: Engine.threadId });
// A Web Worker closes when told (exclusion.mjs ends them one at a time).
if (port.kind === "web") await port.once();
port.close();
