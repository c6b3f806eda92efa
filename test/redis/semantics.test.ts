// The Redis engine's rules, on a real redis-server: strict FIFO, the modes of
// each preset, try that respects the queue, timeouts and aborts that dequeue on
// the server, fencing tokens, query(), request(), close(), and the three
// client libraries (ioredis, iovalkey, node-redis).

import { createRequire } from "node:module";
import Valkey from "iovalkey";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LockError, type RedisGuard, RedisLocks, TimeoutError } from "../../bindings/redis/index.js";
import { DB_MODES } from "../helpers.js";
import { RedisServer } from "./server.js";

const server = new RedisServer();
const open: RedisLocks[] = [];
let n = 0;

beforeAll(() => server.start());
afterAll(async () => {
  for (const l of open) await l.close();
  await server.stop();
});

function locks(o: { leaseMs?: number; heartbeatMs?: number } = {}): RedisLocks {
  const l = new RedisLocks({ client: server.client(), prefix: "sem:", leaseMs: 2000, ...o });
  open.push(l);
  return l;
}
const fresh = (what: string) => `${what}-${n++}`;

const settle = <T>(p: Promise<T>) => {
  const s = { done: false, value: undefined as T | undefined, error: undefined as unknown };
  p.then(
    (v) => {
      s.done = true;
      s.value = v;
    },
    (e) => {
      s.done = true;
      s.error = e;
    },
  );
  return s;
};
const until = async (cond: () => boolean | Promise<boolean>, ms = 3000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};
const shape = (s: { held: { mode: string; weight: number }[]; pending: { mode: string; weight: number }[] }) => ({
  held: s.held.map((e) => `${e.mode}:${e.weight}`),
  pending: s.pending.map((e) => `${e.mode}:${e.weight}`),
});

describe("a Redis mutex", () => {
  it("grants waiters strictly in arrival order, with strictly increasing tokens", async () => {
    const m = locks().mutex(fresh("m"));
    const first = await m.acquire();
    const order: number[] = [];
    const waits = [0, 1, 2, 3, 4].map((i) =>
      m.acquire().then(async (g) => {
        order.push(i);
        await g.release();
        return g.token;
      }),
    );
    await until(async () => (await m.query()).pending.length === 5);
    await first.release();
    const tokens = await Promise.all(waits);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(tokens).toEqual([first.token + 1n, first.token + 2n, first.token + 3n, first.token + 4n, first.token + 5n]);
  });

  it("tryAcquire fails while anything is queued, even when the lock is free of holders of the same request", async () => {
    const m = locks().mutex(fresh("m"));
    expect(await m.tryAcquire()).not.toBeNull();
    const l2 = locks();
    const m2 = l2.mutex(m.name);
    expect(await m2.tryAcquire()).toBeNull();
    expect(await m2.query()).toMatchObject({ held: [{ mode: "exclusive", weight: 1 }], pending: [] });
  });

  it("a timeout dequeues the waiter on the server and rejects with a TimeoutError", async () => {
    const m = locks().mutex(fresh("m"));
    const g = await m.acquire();
    const err = await m.acquire({ timeout: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.name).toBe("TimeoutError");
    expect((await m.query()).pending).toEqual([]);
    await g.release();
    expect(await m.tryAcquire()).not.toBeNull();
  });

  it("timeout 0 is a try: granted if free now, else a TimeoutError and nothing queued", async () => {
    const m = locks().mutex(fresh("m"));
    const g = await m.acquire({ timeout: 0 });
    const err = await m.acquire({ timeout: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((await m.query()).pending).toEqual([]);
    await g.release();
  });

  it("an abort dequeues the waiter and rejects with the signal's reason; an already-aborted signal never reaches the server", async () => {
    const m = locks().mutex(fresh("m"));
    const g = await m.acquire();
    const ac = new AbortController();
    const w = settle(m.acquire({ signal: ac.signal }));
    await until(async () => (await m.query()).pending.length === 1);
    const reason = new Error("stop");
    ac.abort(reason);
    await until(() => w.done);
    expect(w.error).toBe(reason);
    expect((await m.query()).pending).toEqual([]);
    expect(await m.acquire({ signal: AbortSignal.abort("early") }).catch((e) => e)).toBe("early");
    await g.release();
  });

  it("an abort that loses to the grant is ignored: the caller gets the lock", async () => {
    const m = locks().mutex(fresh("m"));
    const g = await m.acquire();
    const ac = new AbortController();
    const w = settle(m.acquire({ signal: ac.signal }));
    await until(async () => (await m.query()).pending.length === 1);
    // Release on the server first, then abort: the grant is already decided.
    await g.release();
    ac.abort();
    await until(() => w.done);
    expect(w.error).toBeUndefined();
    const g2 = w.value as RedisGuard;
    expect(g2.token).toBe(g.token + 1n);
    await g2.release();
  });

  it("release is idempotent; a guard released twice returns the same promise; run() releases after the body", async () => {
    const m = locks().mutex(fresh("m"));
    const g = await m.acquire();
    const p = g.release();
    expect(g.release()).toBe(p);
    await p;
    expect(g.released).toBe(true);
    const r = await m.run(async (h) => {
      expect((await m.query()).held).toHaveLength(1);
      return h.mode;
    });
    expect(r).toBe("exclusive");
    expect((await m.query()).held).toEqual([]);
    await expect(
      m.run(() => {
        throw new Error("body");
      }),
    ).rejects.toThrow("body");
    expect((await m.query()).held).toEqual([]);
  });

  it("renews a held lease: a holder that keeps running past several leases is not lost", async () => {
    const m = locks({ leaseMs: 1000 }).mutex(fresh("m"));
    const g = await m.acquire();
    await new Promise((r) => setTimeout(r, 2500));
    expect(g.lost.aborted).toBe(false);
    expect((await m.query()).held).toHaveLength(1);
    await g.release();
  });
});

describe("a Redis rwlock", () => {
  it("readers share; a reader behind a queued writer waits; releasing the writer grants the reader batch", async () => {
    const rw = locks().rwlock(fresh("rw"));
    const r1 = await rw.read();
    const r2 = await rw.read();
    const w = settle(rw.write());
    await until(async () => (await rw.query()).pending.length === 1);
    const r3 = settle(rw.read());
    const r4 = settle(rw.read());
    await until(async () => (await rw.query()).pending.length === 3);
    expect(shape(await rw.query())).toEqual({ held: ["read:1", "read:1"], pending: ["write:1", "read:1", "read:1"] });
    expect(await rw.tryRead()).toBeNull();
    await r1.release();
    await r2.release();
    await until(() => w.done);
    expect(shape(await rw.query())).toEqual({ held: ["write:1"], pending: ["read:1", "read:1"] });
    await (w.value as RedisGuard).release();
    await until(() => r3.done && r4.done);
    expect(shape(await rw.query())).toEqual({ held: ["read:1", "read:1"], pending: [] });
    await (r3.value as RedisGuard).release();
    await (r4.value as RedisGuard).release();
    expect(await rw.tryWrite()).not.toBeNull();
  });
});

describe("a Redis semaphore", () => {
  it("a heavy request at the head blocks lighter ones behind it", async () => {
    const s = locks().semaphore(fresh("s"), 4);
    const a = await s.acquire({ weight: 3 });
    const heavy = settle(s.acquire({ weight: 2 }));
    await until(async () => (await s.query()).pending.length === 1);
    const light = settle(s.acquire({ weight: 1 }));
    await until(async () => (await s.query()).pending.length === 2);
    expect(light.done).toBe(false);
    expect(await s.tryAcquire(1)).toBeNull();
    await a.release();
    await until(() => heavy.done && light.done);
    expect(shape(await s.query())).toEqual({ held: ["permit:2", "permit:1"], pending: [] });
  });

  it("rejects a weight above the limit with a RangeError before reaching the server", async () => {
    const s = locks().semaphore(fresh("s"), 2);
    const err = await s.acquire({ weight: 3 }).catch((e) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe("ERR_RINGLOCK_ARG");
    await expect(s.tryAcquire(0)).rejects.toBeInstanceOf(RangeError);
  });
});

describe("a Redis fifoLock", () => {
  it("takes the same mode tables as FifoLock, and refuses a lock in use with another table", async () => {
    const name = fresh("f");
    const f = locks().fifoLock(name, DB_MODES);
    const ix = await f.acquire("IX");
    const is = await f.acquire("IS", { weight: 2 });
    expect(await f.tryAcquire("S")).toBeNull();
    expect(shape(await f.query())).toEqual({ held: ["IX:1", "IS:2"], pending: [] });
    const other = locks().mutex(name);
    const err = await other.acquire().catch((e) => e);
    expect(err).toBeInstanceOf(LockError);
    expect(err.code).toBe("ERR_RINGLOCK_MODE_TABLE");
    await ix.release();
    await is.release();
    // Idle again: the lock takes the new table.
    const g = await other.acquire();
    await g.release();
    await expect(f.acquire("nope" as "X")).rejects.toThrow(/unknown mode/);
  });
});

describe("RedisLocks", () => {
  it("request() has the Web Locks shape: shared requests share, ifAvailable calls back with null", async () => {
    const l = locks();
    const name = fresh("web");
    const seen: (string | null)[] = [];
    await l.request(name, { mode: "shared" }, async (a) => {
      await l.request(name, { mode: "shared" }, (b) => {
        seen.push(b?.mode ?? null);
      });
      await l.request(name, { ifAvailable: true }, (c) => {
        seen.push(c?.mode ?? null);
      });
      seen.push(a?.mode ?? null);
    });
    expect(seen).toEqual(["shared", null, "shared"]);
    expect(await l.request(name, async (g) => g?.mode)).toBe("exclusive");
  });

  it("close() rejects queued requests with ERR_RINGLOCK_CLOSED and releases held ones", async () => {
    const a = locks();
    const b = new RedisLocks({ client: server.client(), prefix: "sem:", leaseMs: 2000 });
    const name = fresh("c");
    const g = await a.mutex(name).acquire();
    const held = await b.mutex(`${name}-other`).acquire();
    const w = settle(b.mutex(name).acquire());
    await until(async () => (await a.mutex(name).query()).pending.length === 1);
    await b.close();
    await until(() => w.done);
    expect((w.error as LockError).code).toBe("ERR_RINGLOCK_CLOSED");
    expect(held.released).toBe(true);
    expect(await a.mutex(name).query()).toMatchObject({ held: [{ token: g.token }], pending: [] });
    expect(await a.mutex(`${name}-other`).query()).toEqual({ held: [], pending: [] });
    await expect(b.mutex(name).acquire()).rejects.toMatchObject({ code: "ERR_RINGLOCK_CLOSED" });
  });

  it("keeps every key of a lock in one cluster hash slot", async () => {
    const l = locks();
    const name = fresh("slot");
    const m = l.mutex(name);
    const g = await m.acquire();
    const w = settle(m.acquire());
    await until(async () => (await m.query()).pending.length === 1);
    const c = server.client();
    const keys = (await c.keys(`{sem:${name}}*`)).sort();
    expect(keys).toEqual([":hexp", ":q", ":rq", ":st", ":wexp"].map((k) => `{sem:${name}}${k}`));
    // The slot function Redis Cluster uses (ioredis's own dependency).
    const slotOf = createRequire(import.meta.url)("cluster-key-slot") as (key: string) => number;
    expect(new Set(keys.map(slotOf)).size).toBe(1);
    await g.release();
    await until(() => w.done);
    await (w.value as RedisGuard).release();
  });

  it("works over iovalkey and node-redis as over ioredis, on the same lock, after a SCRIPT FLUSH too", async () => {
    const valkey = new Valkey({ port: server.port, host: "127.0.0.1" });
    const nodeRedis = createClient({ url: server.url });
    await nodeRedis.connect();
    const a = new RedisLocks({ client: valkey, prefix: "sem:" });
    const b = new RedisLocks({ client: nodeRedis, prefix: "sem:" });
    const c = locks();
    try {
      const name = fresh("clients");
      // Each adapter reloads the scripts itself (EVALSHA, then EVAL on NOSCRIPT).
      await server.client().call("SCRIPT", "FLUSH");
      const ga = await a.mutex(name).acquire();
      await server.client().call("SCRIPT", "FLUSH");
      const wb = settle(b.mutex(name).acquire());
      await until(async () => (await c.mutex(name).query()).pending.length === 1);
      const wc = settle(c.mutex(name).acquire());
      await until(async () => (await c.mutex(name).query()).pending.length === 2);
      expect(await b.mutex(name).tryAcquire()).toBeNull();
      await ga.release();
      await until(() => wb.done);
      expect(wc.done).toBe(false);
      const gb = wb.value as RedisGuard;
      expect(gb.token).toBe(ga.token + 1n);
      await gb.release();
      await until(() => wc.done);
      expect((wc.value as RedisGuard).token).toBe(ga.token + 2n);
      await (wc.value as RedisGuard).release();
    } finally {
      await a.close();
      await b.close();
      valkey.disconnect();
      await nodeRedis.quit();
    }
  });

  it("refuses a client it does not know and bad options", () => {
    expect(() => new RedisLocks({ client: {} })).toThrow(TypeError);
    expect(() => new RedisLocks({ client: server.client(), leaseMs: 10 })).toThrow(RangeError);
    expect(() => new RedisLocks({ client: server.client(), leaseMs: 300, heartbeatMs: 200 })).toThrow(RangeError);
  });
});
