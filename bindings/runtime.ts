// What differs between JavaScript runtimes (Node, Deno, Bun, browsers),
// chosen at run time so that the core imports no `node:` module and bundles
// for the browser as it is: this thread's identity, whether it may block in
// Atomics.wait, and keeping it alive while it waits.

interface WorkerThreads {
  readonly threadId: number;
  readonly isMainThread: boolean;
}

/** @internal A Node built-in where the runtime has them (Node >= 20.16, Deno, Bun), else undefined. */
export function builtin<T>(name: string): T | undefined {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof p?.getBuiltinModule !== "function") return undefined;
  try {
    return p.getBuiltinModule(name) as T | undefined;
  } catch {
    return undefined;
  }
}

// Thread ids drawn at random (threads with no worker_threads identity) lie in
// [RANDOM_TID_BASE, 2^30): above any worker_threads threadId a process will
// reach, and within the 30 bits a thread record keeps (R_ALIVE = state | tid << 2).
/** @internal */ export const RANDOM_TID_BASE = 1 << 24;
const TID_LIMIT = 1 << 30;

function inWorkerScope(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: abstract new () => unknown }).WorkerGlobalScope;
  return typeof scope === "function" && globalThis instanceof scope;
}

function identity(): number {
  const wt = builtin<WorkerThreads>("node:worker_threads");
  // Node and Bun number every thread, web-style Workers included. Deno's
  // web-style Workers all report threadId 0 and isMainThread: draw those.
  if (wt !== undefined && Number.isInteger(wt.threadId) && !(wt.isMainThread && inWorkerScope())) {
    return wt.threadId;
  }
  const r = crypto.getRandomValues(new Uint32Array(1))[0];
  return RANDOM_TID_BASE + (r % (TID_LIMIT - RANDOM_TID_BASE));
}

/** This thread's id in every engine: worker_threads' threadId where the
 *  runtime numbers its threads, else a random id drawn once per thread. */
export const threadId: number = identity();

let cell: Int32Array | undefined;
let canBlock: boolean | undefined;

function sleepCell(): Int32Array {
  cell ??= new Int32Array(new SharedArrayBuffer(4));
  return cell;
}

/** @internal Whether this thread may block in Atomics.wait (a browser's main
 *  thread may not). Probed once, with a zero timeout, so it never waits. */
export function mayBlock(): boolean {
  if (canBlock === undefined) {
    try {
      Atomics.wait(sleepCell(), 0, 1, 0);
      canBlock = true;
    } catch {
      canBlock = false;
    }
  }
  return canBlock;
}

/** @internal Sleeps about `ms` milliseconds: Atomics.wait where the thread may
 *  block, else a busy spin (only for the short bounded retries of Engine.sync()). */
export function pause(ms: number): void {
  if (mayBlock()) {
    Atomics.wait(sleepCell(), 0, 0, ms);
    return;
  }
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

type Timer = { ref?(): unknown; unref?(): unknown } | number;

/** @internal Keeps the thread's event loop alive while it waits for another
 *  thread (a pending Atomics.waitAsync does not, in Node, Deno or Bun).
 *  Node and Bun ref/unref one timer; elsewhere it is created and cleared. */
export class KeepAlive {
  #timer: Timer | undefined;
  #held = false;

  hold(): void {
    if (this.#held) return;
    this.#held = true;
    const t = this.#timer;
    if (typeof t === "object" && typeof t.ref === "function") t.ref();
    else this.#timer = setInterval(noop, 2 ** 30) as Timer;
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    const t = this.#timer;
    if (typeof t === "object" && typeof t.unref === "function") t.unref();
    else {
      clearInterval(t as number);
      this.#timer = undefined;
    }
  }
}

function noop(): void {}

/** @internal The message for a runtime without shared memory. */
export function sharedMemoryMissing(): string | undefined {
  if (typeof SharedArrayBuffer === "function") return undefined;
  const page = typeof (globalThis as { document?: unknown }).document === "object";
  return page
    ? "ringlock needs shared memory, which a page has only when it is cross-origin isolated: serve it with the " +
        "headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp " +
        "(or credentialless)"
    : "ringlock needs SharedArrayBuffer, which this runtime does not provide (in a browser worker, the page " +
        "must be served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: " +
        "require-corp or credentialless)";
}

/** @internal Whether threads of this runtime may have drawn ids, so that their
 *  deaths are noticed through life locks (bindings/deaths.ts): browsers, and
 *  Deno's Web Workers. Node and Bun number all their threads. */
export const drawnIds: boolean =
  threadId >= RANDOM_TID_BASE ||
  typeof (globalThis as { Deno?: unknown }).Deno === "object" ||
  builtin("node:worker_threads") === undefined;
