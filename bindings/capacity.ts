// CapacityLimiter: a semaphore of `total` tokens whose total can change
// (the engine sets the limit and re-runs the grant loop: raising it grants
// queued requests at once, lowering it takes effect as tokens come back),
// with borrowers: one token per borrower at a time, across threads.
//
// Borrower registry: a SharedArrayBuffer that travels with the limiter (as
// its share()d value), read and written only under the limiter's internal
// word (Engine enter/leave, which a reaper seizes from a dead thread). A slot
// names the borrower and the request's node and generation: it counts while
// that node is waiting or held with that generation, so a release, a cancel
// or the death of the borrower's thread (its nodes freed by the reaper) ends
// it without anyone writing the slot. A slot is reserved before the request
// is made, so the borrower is recorded before any hand-off.
//
//   slot (SLOT int32 words)
//   0 STATE  0 free, 1 used       4 GEN    the node's generation
//   1 THR    thread record        5 TYPE   1 string, 2 number
//   2 ALIVE  its R_ALIVE stamp    6 LEN    string length (UTF-16 units)
//   3 NODE   the request, or 0    8..     the key (MAX_KEY units, or a float64)

import {
  CTL_GEN_SHIFT,
  CTL_STATE_MASK,
  N_CTL,
  QUEUED_BIT,
  R_ALIVE,
  S_LIMIT,
  SK_LIMITER,
  SO_LIMIT,
  ST_FREE,
} from "../assembly/layout.js";
import { assertCanBlock } from "./blocking.js";
import { engineError, LockError, rangeError, typeError } from "./errors.js";
import {
  type AcquireOptions,
  type Adopted,
  type Guard,
  type LockOptions,
  type LockState,
  refusal,
  rejecting,
  type SharedLock,
} from "./lock.js";
import { adoptSync, count, SyncCore } from "./sync.js";

export type Borrower = string | number;

export interface CapacityAcquireOptions extends AcquireOptions {
  /** Who borrows the token (any string or number); one token per borrower at a time. Default: the request itself. */
  borrower?: Borrower;
}

export interface CapacityLimiterOptions extends LockOptions {
  /** Most named borrowers holding or awaiting tokens at once, across threads (default 256). */
  maxBorrowers?: number;
}

const SLOT = 28;
const MAX_KEY = 40;
const HEAD = 4;

function borrowerError(b: Borrower): LockError {
  return new LockError(
    "ERR_RINGLOCK_BORROWER",
    `ringlock: borrower ${JSON.stringify(b)} already holds or awaits a token of this CapacityLimiter`,
  );
}

function checkBorrower(b: unknown): Borrower {
  if (typeof b === "number") {
    if (Number.isNaN(b)) throw typeError("a borrower number cannot be NaN");
    return b;
  }
  if (typeof b !== "string") throw typeError("a borrower is a string or a number");
  if (b.length > MAX_KEY) throw rangeError(`a borrower string has at most ${MAX_KEY} characters`);
  return b;
}

/** Limits how many tokens are out at once; `total` can change at any time. Strictly FIFO. */
export class CapacityLimiter extends SyncCore {
  /** @internal */ readonly kind: string = "CapacityLimiter";
  readonly #reg: Int32Array;
  readonly #f64 = new Float64Array(1);
  readonly #f64i = new Int32Array(this.#f64.buffer);

  constructor(total: number, opts?: CapacityLimiterOptions);
  /** @internal */ constructor(total: number, opts: CapacityLimiterOptions | undefined, adopt: Adopted);
  constructor(total: number, opts?: CapacityLimiterOptions, adopt?: Adopted) {
    const t = adopt ? 0 : count("total", total, 0);
    super(SK_LIMITER, t, 0, 0, opts, adopt);
    if (adopt) {
      if (!(adopt.value instanceof SharedArrayBuffer)) throw typeError("corrupted CapacityLimiter descriptor");
      this.#reg = new Int32Array(adopt.value);
    } else {
      const n = count("maxBorrowers", opts?.maxBorrowers ?? 256, 1);
      this.#reg = new Int32Array(new SharedArrayBuffer(4 * (HEAD + n * SLOT)));
      this.#reg[0] = n;
    }
  }

  /** A structured-clonable value that `CapacityLimiter.from()` turns back into this limiter in any thread. */
  share(): SharedLock {
    return { ...super.share(), value: this.#reg.buffer };
  }

  /** @internal The limit a blocking request is checked against (bindings/blocking.ts). */
  limitOf(_m: number): number {
    return this.total;
  }

  /** Tokens in all. Setting it grants queued requests at once (raised) or takes effect as tokens come back (lowered). */
  get total(): number {
    return this.word(S_LIMIT);
  }

  set total(n: number) {
    this.op(SO_LIMIT, count("total", n, 0));
  }

  /** Tokens out now, across threads. */
  get borrowed(): number {
    return this.heldIndex(0);
  }

  get available(): number {
    return Math.max(0, this.total - this.borrowed);
  }

  /** The named borrowers holding tokens now, across threads (requests without a borrower are not listed). */
  get borrowers(): Borrower[] {
    const out: Borrower[] = [];
    this.#locked(() => {
      const reg = this.#reg;
      for (let s = 0; s < reg[0]; s++) {
        const at = HEAD + s * SLOT;
        if (this.#live(at) === 2) out.push(this.#key(at));
      }
    });
    return out;
  }

  query(): LockState<"wait"> {
    return this.snapshot() as LockState<"wait">;
  }

  // Runs fn under the limiter's internal word.
  #locked<T>(fn: () => T): T {
    const e = this.engine;
    const l = this.peek();
    e.sync(() => e.x.enter(e.thr, l));
    try {
      return fn();
    } finally {
      e.x.leave(e.thr, l);
    }
  }

  // 0: the slot counts for nothing; 1: reserved or waiting; 2: holding.
  #live(at: number): number {
    const reg = this.#reg;
    if (Atomics.load(reg, at) !== 1) return 0;
    const i32 = this.engine.refresh();
    const thr = reg[at + 1];
    if (Atomics.load(i32, (thr + R_ALIVE) >> 2) !== reg[at + 2]) return 0;
    const node = reg[at + 3];
    if (node === 0) return 1;
    const ctl = Atomics.load(i32, (node + N_CTL) >> 2);
    if ((ctl & CTL_STATE_MASK) === ST_FREE || ctl >>> CTL_GEN_SHIFT !== reg[at + 4] >>> 0) return 0;
    return (ctl & CTL_STATE_MASK) === 2 ? 2 : 1;
  }

  #key(at: number): Borrower {
    const reg = this.#reg;
    if (reg[at + 5] === 2) {
      this.#f64i[0] = reg[at + 8];
      this.#f64i[1] = reg[at + 9];
      return this.#f64[0];
    }
    const len = reg[at + 6];
    let s = "";
    for (let i = 0; i < len; i++) s += String.fromCharCode((reg[at + 8 + (i >> 1)] >>> ((i & 1) * 16)) & 0xffff);
    return s;
  }

  #same(at: number, b: Borrower): boolean {
    const reg = this.#reg;
    if (typeof b === "number") return reg[at + 5] === 2 && Object.is(this.#key(at), b);
    return reg[at + 5] === 1 && reg[at + 6] === b.length && this.#key(at) === b;
  }

  // Reserves a slot for b (under the word), or throws if b holds or awaits a token.
  #reserve(b: Borrower): number {
    return this.#locked(() => {
      const reg = this.#reg;
      let free = -1;
      for (let s = 0; s < reg[0]; s++) {
        const at = HEAD + s * SLOT;
        if (this.#live(at) === 0) {
          if (free < 0) free = at;
        } else if (this.#same(at, b)) {
          throw borrowerError(b);
        }
      }
      if (free < 0) throw rangeError(`more than maxBorrowers (${reg[0]}) named borrowers at once`);
      const e = this.engine;
      reg[free + 1] = e.thr;
      reg[free + 2] = Atomics.load(e.refresh(), (e.thr + R_ALIVE) >> 2);
      reg[free + 3] = 0;
      if (typeof b === "number") {
        this.#f64[0] = b;
        reg[free + 5] = 2;
        reg[free + 8] = this.#f64i[0];
        reg[free + 9] = this.#f64i[1];
      } else {
        reg[free + 5] = 1;
        reg[free + 6] = b.length;
        for (let i = 0; i < b.length; i += 2) {
          reg[free + 8 + (i >> 1)] = b.charCodeAt(i) | ((i + 1 < b.length ? b.charCodeAt(i + 1) : 0) << 16);
        }
      }
      Atomics.store(reg, free, 1);
      return free;
    });
  }

  // Names the request's node in slot `at` (or frees it: node 0 after a failure).
  #bind(at: number, r: number): void {
    const reg = this.#reg;
    if (r <= 0) {
      Atomics.store(reg, at, 0);
      return;
    }
    const node = r & ~QUEUED_BIT;
    const i32 = this.engine.view(node);
    reg[at + 4] = i32[(node + N_CTL) >> 2] >>> CTL_GEN_SHIFT;
    Atomics.store(reg, at + 3, node);
  }

  // Makes the request; returns the engine's answer (node, QUEUED_BIT, or < 0).
  #request(b: Borrower | undefined, tryOnly: boolean): number {
    const e = this.engine;
    const l = this.peek();
    const at = b === undefined ? -1 : this.#reserve(b);
    let r: number;
    try {
      r = e.sync(() => (tryOnly ? e.x.tryAcquire(e.thr, l, 0, 1) : e.x.acquire(e.thr, l, 0, 1)));
    } catch (err) {
      if (at >= 0) this.#bind(at, 0);
      throw err;
    }
    if (at >= 0) this.#bind(at, r);
    if (r < 0) throw engineError(r, e.maxMemoryBytes);
    return r;
  }

  /** Borrows a token. A borrower that already holds or awaits one is refused with a LockError. */
  acquire(o?: CapacityAcquireOptions): Promise<Guard> {
    return rejecting(() => {
      const no = refusal(o);
      if (no !== undefined) return Promise.reject(no);
      const b = o?.borrower === undefined ? undefined : checkBorrower(o.borrower);
      return this.submit(this.#request(b, false), 1, o);
    });
  }

  /** A token now if one is free and nobody waits, else null. */
  tryAcquire(borrower?: Borrower): Guard | null {
    const b = borrower === undefined ? undefined : checkBorrower(borrower);
    if (this.engine.deferring) return null;
    const r = this.#request(b, true);
    if (r === 0) return null;
    return this.submitSync(r, 1, undefined, -1);
  }

  /** Runs fn holding a token; releases it after (also if fn throws). */
  async run<T>(fn: (g: Guard) => T | PromiseLike<T>, o?: CapacityAcquireOptions): Promise<T> {
    if (typeof fn !== "function") throw typeError("run() needs a function");
    const g = await this.acquire(o);
    try {
      return await fn(g);
    } finally {
      g.release();
    }
  }

  /** Blocking acquire (workers only). */
  acquireSync(o?: CapacityAcquireOptions): Guard {
    assertCanBlock("acquireSync");
    const no = refusal(o);
    if (no !== undefined) throw no;
    const b = o?.borrower === undefined ? undefined : checkBorrower(o.borrower);
    return this.submitSync(this.#request(b, false), 1, o, 0);
  }

  static from(shared: SharedLock): CapacityLimiter {
    return adoptSync(shared, "CapacityLimiter", SK_LIMITER, (a) => new CapacityLimiter(0, undefined, a));
  }
}
