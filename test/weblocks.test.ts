// The Web Locks API (LockManager, Lock) checked for the behaviours that the Web Platform Tests for web-locks check
// (issue 10): one `it` per subtest of acquire, held, ifAvailable, lock-attributes, mode-exclusive, mode-mixed,
// mode-shared, query-empty, query, resource-names, signal and steal (`*.https.any.js`), named after it and grouped
// by file. The tests are written for ringlock from what each subtest checks; no WPT code is used (test/wpt/run.mjs
// runs the WPT files themselves, for a developer who has a copy). Every test has its own engine, so lock names are
// never shared between tests; the cross-thread query() tests hold locks in a worker (test/workers/weblocks.mjs).
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { Engine, type Lock, LockManager } from "../bindings/index.js";

/** A LockManager on an engine of its own. */
const fresh = () => new LockManager({ engine: new Engine() });

/** One turn of the event loop, so that callbacks already queued get to run. */
const turn = () => new Promise<void>((r) => setTimeout(r, 0));

/** A promise and the function that settles it. */
function latch<T = void>() {
  let open!: (value: T) => void;
  let fail!: (reason: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/** request() with any arguments at all, to check how it treats the wrong ones. */
type AnyArgs = { request(...args: unknown[]): Promise<unknown> };
const untyped = (m: LockManager) => m as unknown as AnyArgs;

/** What `p` rejects with (failing the test if it fulfils); not for a thenable reason, which returning would adopt. */
async function reason(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject, but it fulfilled");
}

/** Expects `p` to reject with a DOMException called `name`. */
async function rejectsWithDom(p: Promise<unknown>, name: string): Promise<DOMException> {
  const err = await reason(p);
  expect(err).toBeInstanceOf(DOMException);
  expect((err as DOMException).name).toBe(name);
  return err as DOMException;
}

/** Asks for `name` and keeps it until release() (a callback that returns a promise settled by release()). */
function holdUntilReleased(m: LockManager, name: string, options: Parameters<LockManager["request"]>[1] = {}) {
  const gate = latch<string>();
  const granted = latch<Lock | null>();
  let calls = 0;
  const done = m.request(name, options, (lock) => {
    calls++;
    granted.open(lock);
    return gate.promise;
  });
  return {
    done,
    granted: granted.promise,
    calls: () => calls,
    /** Settles the callback's promise and waits until the request is over (rejections included). */
    release: async (value = "released") => {
      gate.open(value);
      await done.catch(() => undefined);
    },
  };
}

/** Modes of the entries of a query() list that are for `name`. */
const modesOf = (list: { name: string; mode: string }[], name: string) =>
  list.filter((e) => e.name === name).map((e) => e.mode);
/** clientIds of the entries of a query() list that are for `name`. */
const clientsOf = (list: { name: string; clientId: string }[], name: string) =>
  list.filter((e) => e.name === name).map((e) => e.clientId);

describe("acquire.https.any.js", () => {
  it("acquire: navigator.locks.request requires a name and a callback", async () => {
    const m = untyped(fresh());
    await expect(m.request()).rejects.toBeInstanceOf(TypeError);
    await expect(m.request("res")).rejects.toBeInstanceOf(TypeError);
  });

  it('acquire: mode must be "shared" or "exclusive"', async () => {
    const m = fresh();
    let ran = 0;
    const count = () => {
      ran++;
    };
    await expect(untyped(m).request("res", { mode: "foo" }, count)).rejects.toBeInstanceOf(TypeError);
    await expect(untyped(m).request("res", { mode: null }, count)).rejects.toBeInstanceOf(TypeError);
    expect(ran).toBe(0);
    expect(await m.request("res", { mode: "exclusive" }, (lock) => lock?.mode)).toBe("exclusive");
    expect(await m.request("res", { mode: "shared" }, (lock) => lock?.mode)).toBe("shared");
  });

  it("acquire: The 'steal' and 'ifAvailable' options are mutually exclusive", async () => {
    const m = fresh();
    let ran = false;
    await rejectsWithDom(
      m.request("res", { steal: true, ifAvailable: true }, () => {
        ran = true;
      }),
      "NotSupportedError",
    );
    expect(ran).toBe(false);
  });

  it("acquire: The 'steal' option must be used with exclusive locks", async () => {
    const m = fresh();
    await rejectsWithDom(
      m.request("res", { mode: "shared", steal: true }, () => {}),
      "NotSupportedError",
    );
  });

  it("acquire: The 'signal' and 'steal' options are mutually exclusive", async () => {
    const m = fresh();
    const ac = new AbortController();
    await rejectsWithDom(
      m.request("res", { signal: ac.signal, steal: true }, () => {}),
      "NotSupportedError",
    );
  });

  it("acquire: The 'signal' and 'ifAvailable' options are mutually exclusive", async () => {
    const m = fresh();
    const ac = new AbortController();
    await rejectsWithDom(
      m.request("res", { signal: ac.signal, ifAvailable: true }, () => {}),
      "NotSupportedError",
    );
  });

  it("acquire: callback must be a function", async () => {
    const m = untyped(fresh());
    const notCallbacks: unknown[] = [undefined, null, 123, "abc", [], {}, new Promise(() => {})];
    for (const value of notCallbacks) {
      await expect(m.request("res", value), String(value)).rejects.toBeInstanceOf(TypeError);
    }
  });

  it("acquire: navigator.locks.request's returned promise resolves after lock is released", async () => {
    const m = fresh();
    const gate = latch();
    const seen: string[] = [];
    const returned = m.request("res", () => gate.promise);
    returned.then(() => seen.push("request settled"));
    gate.promise.then(() => seen.push("callback's promise settled"));
    gate.open();
    await Promise.all([returned, gate.promise]);
    expect(seen).toEqual(["callback's promise settled", "request settled"]);
  });

  it("acquire: Returned Promise rejects if callback throws synchronously", async () => {
    const m = fresh();
    const thrown = { name: "thrown by the callback" };
    const p = m.request("res", () => {
      throw thrown;
    });
    expect(Promise.resolve(p)).toBe(p);
    expect(await reason(p)).toBe(thrown);
  });

  it("acquire: Returned Promise rejects if callback throws asynchronously", async () => {
    const m = fresh();
    const thrown = { name: "thrown by the async callback" };
    const p = m.request("res", async () => {
      throw thrown;
    });
    expect(Promise.resolve(p)).toBe(p);
    expect(await reason(p)).toBe(thrown);
  });

  it("acquire: If callback throws a thenable, its then() should not be invoked", async () => {
    const m = fresh();
    let thenCalled = false;
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: the point of the test is an object with a then()
      then: () => {
        thenCalled = true;
      },
    };
    const p = m.request("res", async () => {
      throw thenable;
    });
    expect(Promise.resolve(p)).toBe(p);
    // Boxed: an async function returning the thenable itself would call its then().
    const box = await p.then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
    expect(box?.err).toBe(thenable);
    expect(thenCalled).toBe(false);
  });
});

describe("held.https.any.js", () => {
  it("held: callback's result is promisified if not async", async () => {
    const m = fresh();
    const p = m.request("res", () => 123);
    expect(Promise.resolve(p)).toBe(p);
    expect(await p).toBe(123);
  });

  it("held: lock is held until callback's returned promise resolves", async () => {
    const m = fresh();
    const first = holdUntilReleased(m, "res");
    await first.granted;
    const order: string[] = [];
    const second = m.request("res", () => {
      order.push("second granted");
    });
    await turn();
    await turn();
    expect(order).toEqual([]);
    order.push("first released");
    await Promise.all([first.release(), second]);
    expect(await first.done).toBe("released");
    expect(order).toEqual(["first released", "second granted"]);
  });

  it("held: lock is held until callback's returned promise rejects", async () => {
    const m = fresh();
    const gate = latch();
    const granted = latch();
    const first = m.request("res", () => {
      granted.open();
      return gate.promise;
    });
    const firstOutcome = reason(first);
    await granted.promise;
    const order: string[] = [];
    const second = m.request("res", () => {
      order.push("second granted");
    });
    await turn();
    await turn();
    expect(order).toEqual([]);
    const failure = new Error("the callback's promise rejects");
    order.push("first rejected");
    gate.fail(failure);
    await second;
    expect(order).toEqual(["first rejected", "second granted"]);
    // The first request's promise carries the rejection (WPT leaves it unhandled).
    expect(await firstOutcome).toBe(failure);
  });

  it("held: held lock prevents the same client from acquiring it", async () => {
    const m = fresh();
    let inner: Lock | null | undefined;
    await m.request("res", async () => {
      await m.request("res", { ifAvailable: true }, (lock) => {
        inner = lock;
      });
    });
    expect(inner).toBeNull();
  });
});

describe("ifAvailable.https.any.js", () => {
  it("ifAvailable: Lock request with ifAvailable - lock available", async () => {
    const m = fresh();
    let got: Lock | null | undefined;
    await m.request("res", { ifAvailable: true }, async (lock) => {
      got = lock;
    });
    expect(got?.name).toBe("res");
    expect(got?.mode).toBe("exclusive");
  });

  it("ifAvailable: Lock request with ifAvailable - lock not available", async () => {
    const m = fresh();
    let got: Lock | null | undefined;
    let result: unknown;
    await m.request("res", async () => {
      result = await m.request("res", { ifAvailable: true }, async (lock) => {
        got = lock;
        return 123;
      });
    });
    expect(got).toBeNull();
    expect(result).toBe(123);
  });

  it("ifAvailable: Lock request with ifAvailable - lock not available, callback throws", async () => {
    const m = fresh();
    let got: Lock | null | undefined;
    let caught: unknown = "nothing caught";
    await m.request("res", async () => {
      caught = await reason(
        m.request("res", { ifAvailable: true }, async (lock) => {
          got = lock;
          throw 123;
        }),
      );
    });
    expect(got).toBeNull();
    expect(caught).toBe(123);
  });

  it("ifAvailable: Lock request with ifAvailable - unrelated lock held", async () => {
    const m = fresh();
    let got: Lock | null | undefined;
    await m.request("res", async () => {
      await m.request("different", { ifAvailable: true }, async (lock) => {
        got = lock;
      });
    });
    expect(got?.name).toBe("different");
  });

  it("ifAvailable: Shared lock request with ifAvailable - shared lock held", async () => {
    const m = fresh();
    let got: Lock | null | undefined;
    await m.request("res", { mode: "shared" }, async () => {
      await m.request("res", { mode: "shared", ifAvailable: true }, async (lock) => {
        got = lock;
      });
    });
    expect(got?.mode).toBe("shared");
  });

  it("ifAvailable: Exclusive lock request with ifAvailable - shared lock held", async () => {
    const m = fresh();
    let got: Lock | null | undefined;
    await m.request("res", { mode: "shared" }, async () => {
      await m.request("res", { ifAvailable: true }, async (lock) => {
        got = lock;
      });
    });
    expect(got).toBeNull();
  });

  it("ifAvailable: Shared lock request with ifAvailable - exclusive lock held", async () => {
    const m = fresh();
    let got: Lock | null | undefined;
    await m.request("res", async () => {
      await m.request("res", { mode: "shared", ifAvailable: true }, async (lock) => {
        got = lock;
      });
    });
    expect(got).toBeNull();
  });

  it("ifAvailable: Returned Promise rejects if callback throws synchronously", async () => {
    const m = fresh();
    const thrown = { name: "thrown by the callback" };
    let got: Lock | null | undefined;
    let outcome: unknown;
    let isPromise = false;
    await m.request("res", async () => {
      const p = m.request("res", { ifAvailable: true }, (lock) => {
        got = lock;
        throw thrown;
      });
      isPromise = Promise.resolve(p) === p;
      outcome = await reason(p);
    });
    expect(isPromise).toBe(true);
    expect(got).toBeNull();
    expect(outcome).toBe(thrown);
  });

  it("ifAvailable: Returned Promise rejects if async callback yields rejected promise", async () => {
    const m = fresh();
    const thrown = { name: "thrown by the async callback" };
    let got: Lock | null | undefined;
    let outcome: unknown;
    let isPromise = false;
    await m.request("res", async () => {
      const p = m.request("res", { ifAvailable: true }, async (lock) => {
        got = lock;
        throw thrown;
      });
      isPromise = Promise.resolve(p) === p;
      outcome = await reason(p);
    });
    expect(isPromise).toBe(true);
    expect(got).toBeNull();
    expect(outcome).toBe(thrown);
  });

  it("ifAvailable: Locks are available once previous release is processed", async () => {
    // A lock released with no request waiting for it must be grantable to the very next ifAvailable request.
    const m = fresh();
    let secondRan = false;
    let third: Lock | null | undefined;
    await m.request("outer", async () => {
      await m.request("inner", async () => {
        secondRan = true;
      });
      await m.request("inner", { ifAvailable: true }, async (lock) => {
        third = lock;
      });
    });
    expect(secondRan).toBe(true);
    expect(third?.name).toBe("inner");
  });
});

describe("lock-attributes.https.any.js", () => {
  it("lock-attributes: Lock attributes reflect requested properties (exclusive)", async () => {
    const m = fresh();
    const seen = await m.request("resource", (lock) => ({ name: lock?.name, mode: lock?.mode }));
    expect(seen).toEqual({ name: "resource", mode: "exclusive" });
  });

  it("lock-attributes: Lock attributes reflect requested properties (shared)", async () => {
    const m = fresh();
    const seen = await m.request("resource", { mode: "shared" }, (lock) => ({ name: lock?.name, mode: lock?.mode }));
    expect(seen).toEqual({ name: "resource", mode: "shared" });
  });
});

describe("mode-exclusive.https.any.js", () => {
  it("mode-exclusive: Lock requests are granted in order", async () => {
    const m = fresh();
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3].map((n) =>
        m.request("a", () => {
          order.push(n);
        }),
      ),
    );
    expect(order).toEqual([1, 2, 3]);
  });

  it("mode-exclusive: Requests for distinct resources can be granted", async () => {
    const m = fresh();
    const order: string[] = [];
    let both: Promise<unknown> | undefined;
    await m.request("a", async () => {
      both = Promise.all([
        // Waits for the "a" this callback holds.
        m.request("a", () => {
          order.push("a");
        }),
        // Free: granted without waiting for "a".
        m.request("b", () => {
          order.push("b");
        }),
      ]);
    });
    await both;
    expect(order).toEqual(["b", "a"]);
  });
});

describe("mode-mixed.https.any.js", () => {
  it("mode-mixed: Lock requests are granted in order", async () => {
    const m = fresh();
    const gate = latch();
    const order: string[] = [];
    const shared = [1, 2, 3].map((n) =>
      m.request("a", { mode: "shared" }, async () => {
        order.push(`a shared ${n}`);
        await gate.promise;
      }),
    );
    let exclusiveLock: Lock | null = null;
    const exclusive = m.request("a", async (lock) => {
      order.push("a exclusive");
      exclusiveLock = lock;
    });
    await m.request("b", { mode: "exclusive" }, () => {
      order.push("b exclusive");
    });
    expect(order).toEqual(["a shared 1", "a shared 2", "a shared 3", "b exclusive"]);
    gate.open();
    await exclusive;
    await Promise.all(shared);
    expect(exclusiveLock).not.toBeNull();
    expect((exclusiveLock as Lock | null)?.mode).toBe("exclusive");
    expect(order).toEqual(["a shared 1", "a shared 2", "a shared 3", "b exclusive", "a exclusive"]);
  });

  it("mode-mixed: Releasing exclusive lock grants multiple shared locks", async () => {
    const m = fresh();
    const gate = latch();
    const exclusive = m.request("res", () => gate.promise);
    const readers = [1, 2, 3, 4, 5].map(() => holdUntilReleased(m, "res", { mode: "shared" }));
    let state = await m.query();
    expect(modesOf(state.held, "res")).toEqual(["exclusive"]);
    expect(modesOf(state.pending, "res")).toEqual(["shared", "shared", "shared", "shared", "shared"]);
    gate.open();
    await exclusive;
    state = await m.query();
    expect(modesOf(state.held, "res")).toEqual(["shared", "shared", "shared", "shared", "shared"]);
    expect(state.pending).toEqual([]);
    await Promise.all(readers.map((r) => r.release()));
    expect(readers.map((r) => r.calls())).toEqual([1, 1, 1, 1, 1]);
  });

  it("mode-mixed: An exclusive lock between shared locks", async () => {
    const m = fresh();
    const firstReaders = latch();
    const writer = latch();
    const first = [1, 2, 3, 4, 5].map(() => m.request("res", { mode: "shared" }, () => firstReaders.promise));
    const exclusive = m.request("res", () => writer.promise);
    const later = [1, 2, 3, 4, 5].map(() => holdUntilReleased(m, "res", { mode: "shared" }));

    let state = await m.query();
    expect(modesOf(state.held, "res")).toEqual(["shared", "shared", "shared", "shared", "shared"]);
    firstReaders.open();
    await Promise.all(first);

    state = await m.query();
    expect(modesOf(state.held, "res")).toEqual(["exclusive"]);
    expect(later.map((r) => r.calls())).toEqual([0, 0, 0, 0, 0]);
    writer.open();
    await exclusive;

    state = await m.query();
    expect(modesOf(state.held, "res")).toEqual(["shared", "shared", "shared", "shared", "shared"]);
    await Promise.all(later.map((r) => r.release()));
  });
});

describe("mode-shared.https.any.js", () => {
  it("mode-shared: Lock requests are granted in order", async () => {
    const m = fresh();
    const order: number[] = [];
    const names = ["a", "b", "c", "a", "b", "c"];
    await Promise.all(
      names.map((name, i) =>
        m.request(name, { mode: "shared" }, () => {
          order.push(i + 1);
        }),
      ),
    );
    expect(order).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("mode-shared: Shared locks are not exclusive", async () => {
    const m = fresh();
    let outer = false;
    let inner = false;
    // The inner request would wait for ever (and the test time out) if shared excluded shared.
    await m.request("a", { mode: "shared" }, async () => {
      outer = true;
      await m.request("a", { mode: "shared" }, () => {
        inner = true;
      });
    });
    expect(outer).toBe(true);
    expect(inner).toBe(true);
  });
});

describe("query-empty.https.any.js", () => {
  it("query-empty: query() returns dictionary with empty arrays when no locks are held", async () => {
    const state = await fresh().query();
    expect(Object.hasOwn(state, "pending")).toBe(true);
    expect(Array.isArray(state.pending)).toBe(true);
    expect(state.pending).toHaveLength(0);
    expect(Object.hasOwn(state, "held")).toBe(true);
    expect(Array.isArray(state.held)).toBe(true);
    expect(state.held).toHaveLength(0);
  });
});

/** A worker thread with a LockManager of its own on `engine` (test/workers/weblocks.mjs). */
function client(engine: Engine) {
  const w = new Worker(new URL("./workers/weblocks.mjs", import.meta.url), {
    workerData: { engine: engine.share() },
  });
  // Listened for at once: the worker may end before anyone awaits it.
  const exited = new Promise<number>((r) => w.once("exit", r));
  const failed = new Promise<never>((_, reject) => w.once("error", reject));
  failed.catch(() => undefined);
  let next = 0;
  /** Sends an order; resolves with the worker's answer to it. */
  const send = (order: Record<string, unknown>) => {
    const id = ++next;
    const answer = new Promise<Record<string, unknown>>((resolve) => {
      const listen = (msg: Record<string, unknown>) => {
        if (msg.id !== id) return;
        w.off("message", listen);
        resolve(msg);
      };
      w.on("message", listen);
    });
    w.postMessage({ id, ...order });
    return Promise.race([answer, failed]);
  };
  return {
    send,
    end: async () => {
      await w.terminate();
      return exited;
    },
  };
}

describe("query.https.any.js", () => {
  it("query: query() returns dictionaries with expected properties", async () => {
    const m = fresh();
    let second = false;
    let blocked: Promise<unknown> | undefined;
    let third: Lock | null | undefined;
    let state: Awaited<ReturnType<LockManager["query"]>> | undefined;
    await m.request("res", async () => {
      blocked = m.request("res", () => {
        second = true;
      });
      await m.request("res", { ifAvailable: true }, async (lock) => {
        third = lock;
        expect(second).toBe(false);
        state = await m.query();
      });
    });
    await blocked;
    expect(third).toBeNull();
    if (state === undefined) throw new Error("query() did not run");
    for (const key of ["held", "pending"] as const) {
      expect(Object.hasOwn(state, key)).toBe(true);
      expect(Array.isArray(state[key])).toBe(true);
      const info = state[key][0];
      for (const field of ["name", "mode", "clientId"])
        expect(Object.hasOwn(info, field), `${key}.${field}`).toBe(true);
    }
  });

  it("query: query() reports individual held locks", async () => {
    const m = fresh();
    const whileExclusive = await m.request("res", () => m.query());
    expect(modesOf(whileExclusive.held, "res")).toEqual(["exclusive"]);
    const whileShared = await m.request("res", { mode: "shared" }, () => m.query());
    expect(modesOf(whileShared.held, "res")).toEqual(["shared"]);
  });

  it("query: query() reports multiple held locks", async () => {
    const m = fresh();
    const state = await m.request("one", () => m.request("two", { mode: "shared" }, () => m.query()));
    expect(modesOf(state.held, "one")).toEqual(["exclusive"]);
    expect(modesOf(state.held, "two")).toEqual(["shared"]);
  });

  it("query: query() reports pending and held locks", async () => {
    const m = fresh();
    let second = false;
    let blocked: Promise<unknown> | undefined;
    const state = await m.request("res", async () => {
      blocked = m.request("res", () => {
        second = true;
      });
      return m.request("res", { ifAvailable: true }, async (lock) => {
        expect(lock).toBeNull();
        expect(second).toBe(false);
        return m.query();
      });
    });
    await blocked;
    expect(modesOf(state.pending, "res")).toEqual(["exclusive"]);
    expect(modesOf(state.held, "res")).toEqual(["exclusive"]);
  });

  it("query: query() reports held shared locks with appropriate count", async () => {
    const m = fresh();
    const state = await m.request("res", { mode: "shared" }, () =>
      m.request("res", { mode: "shared" }, () => m.query()),
    );
    expect(modesOf(state.held, "res")).toEqual(["shared", "shared"]);
  });

  it("query: query() reports pending shared locks with appropriate count", async () => {
    const m = fresh();
    const ran = [false, false];
    let blocked: Promise<unknown>[] = [];
    const state = await m.request("res", async () => {
      blocked = [0, 1].map((i) =>
        m.request("res", { mode: "shared" }, () => {
          ran[i] = true;
        }),
      );
      return m.request("res", { ifAvailable: true }, async (lock) => {
        expect(lock).toBeNull();
        expect(ran).toEqual([false, false]);
        return m.query();
      });
    });
    await Promise.all(blocked);
    expect(modesOf(state.held, "res")).toEqual(["exclusive"]);
    expect(modesOf(state.pending, "res")).toEqual(["shared", "shared"]);
  });

  it("query: query() reports the same clientId for held locks from the same context", async () => {
    const m = fresh();
    const state = await m.request("one", () => m.request("two", () => m.query()));
    const one = clientsOf(state.held, "one");
    const two = clientsOf(state.held, "two");
    expect(one).toHaveLength(1);
    expect(two).toHaveLength(1);
    expect(one).toEqual(two);
  });

  it("query: query() reports different ids for held locks from different contexts", async () => {
    const engine = new Engine();
    const m = new LockManager({ engine });
    const other = client(engine);
    try {
      expect(await other.send({ op: "request", name: "res", mode: "shared" })).toMatchObject({ granted: true });
      const state = await m.request("res", { mode: "shared" }, () => m.query());
      const ids = clientsOf(state.held, "res");
      expect(ids).toHaveLength(2);
      expect(ids[0]).not.toBe(ids[1]);
    } finally {
      await other.end();
    }
  });

  it("query: query() can observe a deadlock", async () => {
    const engine = new Engine();
    const m = new LockManager({ engine });
    const other = client(engine);
    const mine = holdUntilReleased(m, "two");
    let oneGrantedHere = false;
    try {
      // The worker holds "one"; this thread holds "two".
      expect(await other.send({ op: "request", name: "one" })).toMatchObject({ granted: true });
      await mine.granted;
      // The worker waits for "two" (no answer until granted), and cannot take it now.
      void other.send({ op: "request", name: "two" });
      expect(await other.send({ op: "request", name: "two", ifAvailable: true })).toEqual({
        id: expect.any(Number),
        granted: false,
      });
      // This thread waits for "one".
      m.request("one", () => {
        oneGrantedHere = true;
      }).catch(() => undefined);

      const state = await m.query();
      const heldOne = clientsOf(state.held, "one");
      const heldTwo = clientsOf(state.held, "two");
      const waitingOne = clientsOf(state.pending, "one");
      const waitingTwo = clientsOf(state.pending, "two");
      expect([heldOne.length, heldTwo.length, waitingOne.length, waitingTwo.length]).toEqual([1, 1, 1, 1]);
      expect(heldOne[0]).toBe(waitingTwo[0]);
      expect(heldTwo[0]).toBe(waitingOne[0]);
      expect(heldOne[0]).not.toBe(heldTwo[0]);
      expect(oneGrantedHere).toBe(false);
    } finally {
      await other.end();
      await mine.release();
    }
  });
});

/** The name WPT gives the subtest for `s`: the first UTF-16 unit of each code point, in upper-case hex. */
const unitsName = (s: string) => Array.from(s, (ch) => `0x${ch.charCodeAt(0).toString(16).toUpperCase()}`).join(" ");

describe("resource-names.https.any.js", () => {
  const names = ["", "abc\u0000def", "\ud800", "\udc00", "\udc00\ud800", "\uffff"];
  for (const name of names) {
    it(`resource-names: DOMString: ${unitsName(name)}`, async () => {
      const m = fresh();
      const granted = await m.request(name, (lock) => lock?.name);
      expect(granted).toBe(name);
    });
  }

  it("resource-names: Resource names that are not valid UTF-16 are not mangled", async () => {
    const m = fresh();
    const seen = await m.request("\ud800", async (outer) => {
      // Were "\ud800" converted to a USVString it would become "\ufffd", the same name: held, so not available.
      const inner = await m.request("\ufffd", { ifAvailable: true }, (lock) => lock?.name ?? null);
      return [outer?.name, inner];
    });
    expect(seen).toEqual(["\ud800", "\ufffd"]);
  });

  it('resource-names: Names cannot start with "-"', async () => {
    const m = fresh();
    for (const name of ["-", "-foo"]) {
      await rejectsWithDom(
        m.request(name, () => {}),
        "NotSupportedError",
      );
    }
    expect(await m.request("x-anything", (lock) => lock?.name)).toBe("x-anything");
  });
});

describe("signal.https.any.js", () => {
  it("signal: The signal option must be an AbortSignal", async () => {
    const m = untyped(fresh());
    let ran = false;
    // WPT also passes `self` (the global scope); globalThis is Node's.
    const notSignals: unknown[] = ["string", 12.34, false, {}, Symbol(), () => {}, globalThis];
    for (const signal of notSignals) {
      await expect(
        m.request("res", { signal }, () => {
          ran = true;
        }),
        typeof signal,
      ).rejects.toBeInstanceOf(TypeError);
    }
    expect(ran).toBe(false);
  });

  it("signal: Passing an already aborted signal aborts", async () => {
    const m = fresh();
    const ac = new AbortController();
    ac.abort();
    let ran = false;
    await rejectsWithDom(
      m.request("res", { signal: ac.signal }, () => {
        ran = true;
      }),
      "AbortError",
    );
    expect(ran).toBe(false);
  });

  it("signal: Passing an already aborted signal rejects with the custom abort reason.", async () => {
    const m = fresh();
    const ac = new AbortController();
    const why = "the caller gave up";
    ac.abort(why);
    let ran = false;
    const outcome = await reason(
      m.request("res", { signal: ac.signal }, () => {
        ran = true;
      }),
    );
    expect(outcome).toBe(why);
    expect(ran).toBe(false);
  });

  it("signal: Passing an already aborted signal rejects with the default abort reason.", async () => {
    const m = fresh();
    const ac = new AbortController();
    ac.abort();
    let ran = false;
    const outcome = await reason(
      m.request("res", { signal: ac.signal }, () => {
        ran = true;
      }),
    );
    expect(outcome).toBe(ac.signal.reason);
    expect(ran).toBe(false);
  });

  it("signal: An aborted request results in AbortError", async () => {
    const m = fresh();
    const holder = holdUntilReleased(m, "res");
    const ac = new AbortController();
    let ran = false;
    const waiting = m.request("res", { signal: ac.signal }, () => {
      ran = true;
    });
    const state = await m.query();
    expect(modesOf(state.held, "res")).toHaveLength(1);
    expect(modesOf(state.pending, "res")).toHaveLength(1);
    const outcome = rejectsWithDom(waiting, "AbortError");
    ac.abort();
    await outcome;
    expect(ran).toBe(false);
    expect((await m.query()).pending).toEqual([]);
    await holder.release();
  });

  it("signal: Abort after a timeout", async () => {
    const m = fresh();
    const holder = holdUntilReleased(m, "res");
    const ac = new AbortController();
    let ran = false;
    const waiting = m.request("res", { signal: ac.signal }, () => {
      ran = true;
    });
    const state = await m.query();
    expect(modesOf(state.held, "res")).toHaveLength(1);
    expect(modesOf(state.pending, "res")).toHaveLength(1);
    const outcome = rejectsWithDom(waiting, "AbortError");
    // WPT aborts from a 10 ms timer; here from a timer too, with no delay, while the request waits.
    let timerFired = false;
    setTimeout(() => {
      timerFired = true;
      ac.abort();
    }, 0);
    await outcome;
    expect(timerFired).toBe(true);
    expect(ran).toBe(false);
    await holder.release();
  });

  it("signal: Signal that is not aborted", async () => {
    const m = fresh();
    const ac = new AbortController();
    let got: Lock | null | undefined;
    await m.request("res", { signal: ac.signal }, async (lock) => {
      got = lock;
    });
    expect(got?.name).toBe("res");
  });

  it("signal: Synchronously signaled abort", async () => {
    const m = fresh();
    const ac = new AbortController();
    let ran = false;
    const p = m.request("res", { signal: ac.signal }, () => {
      ran = true;
    });
    // The lock is free, but the abort comes before the callback could run: it wins.
    ac.abort();
    await rejectsWithDom(p, "AbortError");
    expect(ran).toBe(false);
    // Nothing is left holding the name.
    expect(await m.request("res", (lock) => lock?.name)).toBe("res");
  });

  it("signal: Abort signaled after lock granted", async () => {
    const m = fresh();
    const ac = new AbortController();
    const holder = holdUntilReleased(m, "res", { signal: ac.signal });
    await holder.granted;
    ac.abort();
    await holder.release("resolved ok");
    expect(await holder.done).toBe("resolved ok");
  });

  it("signal: Abort signaled after lock released", async () => {
    const m = fresh();
    const ac = new AbortController();
    const gate = latch<string>();
    const granted = latch();
    const p = m.request("res", { signal: ac.signal }, () => {
      granted.open();
      return gate.promise;
    });
    await granted.promise;
    gate.open("resolved ok");
    ac.abort();
    expect(await p).toBe("resolved ok");
  });

  it("signal: Abort should process the next pending lock request", async () => {
    const m = fresh();
    const ac = new AbortController();
    const first = holdUntilReleased(m, "res", { signal: ac.signal });
    const next = m.request("res", () => "resolved");
    ac.abort();
    await rejectsWithDom(first.done, "AbortError");
    expect(await next).toBe("resolved");
    expect(first.calls()).toBe(0);
  });

  it("signal: Aborted promise should reject with the custom abort reason", async () => {
    const m = fresh();
    const ac = new AbortController();
    const holder = holdUntilReleased(m, "res", { signal: ac.signal });
    const why = "handled elsewhere";
    ac.abort(why);
    expect(await reason(holder.done)).toBe(why);
    expect(holder.calls()).toBe(0);
  });

  it("signal: Aborted promise should reject with the default abort reason", async () => {
    const m = fresh();
    const ac = new AbortController();
    const holder = holdUntilReleased(m, "res", { signal: ac.signal });
    ac.abort();
    const outcome = await reason(holder.done);
    expect(outcome).toBe(ac.signal.reason);
    expect((outcome as DOMException).name).toBe("AbortError");
    expect(holder.calls()).toBe(0);
  });
});

describe("steal.https.any.js", () => {
  it("steal: Lock available", async () => {
    const m = fresh();
    let got: Lock | null | undefined;
    await m.request("res", { steal: true }, (lock) => {
      got = lock;
    });
    expect(got?.name).toBe("res");
  });

  it("steal: Lock not available", async () => {
    const m = fresh();
    const holder = holdUntilReleased(m, "res");
    holder.done.catch(() => undefined);
    let got: Lock | null | undefined;
    await m.request("res", { steal: true }, (lock) => {
      got = lock;
    });
    expect(got?.name).toBe("res");
    expect(got?.mode).toBe("exclusive");
    await holder.release();
  });

  it("steal: Broken lock's release promise rejects", async () => {
    const m = fresh();
    const holder = holdUntilReleased(m, "res");
    const outcome = rejectsWithDom(holder.done, "AbortError");
    await m.request("res", { steal: true }, () => {});
    // The holder's callback has not settled (its promise is still pending), yet its request has already rejected.
    await outcome;
    await holder.release();
  });

  it("steal: Requested lock's release promise is deferred", async () => {
    const m = fresh();
    const holder = holdUntilReleased(m, "res");
    holder.done.catch(() => undefined);
    let waiterRan = false;
    const waiter = m.request("res", () => {
      waiterRan = true;
    });
    let waiterRanDuringSteal: boolean | undefined;
    await m.request("res", { steal: true }, () => {
      waiterRanDuringSteal = waiterRan;
    });
    expect(waiterRanDuringSteal).toBe(false);
    // Granted once the steal is done, though the robbed holder's callback still has not settled.
    await waiter;
    expect(waiterRan).toBe(true);
    await holder.release();
  });

  it("steal: Last caller wins", async () => {
    const m = fresh();
    const holder = holdUntilReleased(m, "res");
    holder.done.catch(() => undefined);
    const firstThief = holdUntilReleased(m, "res", { steal: true });
    const firstOutcome = reason(firstThief.done);
    await m.request("res", { steal: true }, () => {});
    const err = await firstOutcome;
    expect(err).toBeInstanceOf(DOMException);
    expect((err as DOMException).name).toBe("AbortError");
    await firstThief.release();
    await holder.release();
  });
});

describe("ringlock: steal across threads", () => {
  it("a hold taken before its engine was shared is told when a worker steals it", async () => {
    const engine = new Engine();
    const m = new LockManager({ engine });
    const entered = latch();
    const letGo = latch();
    let ranOn = false;
    const mine = m.request("res", async () => {
      entered.open();
      await letGo.promise;
      ranOn = true;
    });
    const outcome = mine.then(
      () => "resolved",
      (e: Error) => e.name,
    );
    await entered.promise;
    // engine.share() (in client()) marks the engine shared while this thread holds "res".
    const c = client(engine);
    try {
      expect(await c.send({ op: "request", name: "res", steal: true })).toMatchObject({ granted: true });
      expect(await outcome).toBe("AbortError");
      letGo.open();
      await turn();
      expect(ranOn).toBe(true);
      expect(await m.query()).toMatchObject({ held: [{ name: "res", mode: "exclusive" }], pending: [] });
      await c.send({ op: "release", name: "res" });
      // The worker lets go once its callback's promise settles, just after it answers.
      for (let i = 0; i < 500 && (await m.query()).held.length > 0; i++) await turn();
      expect(await m.query()).toEqual({ held: [], pending: [] });
    } finally {
      await c.end();
    }
  });
});
