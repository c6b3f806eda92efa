// A Web Worker for the browser suite (suite.js): does what the page tells it.
// Posts { type: "ready", threadId } first; every command is answered with
// { type: "reply", id, ... } (or { type: "error", id, error }).
//   hammer   { locks: [{ kind, lock, permits, s }], rounds, seed, waker }
//            random acquires (with timeouts and aborts) and checked sections
//   acquire  { kind, lock, mode, waker }    -> { abandoned } once granted
//   release  {}                             releases what acquire took
//   create   {}                             a new engine and Mutex, held: -> { shared }
//   close    {}                             self.close() (while holding, say)
//   handoff  { lock, stamp, rounds }        side 1 of bench/lib/handoff.js -> { lat }

import { handoffSide } from "/bench/lib/handoff.js";
import { Engine } from "/dist/bindings/index.js";
import { attempt, lockFrom, rng } from "/test/workers/common.mjs";

let held;
const handlers = {
  async hammer({ locks, rounds, seed, waker }) {
    const rand = rng(seed);
    const errors = [];
    const ls = locks.map((d) => ({ ...d, obj: adopt(d, waker) }));
    for (let i = 0; i < rounds; i++) await attempt(ls[rand.int(ls.length)], rand, errors, true);
    return { errors };
  },
  async acquire(d) {
    const lock = adopt(d, d.waker);
    held = await (d.kind === "rw" ? (d.mode === "read" ? lock.read() : lock.write()) : lock.acquire(d.mode));
    return { abandoned: held.abandoned };
  },
  acquireSync({ lock }) {
    const g = lockFrom({ kind: "mutex", lock }).acquireSync({ timeout: 10_000 });
    const abandoned = g.abandoned;
    g.release();
    return { abandoned };
  },
  release() {
    held.release();
    held = undefined;
    return {};
  },
  async create() {
    const { Mutex } = await import("/dist/bindings/index.js");
    const m = new Mutex({ engine: new Engine() });
    held = await m.acquire();
    return { shared: m.share() };
  },
  close() {
    setTimeout(() => self.close(), 0);
    return {};
  },
  // Handoff latency: side 1 of bench/lib/handoff.js.
  async handoff({ lock, stamp, rounds, waker }) {
    const m = adopt({ kind: "mutex", lock }, waker);
    return { lat: await handoffSide(m, stamp, 1, rounds) };
  },
};

function adopt(d, waker) {
  if (waker) Engine.from(d.lock.engine, { waker });
  return lockFrom(d);
}

self.onmessage = async ({ data }) => {
  // As in Firefox ESR 140: no Atomics.waitAsync in this worker from now on.
  if (data.noWaitAsync) delete Atomics.waitAsync;
  try {
    const r = await handlers[data.op](data);
    self.postMessage({ type: "reply", id: data.id, ...r });
  } catch (e) {
    self.postMessage({ type: "error", id: data.id, error: String(e?.stack ?? e) });
  }
};
self.postMessage({ type: "ready", threadId: Engine.threadId });
