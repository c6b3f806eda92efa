// A cross-section of test/conformance.test.ts, run in one thread under Deno or
// Bun: FIFO grants, try-acquire and the queue, timeouts and AbortSignal,
// Semaphore weights, RWLock writer not starved, the IS/IX/S/SIX/X table, guard
// release, query(). Every lock lives on a debug engine, validated after each step.

import "../../dist/bindings/debug.js";
import { Engine, FifoLock, Mutex, RWLock, Semaphore } from "../../dist/bindings/index.js";
import { MGL_MODES as DB_MODES } from "../workers/common.mjs";
import { done, equal, ok, rejects, sleep } from "./assert.mjs";

const engine = new Engine({ debug: true });
const flush = () => sleep(2);

/** Observes a promise's outcome without awaiting it. */
function track(promise) {
  const t = { state: "pending", value: undefined, reason: undefined };
  promise.then(
    (v) => {
      t.state = "fulfilled";
      t.value = v;
    },
    (e) => {
      t.state = "rejected";
      t.reason = e;
    },
  );
  return t;
}

// Each lock seen through two kinds of request: x conflicts with everything, s
// is the most shared request the lock has (as in conformance.test.ts).
const subjects = [
  {
    name: "Mutex",
    create: () => {
      const m = new Mutex({ engine });
      return { lock: m, acquire: (_k, o) => m.acquire(o), try: () => m.tryAcquire() };
    },
    mode: { x: "exclusive", s: "exclusive" },
  },
  {
    name: "RWLock",
    create: () => {
      const l = new RWLock({ engine });
      return {
        lock: l,
        acquire: (k, o) => (k === "x" ? l.write(o) : l.read(o)),
        try: (k) => (k === "x" ? l.tryWrite() : l.tryRead()),
      };
    },
    mode: { x: "write", s: "read" },
  },
  {
    name: "Semaphore",
    create: () => {
      const l = new Semaphore(3, { engine });
      return {
        lock: l,
        acquire: (k, o) => l.acquire({ ...o, weight: k === "x" ? 3 : 1 }),
        try: (k) => l.tryAcquire(k === "x" ? 3 : 1),
      };
    },
    mode: { x: "permit", s: "permit" },
  },
  {
    name: "FifoLock",
    create: () => {
      const l = new FifoLock(DB_MODES, { engine });
      return {
        lock: l,
        acquire: (k, o) => l.acquire(k === "x" ? "X" : "S", o),
        try: (k) => l.tryAcquire(k === "x" ? "X" : "S"),
      };
    },
    mode: { x: "X", s: "S" },
  },
];

async function conformance({ name, create, mode }) {
  const h = create();
  const held = () => h.lock.query().held.map((e) => e.mode);

  // FIFO: conflicting waiters are granted one at a time in arrival order.
  {
    const first = await h.acquire("x");
    const order = [];
    const waiters = [1, 2, 3].map((i) =>
      h.acquire("x").then((g) => {
        order.push(i);
        return g;
      }),
    );
    await flush();
    equal(h.lock.waiting, 3, `${name}: three conflicting requests queue`);
    first.release();
    for (const w of waiters) (await w).release();
    equal(order, [1, 2, 3], `${name}: waiters granted in arrival order`);
    engine.validate();
  }

  // Ownership passes at release time, before the waiter's promise settles.
  {
    const holder = await h.acquire("x");
    const next = track(h.acquire("x"));
    await flush();
    holder.release();
    equal(next.state, "pending", `${name}: the next holder's promise has not settled synchronously`);
    equal(h.lock.waiting, 0, `${name}: the waiter left the queue at release time`);
    equal(held(), [mode.x], `${name}: query() shows the new holder at release time`);
    ok(h.try("s") === null, `${name}: tryAcquire cannot take a lock just handed to a waiter`);
    await flush();
    equal(next.state, "fulfilled", `${name}: the handed-over request is fulfilled`);
    next.value.release();
    engine.validate();
  }

  // try-acquire respects the queue and never queues.
  {
    const g = h.try("s");
    ok(g !== null && g.mode === mode.s, `${name}: tryAcquire succeeds on a free lock`);
    const x = track(h.acquire("x"));
    await flush();
    equal(h.try("s"), null, `${name}: tryAcquire returns null while a request is queued`);
    equal(h.lock.waiting, 1, `${name}: tryAcquire queued nothing`);
    g.release();
    await flush();
    equal(x.state, "fulfilled", `${name}: the queued request is granted on release`);
    x.value.release();
    engine.validate();
  }

  // Timeouts remove the waiter at once and keep the order around it.
  {
    const holder = await h.acquire("x");
    const a = track(h.acquire("x"));
    const timed = h.acquire("x", { timeout: 20 });
    const b = track(h.acquire("x"));
    const e = await rejects(timed, `${name}: a timed-out request rejects`);
    equal(e?.name, "TimeoutError", `${name}: the rejection is named TimeoutError`);
    equal(h.lock.waiting, 2, `${name}: the timed-out request left the queue`);
    const zero = await rejects(h.acquire("x", { timeout: 0 }), `${name}: timeout 0 on a busy lock rejects`);
    equal(zero?.name, "TimeoutError", `${name}: timeout 0 rejects with a TimeoutError`);
    ok(zero !== e, `${name}: each rejection has a fresh TimeoutError`);
    holder.release();
    await flush();
    equal([a.state, b.state], ["fulfilled", "pending"], `${name}: the request before the timed-out one goes first`);
    a.value.release();
    await flush();
    equal(b.state, "fulfilled", `${name}: then the one after it`);
    b.value.release();
    const free = await h.acquire("x", { timeout: 0 });
    ok(free.mode === mode.x, `${name}: timeout 0 grants a free lock`);
    free.release();
    engine.validate();
  }

  // AbortSignal removes the waiter synchronously; an abort after the grant is ignored.
  {
    const holder = await h.acquire("x");
    const ac = new AbortController();
    const p = h.acquire("x", { signal: ac.signal });
    await flush();
    const reason = new Error("gave up");
    ac.abort(reason);
    equal(h.lock.waiting, 0, `${name}: abort dequeues synchronously`);
    const got = await rejects(p, `${name}: an aborted request rejects`);
    ok(got === reason, `${name}: it rejects with signal.reason`);
    const pre = await rejects(h.acquire("x", { signal: AbortSignal.abort() }), `${name}: an aborted signal rejects`);
    equal(pre?.name, "AbortError", `${name}: with the default AbortError`);
    equal(h.lock.waiting, 0, `${name}: an already-aborted signal queues nothing`);
    const late = new AbortController();
    const q = h.acquire("x", { signal: late.signal });
    holder.release();
    late.abort();
    const g = await q;
    ok(!g.released && g.mode === mode.x, `${name}: an abort after the grant is ignored`);
    g.release();
    engine.validate();
  }

  // Guard release is idempotent: a second release does not free the next grant.
  {
    const a = await h.acquire("x");
    const b = track(h.acquire("x"));
    a.release();
    a.release();
    await flush();
    equal(b.state, "fulfilled", `${name}: the waiter is granted after the release`);
    const c = track(h.acquire("x"));
    a.release();
    await flush();
    equal(c.state, "pending", `${name}: releasing a stale guard again does not free the next holder's grant`);
    ok(a.released && !b.value.released, `${name}: guard.released says which guard was released`);
    b.value.release();
    await flush();
    equal(c.state, "fulfilled", `${name}: the last waiter is granted`);
    c.value.release();
    engine.validate();
  }

  // query(): holders and waiters in order, with this thread's id.
  {
    const g = await h.acquire("s");
    const w1 = h.acquire("x");
    const w2 = h.acquire("s");
    const q = h.lock.query();
    const tid = Engine.threadId;
    equal(
      q.held.map((e) => [e.mode, e.threadId]),
      [[mode.s, tid]],
      `${name}: query().held`,
    );
    equal(
      q.pending.map((e) => [e.mode, e.threadId]),
      [
        [mode.x, tid],
        [mode.s, tid],
      ],
      `${name}: query().pending in queue order`,
    );
    g.release();
    (await w1).release();
    (await w2).release();
    equal(h.lock.query(), { held: [], pending: [] }, `${name}: query() of a free lock`);
    engine.validate();
  }
}

await done(async () => {
  for (const s of subjects) await conformance(s);

  // RWLock: a writer is not starved; a reader arriving behind it waits.
  {
    const rw = new RWLock({ engine });
    const r1 = await rw.read();
    const order = [];
    const granted = (name) => (g) => {
      order.push(name);
      return g;
    };
    const w = rw.write().then(granted("writer"));
    const r2 = rw.read().then(granted("late reader"));
    await flush();
    equal([rw.readers, rw.waiting], [1, 2], "RWLock: a reader behind a queued writer waits");
    r1.release();
    (await w).release();
    (await r2).release();
    equal(order, ["writer", "late reader"], "RWLock: the writer goes first");
    // The longest compatible prefix: read, read granted; nothing behind the writer.
    const wr = await rw.write();
    const q = [rw.read(), rw.read(), rw.write(), rw.read()].map(track);
    wr.release();
    await flush();
    equal(
      q.map((t) => t.state),
      ["fulfilled", "fulfilled", "pending", "pending"],
      "RWLock: longest compatible prefix",
    );
    q[0].value.release();
    q[1].value.release();
    await flush();
    equal(
      q.map((t) => t.state),
      ["fulfilled", "fulfilled", "fulfilled", "pending"],
      "RWLock: then the writer",
    );
    q[2].value.release();
    await flush();
    q[3].value.release();
    engine.validate();
  }

  // Semaphore weights: a heavy request at the head blocks a lighter one.
  {
    const sem = new Semaphore(4, { engine });
    const a = await sem.acquire({ weight: 3 });
    const heavy = track(sem.acquire({ weight: 4 }));
    const light = track(sem.acquire({ weight: 1 }));
    await flush();
    equal(
      [sem.available, sem.waiting, light.state],
      [1, 2, "pending"],
      "Semaphore: the light request waits behind the heavy one",
    );
    equal(sem.tryAcquire(1), null, "Semaphore: tryAcquire(1) respects the queue");
    let range;
    try {
      sem.tryAcquire(5);
    } catch (e) {
      range = e;
    }
    ok(range instanceof RangeError, "Semaphore: a weight above the limit is a RangeError");
    const big = await rejects(sem.acquire({ weight: 5 }), "Semaphore: acquire of weight 5 > 4 rejects");
    ok(big instanceof RangeError, "Semaphore: with a RangeError");
    a.release();
    await flush();
    equal(
      [heavy.state, light.state, heavy.value?.weight],
      ["fulfilled", "pending", 4],
      "Semaphore: heavy granted first",
    );
    heavy.value.release();
    await flush();
    equal(light.state, "fulfilled", "Semaphore: then the light one");
    light.value.release();
    engine.validate();
  }

  // FifoLock: the IS/IX/S/SIX/X compatibility table, by tryAcquire on a held mode.
  {
    const t = new FifoLock(DB_MODES, { engine });
    const modes = Object.keys(DB_MODES);
    const compatible = {
      IS: ["IS", "IX", "S", "SIX"],
      IX: ["IS", "IX"],
      S: ["IS", "S"],
      SIX: ["IS"],
      X: [],
    };
    for (const a of modes) {
      const g = t.tryAcquire(a);
      const got = modes.filter((b) => {
        const h = t.tryAcquire(b);
        h?.release();
        return h !== null;
      });
      equal(got, compatible[a], `FifoLock: modes granted beside ${a}`);
      g.release();
    }
    // Queued grants: IS, IX held; S waits; an IS behind it waits too (FIFO).
    const is = await t.acquire("IS");
    const ix = await t.acquire("IX");
    const s = track(t.acquire("S"));
    const is2 = track(t.acquire("IS"));
    const six = track(t.acquire("SIX"));
    await flush();
    equal(
      [t.query().held.map((e) => e.mode), t.query().pending.map((e) => e.mode)],
      [
        ["IS", "IX"],
        ["S", "IS", "SIX"],
      ],
      "FifoLock: IS, IX held; S, IS, SIX queued in order",
    );
    ix.release();
    await flush();
    equal(
      [s.state, is2.state, six.state],
      ["fulfilled", "fulfilled", "pending"],
      "FifoLock: S and IS granted, SIX waits",
    );
    s.value.release();
    await flush();
    equal(six.state, "fulfilled", "FifoLock: SIX granted beside IS once S is gone");
    equal(t.held("IS"), 2, "FifoLock: held(IS)");
    six.value.release();
    is.release();
    is2.value.release();
    engine.validate();
  }

  // run() releases on fulfilment and on a throw; whenAcquirable queues nothing.
  {
    const m = new Mutex({ engine, value: { n: 1 } });
    equal(await m.run((g) => g.value.n + 1), 2, "run passes the callback's result");
    const boom = new Error("boom");
    const e = await rejects(
      m.run(() => {
        throw boom;
      }),
      "run rejects when the callback throws",
    );
    ok(e === boom && !m.locked, "run passes the error through and releases");
    const g = await m.acquire();
    const when = track(m.whenAcquirable());
    await flush();
    equal([when.state, m.waiting], ["pending", 0], "whenAcquirable waits without queueing");
    g.release();
    let threw = false;
    try {
      g.value;
    } catch {
      threw = true;
    }
    ok(threw, "a released guard's value throws");
    await flush();
    equal(when.state, "fulfilled", "whenAcquirable resolves once a try would succeed");
    engine.validate();
  }
});
