// The Web Locks API (W3C), across every thread of an engine: `locks` (on the
// default engine) and `new LockManager({ engine })`. Each name is a named lock
// of kind "LockManager" with the modes exclusive and shared, so requests from
// every thread queue in one strict-FIFO queue in shared memory.
//
// steal: the engine marks every holder STOLEN and grants at once (queue.ts,
// steal()); each holder's thread hears of it (Engine.watchStolen) and rejects
// that request's promise with an AbortError while its callback runs on; the
// stolen node is freed when the callback settles.

import {
  CTL_MODE_MASK,
  CTL_MODE_SHIFT,
  CTL_STATE_MASK,
  E_KIND,
  E_LEN,
  E_LOCK,
  E_NEXT,
  ERR_RETRY,
  H_ALLOC,
  H_NAMES,
  L_HEAD,
  L_HOLDS,
  N_CTL,
  N_HNEXT,
  N_NEXT,
  N_OWNER,
  NAME_BUCKETS,
  R_TID,
  ST_HELD,
} from "../assembly/layout.js";
import { Engine } from "./engine.js";
import { typeError } from "./errors.js";
import { type Guard, LockCore, normaliseModes, rejecting } from "./lock.js";
import { nameUnits } from "./names.js";

const MODES = normaliseModes({
  exclusive: { conflicts: ["exclusive", "shared"] },
  shared: { conflicts: ["exclusive"] },
});
const MODE_NAMES = ["exclusive", "shared"] as const;
const KIND_CODE = 5; // "LockManager" in bindings/names.ts
const IDLE_MAX = 1024;

export type LockMode = "exclusive" | "shared";

export interface LockOptions {
  mode?: LockMode;
  ifAvailable?: boolean;
  steal?: boolean;
  signal?: AbortSignal;
}

export interface LockInfo {
  name: string;
  mode: LockMode;
  clientId: string;
}

export interface LockManagerSnapshot {
  held: LockInfo[];
  pending: LockInfo[];
}

export type LockGrantedCallback<T> = (lock: Lock | null) => T | PromiseLike<T>;

/** A granted Web Lock, as the request's callback receives it. */
export class Lock {
  readonly #name: string;
  readonly #mode: LockMode;
  /** @internal */
  constructor(name: string, mode: LockMode) {
    this.#name = name;
    this.#mode = mode;
  }
  get name(): string {
    return this.#name;
  }
  get mode(): LockMode {
    return this.#mode;
  }
}

// One thread's object for one name while it has requests on it.
class NamedWebLock extends LockCore {
  /** @internal */ readonly kind: string = "LockManager";
  /** @internal requests of this thread on the name through this manager */ users = 0;
  constructor(name: string, engine: Engine) {
    super(MODES, { engine, name });
  }
}

function notSupported(message: string): DOMException {
  return new DOMException(message, "NotSupportedError");
}

function toName(name: unknown): string {
  if (typeof name === "symbol") throw typeError("a lock name must be a string, not a symbol");
  return String(name);
}

/** The Web Locks API over one engine's named locks, across all of its threads. */
export class LockManager {
  readonly #engine: Engine | undefined;
  readonly #names = new Map<string, NamedWebLock>();
  // Names with no request of this thread, oldest first: let go after a turn
  // of the event loop, or at once beyond IDLE_MAX (a loop over many names).
  readonly #idle = new Set<NamedWebLock>();
  #sweep: ReturnType<typeof setTimeout> | undefined;

  constructor(options: { engine?: Engine } = {}) {
    if (options === null || typeof options !== "object") throw typeError("LockManager options must be an object");
    if (options.engine !== undefined && !(options.engine instanceof Engine)) {
      throw typeError("options.engine must be an Engine");
    }
    this.#engine = options.engine;
  }

  get #e(): Engine {
    return this.#engine ?? Engine.default;
  }

  request<T>(name: string, callback: LockGrantedCallback<T>): Promise<Awaited<T>>;
  request<T>(name: string, options: LockOptions, callback: LockGrantedCallback<T>): Promise<Awaited<T>>;
  request<T>(name: string, ...rest: unknown[]): Promise<Awaited<T>> {
    return rejecting(() => this.#request(name, rest[0], rest[1], rest.length + 1));
  }

  #request<T>(rawName: unknown, a: unknown, b: unknown, argc: number): Promise<Awaited<T>> {
    const name = toName(rawName);
    const options = (argc >= 3 ? a : undefined) as LockOptions | null | undefined;
    const callback = (argc >= 3 ? b : a) as LockGrantedCallback<T>;
    if (typeof callback !== "function") throw typeError("request() needs a callback function");
    if (options !== undefined && options !== null && typeof options !== "object") {
      throw typeError("request() options must be an object");
    }
    const modeRaw = options?.mode;
    const mode = modeRaw === undefined ? "exclusive" : String(modeRaw);
    if (mode !== "exclusive" && mode !== "shared") {
      throw typeError(`The provided value '${mode}' is not a valid enum value of type LockMode.`);
    }
    const ifAvailable = Boolean(options?.ifAvailable);
    const steal = Boolean(options?.steal);
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw typeError("options.signal must be an AbortSignal");
    if (name.startsWith("-")) return Promise.reject(notSupported("Names starting with '-' are reserved"));
    if (steal && ifAvailable) return Promise.reject(notSupported("steal and ifAvailable cannot be used together"));
    if (steal && mode !== "exclusive") return Promise.reject(notSupported("steal is only for exclusive requests"));
    if (signal !== undefined && (steal || ifAvailable)) {
      return Promise.reject(notSupported("signal cannot be used with steal or ifAvailable"));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const m = mode === "exclusive" ? 0 : 1;
    const lock = this.#use(name);
    let now: Guard | null | undefined;
    if (ifAvailable || steal) {
      try {
        now = steal ? lock.stealIndex(m, 1) : lock.tryIndex(m, 1);
      } catch (err) {
        this.#unuse(lock);
        throw err;
      }
    }
    // One promise per request: settled by the callback's outcome, or at once
    // with an AbortError if the hold is stolen (the callback runs on, and the
    // stolen hold is freed when it settles).
    return new Promise<Awaited<T>>((resolve, reject) => {
      let held: Guard | null = null;
      let done = false;
      // Lets go of the hold and of the name, then settles; each step is
      // guarded, so the promise settles whatever throws.
      const finish = (ok: boolean, v: unknown): void => {
        if (done) return;
        done = true;
        const g = held;
        held = null;
        let failure: { err: unknown } | undefined;
        try {
          if (g !== null) {
            lock.unwatchSteal(g);
            g.release();
          }
        } catch (err) {
          failure = { err };
        }
        try {
          this.#unuse(lock);
        } catch (err) {
          failure ??= { err };
        }
        if (failure !== undefined) reject(failure.err);
        else if (ok) resolve(v as Awaited<T>);
        else reject(v);
      };
      const run = (g: Guard | null): void => {
        held = g;
        try {
          // Granting is asynchronous in the specification: an abort signalled
          // before the callback runs (even right after request()) still wins.
          if (signal?.aborted) {
            finish(false, signal.reason);
            return;
          }
          if (g !== null) {
            lock.watchSteal(g, () =>
              reject(new DOMException("the lock was stolen by a request with steal", "AbortError")),
            );
          }
          Promise.resolve(callback(g === null ? null : new Lock(name, mode))).then(
            (v) => finish(true, v),
            (err) => finish(false, err),
          );
        } catch (err) {
          finish(false, err);
        }
      };
      try {
        if (now !== undefined) {
          const g = now;
          queueMicrotask(() => run(g));
        } else {
          lock.acquireIndex(m, 1, signal === undefined ? undefined : { signal }).then(run, (err) => finish(false, err));
        }
      } catch (err) {
        finish(false, err);
      }
    });
  }

  // This thread's object for a name, made on first use and kept until a
  // turn of the event loop passes with no request on it (then its handle goes,
  // and the name is reclaimed once no thread uses it).
  #use(name: string): NamedWebLock {
    let lock = this.#names.get(name);
    if (lock === undefined) {
      lock = new NamedWebLock(name, this.#e);
      this.#names.set(name, lock);
    } else if (lock.users === 0) {
      this.#idle.delete(lock);
    }
    lock.users++;
    return lock;
  }

  #unuse(lock: NamedWebLock): void {
    if (--lock.users !== 0) return;
    this.#idle.add(lock);
    if (this.#idle.size > IDLE_MAX) {
      const oldest = this.#idle.values().next().value as NamedWebLock;
      this.#drop(oldest);
    }
    this.#sweep ??= setTimeout(this.#sweepIdle, 0);
  }

  #drop(lock: NamedWebLock): void {
    this.#idle.delete(lock);
    this.#names.delete(lock.name as string);
    lock.dispose();
  }

  #sweepIdle = (): void => {
    this.#sweep = undefined;
    for (const lock of this.#idle) this.#drop(lock);
  };

  /** Every held and pending request of the engine's Web Locks names, across all threads:
   *  held in grant order and pending in queue order, per name. */
  query(): Promise<LockManagerSnapshot> {
    return rejecting(() => Promise.resolve(snapshot(this.#e)));
  }
}

// Walks the name registry under ALLOC (which keeps every entry alive), and
// each Web Locks name's lock under its word (ALLOC, then WORD: the engine's
// lock order).
function snapshot(e: Engine): LockManagerSnapshot {
  const held: LockInfo[] = [];
  const pending: LockInfo[] = [];
  e.sync(() => e.x.enter(e.thr, H_ALLOC));
  try {
    const i32 = e.refresh();
    const u16 = new Uint16Array(i32.buffer);
    const buckets = i32[H_NAMES >> 2];
    if (buckets === 0) return { held, pending };
    for (let b = 0; b < NAME_BUCKETS; b++) {
      for (let en = i32[(buckets >> 2) + b]; en !== 0; en = i32[(en + E_NEXT) >> 2]) {
        if (i32[(en + E_KIND) >> 2] !== KIND_CODE) continue;
        const name = readName(i32, u16, en);
        const l = i32[(en + E_LOCK) >> 2];
        const info = (p: number): LockInfo => ({
          name,
          mode: MODE_NAMES[(i32[(p + N_CTL) >> 2] >>> CTL_MODE_SHIFT) & CTL_MODE_MASK],
          clientId: String(i32[(i32[(p + N_OWNER) >> 2] + R_TID) >> 2]),
        });
        const locked = e.persist(() => e.x.enter(e.thr, l)) !== ERR_RETRY;
        try {
          const h: LockInfo[] = [];
          for (let p = i32[(l + L_HOLDS) >> 2]; p !== 0; p = i32[(p + N_HNEXT) >> 2]) {
            // A stolen hold is no longer held (its callback may still run).
            if ((i32[(p + N_CTL) >> 2] & CTL_STATE_MASK) === ST_HELD) h.push(info(p));
          }
          held.push(...h.reverse());
          for (let p = i32[(l + L_HEAD) >> 2]; p !== 0; p = i32[(p + N_NEXT) >> 2]) pending.push(info(p));
        } finally {
          if (locked) e.x.leave(e.thr, l);
        }
      }
    }
  } finally {
    e.x.leave(e.thr, H_ALLOC);
  }
  return { held, pending };
}

function readName(i32: Int32Array, u16: Uint16Array, en: number): string {
  const units: number[] = [];
  nameUnits(i32, en, i32[(en + E_LEN) >> 2], (at) => {
    units.push(u16[at]);
  });
  let s = "";
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.slice(i, i + 4096));
  return s;
}

/** The Web Locks API on the default engine (Engine.default), shared by every thread that shares it. */
export const locks: LockManager = new LockManager();
