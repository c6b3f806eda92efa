// Waking on a shared word without blocking the event loop: Atomics.waitAsync
// where the runtime has it. Where it does not (Firefox before 145, including
// Firefox ESR 140), a pool of helper workers, each blocked in Atomics.wait on
// one word for one waiter, posts a message when the word is notified: the
// lock itself is never polled. EngineOptions.waker forces the fallback (tests).

export type WaitResult =
  | { async: false; value: "not-equal" | "timed-out" }
  | { async: true; value: Promise<"ok" | "not-equal" | "timed-out"> };

/** Like Atomics.waitAsync(i32, index, value), with no timeout. */
export type WaitAsync = (i32: Int32Array, index: number, value: number) => WaitResult;

/** How a thread waits for other threads: "auto" uses Atomics.waitAsync where the
 *  runtime has it and helper workers elsewhere; "worker" always uses helper workers. */
export type WakerKind = "auto" | "worker";

/** @internal The wait function for a kind of waker; throws a TypeError where none works. */
export function waker(kind: WakerKind): WaitAsync {
  const native = (Atomics as { waitAsync?: WaitAsync }).waitAsync;
  if (kind === "auto" && typeof native === "function") return native.bind(Atomics);
  if (typeof (globalThis as { Worker?: unknown }).Worker !== "function" || typeof Blob !== "function") {
    throw new TypeError(
      "ringlock: this runtime has neither Atomics.waitAsync nor Web Workers to wait with; " +
        `waker "${kind}" is not available here`,
    );
  }
  return helperWait;
}

// One helper per concurrently pending wait, reused: a helper blocked in
// Atomics.wait serves one waiter until the word is notified.
const HELPER = `onmessage = (e) => {
  const [buffer, index, value, id] = e.data;
  postMessage([id, Atomics.wait(new Int32Array(buffer), index, value)]);
};`;
const idle: Worker[] = [];
const pending = new Map<number, (r: "ok" | "not-equal" | "timed-out") => void>();
let helperUrl: string | undefined;
let nextId = 0;

function helperWait(i32: Int32Array, index: number, value: number): WaitResult {
  if (Atomics.load(i32, index) !== value) return { async: false, value: "not-equal" };
  let w = idle.pop();
  if (w === undefined) {
    helperUrl ??= URL.createObjectURL(new Blob([HELPER], { type: "text/javascript" }));
    const helper = new Worker(helperUrl, { type: "module", name: "ringlock-waker" });
    helper.onmessage = (e: MessageEvent<[number, "ok" | "not-equal" | "timed-out"]>) => {
      const [id, r] = e.data;
      idle.push(helper);
      const resolve = pending.get(id);
      pending.delete(id);
      resolve?.(r);
    };
    w = helper;
  }
  const id = nextId++;
  const promise = new Promise<"ok" | "not-equal" | "timed-out">((resolve) => pending.set(id, resolve));
  w.postMessage([i32.buffer, index, value, id]);
  return { async: true, value: promise };
}
