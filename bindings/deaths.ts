// Noticing that a thread has ended, so that its holds and waits are reaped
// (Engine.reapThread). Three ways, whichever the runtime offers:
//
// - Worker events (Node, Deno, Bun): the spawning thread gets process 'worker'
//   for every worker_threads Worker (and, in Bun, every Web Worker) and reaps
//   its threadId when it exits, however it ends.
// - Life locks (browsers; Deno's Web Workers): a thread with a drawn id holds a
//   Web Lock named for its engine and id for as long as it lives; every other
//   thread of the engine that has Web Locks requests it, and is granted it only
//   when the holder is gone (terminated, crashed or closed). The engine's
//   random 64-bit id keeps the names of different pages and tabs apart.
// - Engine.threadEnded(id): the spawner says so itself after terminate().
//
// The life-lock protocol, per engine, for a thread T with a drawn id:
//   1. attach; request the life lock (held by T until it dies); bump ATTACHED.
//   2. when granted: LIFE := T's id; bump ATTACHED.
// Every watcher W, on each change of ATTACHED, requests the life lock of each
// live drawn-id thread it does not yet watch. When W is granted T's lock:
//   - T's record no longer has T's id alive: already reaped, nothing to do.
//   - LIFE = T's id: T held its lock and has let go of it: it died. Reap it.
//   - LIFE unset: T's own request has not reached the lock manager before W's
//     (or T died before it did): let go, ask again later; after LIFE_TRIES
//     grants with LIFE unset, T is taken to have died before its first grant.

import { H_ATTACHED, H_ID, H_THREADS, R_ALIVE, R_LIFE, R_NEXT, TS_ALIVE, TS_MASK } from "../assembly/layout.js";
import { drawnIds, RANDOM_TID_BASE, threadId } from "./runtime.js";
import type { WaitAsync } from "./waker.js";

/** What deaths.ts needs of an Engine. */
export interface Watched {
  readonly thr: number;
  readonly waitAsync: WaitAsync;
  refresh(): Int32Array;
  reapThread(tid: number): void;
}

interface LockManagerLike {
  request(name: string, callback: () => unknown): Promise<unknown>;
}

const LIFE_TRIES = 5;
const LIFE_RETRY_MS = 20;

function lockManager(): LockManagerLike | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  return typeof locks?.request === "function" ? locks : undefined;
}

function lifeName(i32: Int32Array, tid: number): string {
  const id = (i32[H_ID >> 2] >>> 0).toString(16).padStart(8, "0") + (i32[(H_ID >> 2) + 1] >>> 0).toString(16);
  return `ringlock-thread:${id}:${tid}`;
}

/** @internal Starts life locks for a thread attached to an engine (see above). */
export function watchLives(e: Watched): void {
  const locks = lockManager();
  if (locks === undefined || !drawnIds) return;
  const i32 = e.refresh();
  const attached = H_ATTACHED >> 2;
  const bump = () => {
    Atomics.add(e.refresh(), attached, 1);
    Atomics.notify(e.refresh(), attached);
  };
  if (threadId >= RANDOM_TID_BASE) {
    const name = lifeName(i32, threadId);
    void locks.request(name, () => {
      Atomics.store(e.refresh(), (e.thr + R_LIFE) >> 2, threadId);
      bump();
      return new Promise(() => {});
    });
    bump();
  }
  const watched = new Set<number>();
  const watch = (t: number, tid: number, tries: number): void => {
    void locks.request(lifeName(i32, tid), () => {
      const now = e.refresh();
      const alive = Atomics.load(now, (t + R_ALIVE) >> 2);
      if (alive >>> 2 !== tid || (alive & TS_MASK) !== TS_ALIVE) {
        watched.delete(tid);
      } else if (Atomics.load(now, (t + R_LIFE) >> 2) === tid || tries + 1 >= LIFE_TRIES) {
        watched.delete(tid);
        e.reapThread(tid);
      } else {
        setTimeout(watch, LIFE_RETRY_MS << tries, t, tid, tries + 1);
      }
    });
  };
  const scan = (now: Int32Array): void => {
    for (let t = Atomics.load(now, H_THREADS >> 2); t !== 0; t = now[(t + R_NEXT) >> 2]) {
      const alive = Atomics.load(now, (t + R_ALIVE) >> 2);
      const tid = alive >>> 2;
      if ((alive & TS_MASK) !== TS_ALIVE || tid < RANDOM_TID_BASE || tid === threadId || watched.has(tid)) continue;
      watched.add(tid);
      watch(t, tid, 0);
    }
  };
  // Not a keep-alive: a thread with nothing else to do may end meanwhile.
  const listen = (): void => {
    for (;;) {
      const now = e.refresh();
      const seen = Atomics.load(now, attached);
      scan(now);
      const w = e.waitAsync(now, attached, seen);
      if (w.async) {
        void w.value.then(listen);
        return;
      }
    }
  };
  listen();
}

// A worker_threads Worker (once('exit')), or Bun's Web Worker, which it
// also announces through process 'worker' (an EventTarget: 'close').
type WorkerLike = {
  threadId: number;
  once?(ev: "exit", fn: () => void): void;
  addEventListener?(ev: "close", fn: () => void, o: { once: true }): void;
};

/** @internal Calls onSpawn() when this thread spawns a worker and onEnd(threadId)
 *  when it exits (process 'worker' events: Node, Deno's worker_threads, Bun's
 *  workers of both kinds). Once per thread. */
export function watchWorkers(onEnd: (tid: number) => void, onSpawn: () => void): void {
  const p = (globalThis as { process?: { on?: (ev: string, fn: (w: WorkerLike) => void) => unknown } }).process;
  if (hooked || typeof p?.on !== "function") return;
  hooked = true;
  p.on("worker", (worker) => {
    onSpawn();
    const tid = worker.threadId;
    const ended = () => onEnd(tid);
    if (typeof worker.once === "function") worker.once("exit", ended);
    else worker.addEventListener?.("close", ended, { once: true });
  });
}
let hooked = false;
