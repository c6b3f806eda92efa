// Engine: one shared WebAssembly.Memory holding many locks, seen from one
// thread. It loads the wasm engine over the memory, turns the engine's grant
// events (nodes pushed to this thread's inbox) into Promise settlement, wakes
// on grants from other threads with Atomics.waitAsync, reaps the holds and
// waits of workers that die, and retries, in this thread's order, the calls
// the engine answered with ERR_RETRY (an internal word stayed busy, perhaps
// held by a dead thread not yet reaped: the reaper runs from this event loop).

import {
  CTL_GEN_SHIFT,
  CTL_STATE_MASK,
  ERR_NOMEM,
  ERR_RETRY,
  H_ID,
  H_MAGIC,
  H_MAXBYTES,
  H_THREADS,
  H_VERSION,
  LAYOUT_VERSION,
  MAGIC_VALUE,
  N_CTL,
  N_LOCK,
  N_NEXT,
  PAGE,
  R_ALIVE,
  R_INBOX,
  R_NEXT,
  R_RESCAN,
  R_WAKE,
  ST_HELD,
  ST_STOLEN,
  TS_ALIVE,
  TS_MASK,
} from "../assembly/layout.js";
import { watchLives, watchWorkers } from "./deaths.js";
import { busyError, engineError, rangeError, typeError, validateFailure } from "./errors.js";
import { builtin, KeepAlive, mayBlock, pause, RANDOM_TID_BASE, sharedMemoryMissing, threadId } from "./runtime.js";
import { type WaitAsync, type WakerKind, waker } from "./waker.js";
import { engineImports, wasmModule } from "./wasm.js";

/** What the wasm engine exports (assembly/index.ts). Pointers are byte offsets. */
// Exports that take an internal word return ERR_RETRY, having done nothing,
// when the word stayed busy (its holder may be a dead thread not yet reaped).
export interface EngineExports {
  init(maxBytes: number, id0: number, id1: number): number;
  attach(tid: number, canBlock: number): number;
  liveBlocks(): number;
  heapTop(): number;
  tableNew(thr: number, n: number): number;
  tableSet(t: number, m: number, conflicts: number, limit: number): void;
  tableDrop(thr: number, t: number): number;
  markShared(): void;
  lockNew(thr: number, t: number): number;
  lockDrop(thr: number, l: number): number;
  handleNew(thr: number, l: number, owned: number): number;
  handleDrop(thr: number, h: number): number;
  acquire(thr: number, l: number, m: number, w: number): number;
  tryAcquire(thr: number, l: number, m: number, w: number): number;
  steal(thr: number, l: number, m: number, w: number): number;
  canAcquire(l: number, m: number, w: number): number;
  release(thr: number, node: number, gen: number): number;
  cancel(thr: number, node: number, gen: number): number;
  takeInbox(thr: number): number;
  watch(l: number, delta: number): void;
  enter(thr: number, l: number): number;
  leave(thr: number, l: number): void;
  markDead(tid: number): number;
  deadPending(): number;
  reapAll(thr: number): number;
  nameAlloc(thr: number, len: number): number;
  nameBind(thr: number, table: number): number;
  validate?(thr: number): number;
}

/** Receives its grant: implemented by the binding's waiter records. */
export interface GrantSink {
  /** `ctl` is the node's CTL word at grant time (mode, generation, abandoned). */
  granted(node: number, ctl: number): void;
}

export interface EngineOptions {
  /** Upper bound of the shared memory, in bytes (rounded up to 64 KiB pages). Default 256 MiB. */
  maxMemoryBytes?: number;
  /** Load the debug build, which exports validate(). For tests: import "ringlock/debug" first. */
  debug?: boolean;
  /**
   * How this thread waits for grants from other threads: "auto" (default) uses
   * Atomics.waitAsync where the runtime has it and helper Web Workers blocked
   * in Atomics.wait where it does not (Firefox before 145); "worker" forces
   * the helpers (for tests). Per thread: Engine.from() takes it too.
   */
  waker?: WakerKind;
  /**
   * Longest a request that had to queue spins (synchronously, in microseconds)
   * watching for a grant from another thread before it parks on
   * Atomics.waitAsync. A cross-thread wake-up costs ~10 us; a spin catches a
   * handoff in well under 1 us, at the price of CPU time and of that thread's
   * event loop for the spin. The spin adapts: it shrinks while spins fail and
   * grows back while they succeed. Applies only once the engine is shared
   * (before that, only this thread can grant). 0 turns it off. Default 20.
   */
  spinMicros?: number;
}

/** A plain, structured-clonable description of an engine (see Engine.share). */
export interface SharedEngine {
  readonly ringlock: "engine";
  readonly memory: WebAssembly.Memory;
  readonly debug: boolean;
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
const DEFAULT_SPIN_US = 20;
// How many idle unshared locks keep their shared block (64 B each).
const IDLE_RING = 1024;
const MAX_MAX_BYTES = 2 ** 31 - PAGE; // node pointers travel as positive i32

// Engines this thread has attached to, by the random id in their header, so
// that the same memory posted twice yields the same Engine.
const attached = new Map<string, WeakRef<Engine>>();

function engineKey(i32: Int32Array): string {
  return `${i32[H_ID >> 2]}:${i32[(H_ID >> 2) + 1]}`;
}

const noopTrue = () => true;
// Engine.sync(): how many 1 ms rounds a synchronous call waits for a busy engine.
const SYNC_RETRIES = 200;
// ...and how many a release or a cancel waits before leaving it to the event loop.
const SETTLE_RETRIES = 50;
// Engine.from() passes an existing memory to the constructor under this key.
const ADOPT = Symbol("adopt");

export class Engine {
  /** The shared memory every lock of this engine lives in. */
  readonly memory: WebAssembly.Memory;
  readonly maxMemoryBytes: number;
  readonly debug: boolean;
  /** @internal */ readonly x: EngineExports;
  /** @internal this thread's record in the engine */ readonly thr: number;
  /** @internal current view of the memory; refreshed after growth */ i32: Int32Array;
  // i32.byteLength, cached: reading byteLength of a wasm memory's view costs ~20 ns.
  #bytes = 0;
  #sinks: (GrantSink | undefined)[] = [];
  // Watched holds of this thread (Web Locks' steal), by node >> 5: the
  // grant's generation and the callback to call if it is stolen.
  readonly #stealGen: number[] = [];
  readonly #stealFn: ((() => void) | undefined)[] = [];
  #stealCount = 0;
  #pending = 0;
  #shared = false;
  #armed = false;
  readonly #keepAlive = new KeepAlive();
  /** @internal Atomics.waitAsync, or its fallback (EngineOptions.waker). */ readonly waitAsync: WaitAsync;
  #tables = new Map<string, number>();
  #watching = 0;
  #reapTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #wake: number;
  readonly #rescan: number;
  // Operations the engine answered with ERR_RETRY, run again in order from a
  // timer (see later()); the index of the first still to run.
  #deferred: (() => boolean)[] = [];
  #deferredAt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  // Adaptive spin budget, in milliseconds (performance.now() units).
  #spinMax = 0;
  #spinNow = 0;
  #spins = 0;

  #setSpin(us: number): void {
    if (typeof us !== "number" || !(us >= 0 && us <= 1_000_000)) {
      throw rangeError(`spinMicros must be a number from 0 to 1000000, got ${String(us)}`);
    }
    this.#spinMax = us / 1000;
    this.#spinNow = this.#spinMax;
  }
  /** @internal recently idle unshared locks (see LockCore.settled); a power of two */
  readonly idleRing: unknown[] = new Array(IDLE_RING).fill(undefined);
  /** @internal */ idlePos = 0;
  /** @internal lock objects of this thread by address, so from() returns the same object */
  readonly locks = new Map<number, WeakRef<object>>();

  constructor(options: EngineOptions = {}) {
    if (options === null || typeof options !== "object") throw typeError("Engine options must be an object");
    const missing = sharedMemoryMissing();
    if (missing !== undefined) throw typeError(missing);
    const kind = options.waker ?? "auto";
    if (kind !== "auto" && kind !== "worker") throw typeError(`waker must be "auto" or "worker", got ${String(kind)}`);
    this.waitAsync = waker(kind);
    const adopt = (options as { [ADOPT]?: WebAssembly.Memory })[ADOPT];
    let memory: WebAssembly.Memory;
    if (adopt) {
      memory = adopt;
      this.maxMemoryBytes = new Int32Array(memory.buffer)[H_MAXBYTES >> 2];
    } else {
      const max = options.maxMemoryBytes ?? DEFAULT_MAX_BYTES;
      if (!Number.isInteger(max) || max < 2 * PAGE || max > MAX_MAX_BYTES) {
        throw rangeError(`maxMemoryBytes must be an integer from ${2 * PAGE} to ${MAX_MAX_BYTES}, got ${String(max)}`);
      }
      const pages = Math.ceil(max / PAGE);
      memory = new WebAssembly.Memory({ initial: 1, maximum: pages, shared: true });
      this.maxMemoryBytes = pages * PAGE;
    }
    this.#setSpin(options.spinMicros ?? DEFAULT_SPIN_US);
    this.memory = memory;
    this.debug = options.debug === true;
    this.x = new WebAssembly.Instance(wasmModule(this.debug), engineImports(memory))
      .exports as unknown as EngineExports;
    if (!adopt) {
      const id = crypto.getRandomValues(new Int32Array(2));
      this.x.init(this.maxMemoryBytes, id[0], id[1]);
    }
    this.i32 = new Int32Array(memory.buffer);
    if (threadId >= RANDOM_TID_BASE && tidTaken(this.i32, threadId)) {
      // A drawn id already alive in this engine: about one chance in 2^30 per other thread.
      throw new Error(
        `ringlock: this thread's drawn id ${threadId} is already in use in this engine; retry in a new thread`,
      );
    }
    // A thread that may not block (a browser's main thread) only spins on busy words.
    const thr = this.x.attach(threadId, mayBlock() ? 1 : 0);
    if (thr === 0) throw engineError(ERR_NOMEM, this.maxMemoryBytes);
    this.refresh();
    this.thr = thr;
    this.#wake = (thr + R_WAKE) >> 2;
    this.#rescan = (thr + R_RESCAN) >> 2;
    attached.set(engineKey(this.i32), new WeakRef(this));
    if (adopt) this.markShared();
    watchLives(this);
  }

  /** This thread's id, as query() reports it: worker_threads' threadId where
   *  the runtime numbers its threads, else an id drawn once per thread. */
  static get threadId(): number {
    return threadId;
  }

  /**
   * Tells every engine of this thread that the thread `id` has ended (a
   * worker this thread terminated): what it held is released, its waits are
   * dropped. Only for threads that have ended: a live thread would lose its
   * locks. Accepts a worker_threads Worker (its threadId) or the id the worker
   * read from Engine.threadId. Usually unnecessary: deaths are noticed through
   * worker events (Node, Deno, Bun) and life locks (browsers).
   */
  static threadEnded(id: number | { readonly threadId: number }): void {
    const tid = typeof id === "number" ? id : id?.threadId;
    if (!Number.isInteger(tid) || tid < 0 || tid >= 2 ** 30) {
      throw typeError(`threadEnded expects a thread id or a Worker, got ${String(id)}`);
    }
    if (tid === threadId) throw typeError("threadEnded: this thread has not ended");
    reapEverywhere(tid);
  }

  /**
   * The engine every lock uses unless given another. Where the runtime has
   * worker_threads environment data (Node, Deno, Bun), it is the same engine
   * in a thread and in every worker spawned after ringlock was imported there
   * (and their workers), so named locks and `locks` are shared with no
   * share()/from(). Elsewhere, one per thread.
   */
  static get default(): Engine {
    defaultEngine ??= inheritedEngine();
    return defaultEngine;
  }

  /** A structured-clonable value that Engine.from() turns back into this engine in any thread. */
  share(): SharedEngine {
    this.markShared();
    return { ringlock: "engine", memory: this.memory, debug: this.debug };
  }

  /** The engine described by `shared`, attached to this thread (the same Engine object on every call).
   *  `spinMicros` sets this thread's spin bound (see EngineOptions). */
  static from(shared: SharedEngine, options: Pick<EngineOptions, "spinMicros" | "waker"> = {}): Engine {
    if (
      shared === null ||
      typeof shared !== "object" ||
      shared.ringlock !== "engine" ||
      !(shared.memory instanceof WebAssembly.Memory)
    ) {
      throw typeError("Engine.from expects the value returned by engine.share()");
    }
    const memory = shared.memory;
    const i32 = new Int32Array(memory.buffer);
    if (
      !(memory.buffer instanceof SharedArrayBuffer) ||
      i32.length < 16 ||
      i32[H_MAGIC >> 2] !== MAGIC_VALUE ||
      i32[H_VERSION >> 2] !== LAYOUT_VERSION
    ) {
      throw typeError("the shared value is not a ringlock engine of this version (bad magic or layout version)");
    }
    const found = attached.get(engineKey(i32))?.deref();
    if (found) {
      if (options.spinMicros !== undefined) found.#setSpin(options.spinMicros);
      found.markShared();
      return found;
    }
    return new Engine({
      [ADOPT]: memory,
      debug: shared.debug === true,
      spinMicros: options.spinMicros,
      waker: options.waker,
    } as EngineOptions);
  }

  /** @internal Re-reads the memory after growth (by any thread). */
  refresh(): Int32Array {
    const buf = this.memory.buffer;
    if (buf.byteLength !== this.#bytes) {
      this.i32 = new Int32Array(buf);
      this.#bytes = buf.byteLength;
    }
    return this.i32;
  }

  /** @internal A view that covers byte offset `ptr`. */
  view(ptr: number): Int32Array {
    return ptr < this.#bytes ? this.i32 : this.refresh();
  }

  /** Bytes of shared memory the engine has ever handed out (its high-water mark). */
  get heapBytes(): number {
    return this.x.heapTop();
  }

  /** Blocks (locks, waiters, holds, tables) currently allocated. */
  get liveBlocks(): number {
    return this.x.liveBlocks();
  }

  /** Debug builds only: checks every invariant of every lock; throws on the first violation. */
  validate(): void {
    const v = this.x.validate;
    if (!v) throw typeError("validate() needs an engine created with { debug: true }");
    const r = v(this.thr);
    if (r !== 0) throw new Error(`ringlock: engine invariant violated: ${validateFailure(r)} (check ${r})`);
  }

  /** @internal A mode table for this definition, created once per engine and
   *  thread; ERR_RETRY when the engine is busy (try again later). */
  table(key: string, rows: readonly { conflicts: number; limit: number }[]): number {
    let t = this.#tables.get(key);
    if (t === undefined) {
      t = this.x.tableNew(this.thr, rows.length);
      if (t === ERR_RETRY) return t;
      if (t === 0) throw engineError(ERR_NOMEM, this.maxMemoryBytes);
      for (let m = 0; m < rows.length; m++) this.x.tableSet(t, m, rows[m].conflicts, rows[m].limit);
      this.#tables.set(key, t);
    }
    return t;
  }

  /** @internal Runs op now (when nothing is deferred before it) or later, in
   *  order, until it returns true; op returns false when the engine answered
   *  ERR_RETRY. Per-thread order of engine calls is kept. */
  later(op: () => boolean): void {
    if (!this.deferring && op()) return;
    this.#deferred.push(op);
    this.deferring = true;
    this.#scheduleRetry();
  }

  /** @internal Whether operations are waiting for the engine (a try must fail meanwhile). */
  deferring = false;

  #scheduleRetry(): void {
    // A ref'd timer: it keeps the thread alive until the work is done.
    this.#retryTimer ??= setTimeout(this.#runDeferred, 1);
  }

  #runDeferred = (): void => {
    this.#retryTimer = undefined;
    // A word may be held by a thread that died: any thread may reap it.
    if (this.x.deadPending() !== 0) this.reap();
    const q = this.#deferred;
    while (this.#deferredAt < q.length) {
      if (!q[this.#deferredAt]()) {
        this.#scheduleRetry();
        return;
      }
      q[this.#deferredAt++] = noopTrue;
    }
    q.length = 0;
    this.#deferredAt = 0;
    this.deferring = false;
  };

  /** @internal Calls a synchronous engine operation, retrying for a short while
   *  (blocking) when the engine is busy; throws a LockError with code
   *  ERR_RINGLOCK_BUSY if it stays busy. */
  sync(op: () => number): number {
    const r = this.persist(op, SYNC_RETRIES);
    if (r === ERR_RETRY) throw busyError();
    return r;
  }

  /** @internal Calls op until it is not ERR_RETRY, at most `rounds` more
   *  times, reaping dead threads and sleeping 1 ms between tries. The default
   *  is what a release or cancel waits before leaving it to the event loop. */
  persist(op: () => number, rounds = SETTLE_RETRIES): number {
    let r = op();
    for (let i = 0; r === ERR_RETRY && i < rounds; i++) {
      if (this.x.deadPending() !== 0) this.reap();
      pause(1);
      r = op();
    }
    return r;
  }

  /** @internal Generation of a node, as handles carry it. */
  gen(node: number): number {
    return this.view(node)[(node + N_CTL) >> 2] >>> CTL_GEN_SHIFT;
  }

  /** @internal Registers the sink of a queued node. */
  park(node: number, sink: GrantSink): void {
    this.#sinks[node >>> 5] = sink;
    if (this.#pending++ === 0 && this.#shared) {
      // A wait may still be parked from before (drained by this thread since):
      // it is still valid, but the thread must be kept alive again.
      this.#hold();
      this.#arm();
    }
  }

  /** @internal After a request queued: if other threads may grant it, watch
   *  this thread's inbox for a while before parking. Returns whether a grant
   *  arrived (and was settled by drain()). */
  spin(): boolean {
    if (!this.#shared || this.#spinNow <= 0) return false;
    const i32 = this.i32;
    const inbox = (this.thr + R_INBOX) >> 2;
    const start = performance.now();
    // Every eighth spin probes with the full budget, so a budget shrunk by a
    // run of misses can find out that handoffs have become catchable again.
    const deadline = start + ((++this.#spins & 7) === 0 ? this.#spinMax : this.#spinNow);
    for (let i = 1; ; i++) {
      if (Atomics.load(i32, inbox) !== 0) {
        // Caught it: next time allow up to twice what this one needed.
        this.#spinNow = Math.min(this.#spinMax, Math.max(2 * (performance.now() - start), this.#spinNow));
        this.drain();
        return true;
      }
      if ((i & 31) === 0 && performance.now() > deadline) {
        // Missed: halve the budget, but keep a floor so it can recover.
        this.#spinNow = Math.max(this.#spinNow / 2, this.#spinMax / 64);
        return false;
      }
    }
  }

  /** @internal The sink parked for a node, if its request is still pending. */
  parked(node: number): GrantSink | undefined {
    return this.#sinks[node >>> 5];
  }

  /** @internal Forgets a node's sink (cancelled). */
  unpark(node: number): void {
    this.#sinks[node >>> 5] = undefined;
    if (--this.#pending === 0) this.#idle();
  }

  // Hands a grant to the request parked on its node, if it is still pending.
  #settle(node: number, ctl: number): void {
    const sink = this.#sinks[node >>> 5];
    if (sink === undefined) return;
    this.#sinks[node >>> 5] = undefined;
    this.#pending--;
    sink.granted(node, ctl);
  }

  /** @internal Settles every grant pushed to this thread's inbox, in grant order. */
  drain(): void {
    let p = this.x.takeInbox(this.thr);
    while (p !== 0) {
      // Per node: a batch can span memory grown since the last refresh.
      const i32 = this.view(p);
      const next = i32[(p + N_NEXT) >> 2];
      const ctl = i32[(p + N_CTL) >> 2];
      if ((ctl & CTL_STATE_MASK) === ST_HELD) this.#settle(p, ctl);
      p = next;
    }
    if (this.#pending === 0) this.#idle();
  }

  /** @internal Releases a held node; settles grants it causes in this thread.
   *  Returns false when the engine was busy (nothing done: call again later). */
  release(node: number, gen: number): boolean {
    let r = this.x.release(this.thr, node, gen);
    // A release must not wait for this thread's event loop if it can help it:
    // the thread may block next (a pool worker idles in Atomics.wait), and a
    // deferred release would keep the lock held all that time.
    if (r === ERR_RETRY) r = this.#releaseRetry(node, gen);
    if (r > 0) this.drain();
    else if (r === ERR_RETRY) return false;
    else if (r < 0) throw engineError(r, this.maxMemoryBytes);
    return true;
  }

  // Out of line: a closure in release() itself would cost every call a context.
  #releaseRetry(node: number, gen: number): number {
    return this.persist(() => this.x.release(this.thr, node, gen));
  }

  /** @internal From now on, grants may come from other threads: listen for them. */
  markShared(): void {
    if (this.#shared) return;
    this.#shared = true;
    this.x.markShared();
    if (this.#pending > 0) this.#hold();
    // Holds watched for a steal need the wake-up too (RESCAN), not a keep-alive.
    if (this.#pending > 0 || this.#stealCount > 0) this.#arm();
  }

  // Parks on this thread's WAKE word until another thread pushes a grant.
  // Load WAKE, then empty the inbox, then wait on the value loaded: a push
  // that the drain missed has bumped WAKE, so the wait returns at once.
  #arm(): void {
    if (this.#armed) return;
    for (;;) {
      const i32 = this.refresh();
      const seen = Atomics.load(i32, this.#wake);
      if (Atomics.load(i32, this.#rescan) !== 0) this.#rescanWaits(i32);
      this.drain();
      if (this.#pending === 0 && this.#stealCount === 0) return;
      const w = this.waitAsync(i32, this.#wake, seen);
      if (w.async) {
        this.#armed = true;
        w.value.then(this.#onWake);
        return;
      }
    }
  }

  // A reaper finished a grant whose granter died: it may never have reached
  // our inbox. Grants are decided by the node's CTL word (HELD); a HELD node
  // whose lock's word is free has finished its grant's critical section, so it
  // was pushed before now or never will be. Take those, drain the inbox (which
  // settles the ones that were pushed), then settle the rest.
  #rescanWaits(i32: Int32Array): void {
    Atomics.store(i32, this.#rescan, 0);
    const found: number[] = [];
    let busy = false;
    this.#sinks.forEach((_sink, i) => {
      const node = i << 5;
      if ((i32[(node + N_CTL) >> 2] & CTL_STATE_MASK) !== ST_HELD) return;
      if (Atomics.load(i32, i32[(node + N_LOCK) >> 2] >> 2) === 0) found.push(node);
      else busy = true;
    });
    this.drain();
    for (const node of found) this.#settle(node, i32[(node + N_CTL) >> 2]);
    this.checkStolen();
    if (this.#pending === 0) this.#idle();
    // A grant still inside its critical section: look again shortly.
    if (busy) {
      Atomics.store(i32, this.#rescan, 1);
      setTimeout(() => Atomics.notify(this.refresh(), this.#wake), 1);
    }
  }

  #onWake = (): void => {
    this.#armed = false;
    if (this.#pending > 0 || this.#stealCount > 0) this.#arm();
    else this.#idle();
  };

  /** @internal Calls onStolen once if held node (node, gen) is stolen (the
   *  engine marks it STOLEN and raises this thread's RESCAN). Listening keeps
   *  the wake-up armed, not the thread alive. */
  watchStolen(node: number, gen: number, onStolen: () => void): void {
    // It may have been stolen before anyone listened (a steal right after the
    // grant, its RESCAN already handled): look at this node now. The others
    // were looked at when they were watched, and are at every RESCAN.
    if (this.#stolen(node, gen)) {
      onStolen();
      return;
    }
    const i = node >>> 5;
    if (this.#stealFn[i] === undefined) this.#stealCount++;
    this.#stealGen[i] = gen;
    this.#stealFn[i] = onStolen;
    if (this.#shared) this.#arm();
  }

  #stolen(node: number, gen: number): boolean {
    const ctl = this.view(node)[(node + N_CTL) >> 2];
    return (ctl & CTL_STATE_MASK) === ST_STOLEN && ctl >>> CTL_GEN_SHIFT === gen;
  }

  /** @internal Stops listening for node's theft. */
  unwatchStolen(node: number): void {
    const i = node >>> 5;
    if (this.#stealFn[i] === undefined) return;
    this.#stealFn[i] = undefined;
    this.#stealCount--;
  }

  /** @internal Tells the owners of this thread's stolen holds. Scans the
   *  watch arrays (up to the highest node watched, like #rescanWaits' scan of
   *  #sinks): only on a steal or a RESCAN, never per grant. */
  checkStolen(): void {
    if (this.#stealCount === 0) return;
    this.#stealFn.forEach((onStolen, i) => {
      if (onStolen === undefined || !this.#stolen(i << 5, this.#stealGen[i])) return;
      this.#stealFn[i] = undefined;
      this.#stealCount--;
      onStolen();
    });
  }

  // A pending waitAsync does not keep a thread alive; KeepAlive does.
  #hold(): void {
    this.#keepAlive.hold();
  }

  #idle(): void {
    if (this.#watching > 0) return;
    this.#keepAlive.release();
  }

  /** @internal whenAcquirable() parked on some lock's VERSION word (+1 / -1).
   *  Kept alive even unshared: the wake-up comes as a task, and a runtime with
   *  nothing else to do may end first (Deno does). */
  watchers(delta: number): void {
    this.#watching += delta;
    if (this.#watching > 0) this.#hold();
    else if (this.#pending === 0) this.#idle();
  }

  /** @internal Marks the thread `tid` dead (it ended) and reaps it: releases
   *  what it held, drops its waits and its references. */
  reapThread(tid: number): void {
    if (this.x.markDead(tid) !== 0) this.reap();
  }

  /** @internal Reaps every thread marked dead; retries from a timer while a
   *  word it needs is busy. */
  reap(): void {
    const r = this.x.reapAll(this.thr);
    this.drain();
    if (r === ERR_RETRY) {
      // A word it needs is held, perhaps by another dead thread whose exit
      // event comes next: try again shortly (the timer keeps us alive).
      this.#reapTimer ??= setTimeout(() => {
        this.#reapTimer = undefined;
        this.reap();
      }, 1);
    }
    // ERR_POISONED: nothing more to reap; every later call reports it.
  }
}

let defaultEngine: Engine | undefined;

// The default engine travels to workers spawned later as worker_threads
// environment data under this key.
const ENV_KEY = "ringlock:engine";
interface EnvironmentData {
  getEnvironmentData?(key: string): unknown;
  setEnvironmentData?(key: string, value: unknown): void;
}
const envData = builtin<EnvironmentData>("node:worker_threads");

// The spawning thread's default engine, if it left one, else a new one left
// for the workers this thread spawns. It is marked shared when one is
// spawned (watchWorkers), not before: until then its locks take the
// single-thread fast paths.
function inheritedEngine(): Engine {
  const found = envData?.getEnvironmentData?.(ENV_KEY) as SharedEngine | undefined;
  const e = found?.ringlock === "engine" ? Engine.from(found) : new Engine();
  if (typeof envData?.setEnvironmentData === "function") {
    envData.setEnvironmentData(ENV_KEY, { ringlock: "engine", memory: e.memory, debug: e.debug });
  }
  return e;
}

// Reaps the thread `tid` in every engine this thread knows.
function reapEverywhere(tid: number): void {
  for (const [key, ref] of attached) {
    const e = ref.deref();
    if (e === undefined) attached.delete(key);
    else e.reapThread(tid);
  }
}

// Whether a live thread record of this engine has the id `tid`.
function tidTaken(i32: Int32Array, tid: number): boolean {
  for (let t = Atomics.load(i32, H_THREADS >> 2); t !== 0; t = i32[(t + R_NEXT) >> 2]) {
    const alive = Atomics.load(i32, (t + R_ALIVE) >> 2);
    if (alive >>> 2 === tid && (alive & TS_MASK) === TS_ALIVE) return true;
  }
  return false;
}

// Watch from the start: a Worker spawned before anything was shared may be
// handed a lock later, and must be reaped like any other.
watchWorkers(reapEverywhere, () => defaultEngine?.markShared());
// Made now, so that workers spawned from here on inherit it.
if (typeof envData?.setEnvironmentData === "function") void Engine.default;
