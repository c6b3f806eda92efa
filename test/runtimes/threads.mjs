// Spawning workers of either kind, and the worker's side of the conversation,
// the same way in Deno, Bun and Node:
//   "node": node:worker_threads Worker (workerData { kind: "node" });
//   "web":  new Worker(new URL(file, import.meta.url), { type: "module" }).
// Both get the shared locks by postMessage.

import * as wt from "node:worker_threads";
import { rng as mulberry } from "../workers/common.mjs";

export const KINDS = ["node", "web"];

/** Waits (up to 10 s) until no thread still requests the life lock (Web Lock) of
 *  thread `tid`: every watcher was granted it and let go, so the thread's end was
 *  seen. Closing the next Web Worker before then can hit a Deno bug (two workers
 *  closing together: repro-deno-locks-closed-worker.mjs). */
export async function lifeLockSettled(tid) {
  const locks = globalThis.navigator?.locks;
  if (locks === undefined) return;
  const end = Date.now() + 10_000;
  while (Date.now() < end && (await locks.query()).pending.some((l) => l.name.endsWith(`:${tid}`))) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts `file` (relative to this folder) as a worker of `kind`. */
export function spawn(kind, file) {
  const url = new URL(file, import.meta.url);
  const messages = [];
  const waiting = [];
  const deliver = (m) => {
    const w = waiting.shift();
    if (w) w(m);
    else messages.push(m);
  };
  let worker;
  let exited;
  if (kind === "node") {
    worker = new wt.Worker(url, { workerData: { kind } });
    worker.on("message", deliver);
    exited = new Promise((resolve, reject) => {
      worker.on("exit", resolve);
      worker.on("error", reject);
    });
  } else {
    worker = new Worker(url, { type: "module" });
    worker.onmessage = (e) => deliver(e.data);
    worker.onerror = (e) => {
      e.preventDefault?.();
      deliver({ error: String(e.message ?? e) });
    };
    exited = undefined;
  }
  return {
    kind,
    worker,
    /** Resolves with the worker's exit code (node kind only). */
    exited,
    post: (m) => worker.postMessage(m),
    /** The next message from the worker. */
    next: () => (messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise((r) => waiting.push(r))),
    terminate: () => worker.terminate(),
  };
}

/** In a worker: its parent port, whichever kind of worker this is. */
export function parent() {
  if (wt.workerData?.kind === "node") {
    const port = wt.parentPort;
    return {
      kind: "node",
      once: () => new Promise((r) => port.once("message", r)),
      post: (m) => port.postMessage(m),
      // A worker_threads worker ends by itself once nothing is pending (and
      // Deno's parentPort has no close()).
      close: () => {},
    };
  }
  const queue = [];
  const waiting = [];
  self.onmessage = (e) => {
    const w = waiting.shift();
    if (w) w(e.data);
    else queue.push(e.data);
  };
  return {
    kind: "web",
    once: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))),
    post: (m) => self.postMessage(m),
    // A Web Worker lives until closed.
    close: () => self.close(),
  };
}

/** A small seeded generator: test/workers/common.mjs's mulberry32, as { next, int }. */
export function rng(seed) {
  const next = mulberry(seed);
  return { next, int: next.int };
}
