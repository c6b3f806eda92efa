// Faults, on real processes and a real redis-server: a holder killed
// (SIGKILL) or paused past its lease (SIGSTOP/SIGCONT), a dead head waiter,
// the pub/sub connection killed, the script cache flushed, the server
// restarted with and without persistence. Leases are short (500-1000 ms);
// time bounds are liveness bounds only (lease + margin).

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LockError, type RedisGuard, RedisLocks } from "../../bindings/redis/index.js";
import { agent, killAgents } from "./processes.js";
import { resource } from "./resource.mjs";
import { RedisServer } from "./server.js";

const LEASE = 500;
// Liveness margin: generous, CI runs these next to CPU-heavy suites on 2 cores.
const MARGIN = 2500;
// The lease of a lock the test process holds while something else happens:
// long enough that a stalled test process does not lose it meanwhile.
const KEEP = { leaseMs: 3000 };
const server = new RedisServer();
const open: RedisLocks[] = [];
beforeAll(() => server.start());
afterEach(async () => {
  killAgents();
  for (const l of open.splice(0)) await l.close().catch(() => {});
});
afterAll(() => server.stop());

function locks(s: RedisServer = server, o: { leaseMs?: number; heartbeatMs?: number } = {}): RedisLocks {
  const l = new RedisLocks({ client: s.client(), prefix: "faults:", leaseMs: LEASE, ...o });
  open.push(l);
  return l;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean | Promise<boolean>, ms: number, what: string) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
};

describe("a Redis lock holder that dies", () => {
  it("SIGKILL: the next waiter is granted within the lease plus a margin, told the lock was abandoned", async () => {
    const a = agent({ role: "hold", port: server.port, prefix: "faults:", name: "kill", leaseMs: LEASE });
    const held = await a.next("granted");
    const m = locks().mutex("kill");
    const waiting = m.acquire();
    await until(async () => (await m.query()).pending.length === 1, 2000, "queued");
    a.proc.kill("SIGKILL");
    const t0 = performance.now();
    const g = await waiting;
    const took = performance.now() - t0;
    expect(took).toBeLessThan(LEASE + MARGIN);
    expect(g.abandoned).toBe(true);
    expect(g.token).toBe(BigInt(held.token as string) + 1n);
    await g.release();
  });

  it("SIGSTOP past the lease, then SIGCONT: its `lost` has fired and the fencing resource refuses its stale token", async () => {
    const a = agent({ role: "hold", port: server.port, prefix: "faults:", name: "stop", leaseMs: LEASE });
    const held = await a.next("granted");
    const l = locks();
    const m = l.mutex("stop");
    const res = resource(server.client(), "faults:res:stop");
    a.proc.kill("SIGSTOP");
    const t0 = performance.now();
    const g = await m.acquire();
    expect(performance.now() - t0).toBeLessThan(LEASE + MARGIN);
    expect(g.abandoned).toBe(true);
    expect(g.token).toBeGreaterThan(BigInt(held.token as string));
    expect(Number(await res.write(g.token))).toBe(1);
    a.proc.kill("SIGCONT");
    a.send("write");
    const wrote = await a.next("wrote");
    expect(wrote).toMatchObject({ lost: true, ok: 0, token: held.token });
    a.send("release");
    expect(await a.next("released")).toMatchObject({ err: "ERR_RINGLOCK_LOST" });
    expect((await m.query()).held).toMatchObject([{ token: g.token }]);
    await g.release();
  });

  it("a killed head waiter is dropped when its waiter lease runs out; the next waiter gets the lock at release, not abandoned", async () => {
    const l = locks(server, KEEP);
    const m = l.mutex("headwait");
    const g = await m.acquire();
    const a = agent({ role: "hold", port: server.port, prefix: "faults:", name: "headwait", leaseMs: LEASE });
    const { owner } = await a.next("started");
    await until(async () => (await m.query()).pending.length === 1, 3000, "agent queued");
    const behind = locks(server, KEEP).mutex("headwait").acquire();
    await until(async () => (await m.query()).pending.length === 2, 2000, "second waiter queued");
    expect((await m.query()).pending[0].owner).toBe(owner);
    a.proc.kill("SIGKILL");
    const t0 = performance.now();
    await until(async () => (await m.query()).pending.length === 1, LEASE + MARGIN, "dead waiter dropped");
    expect(performance.now() - t0).toBeLessThan(LEASE + MARGIN);
    expect((await m.query()).pending[0].owner).not.toBe(owner);
    await g.release();
    const next = await behind;
    expect(next.abandoned).toBe(false);
    expect(next.token).toBe(g.token + 1n);
    await next.release();
  });

  it("a head waiter killed just before the grant holds the lock for at most one lease; the next is told it was abandoned", async () => {
    const l = locks(server, KEEP);
    const m = l.mutex("headgrant");
    const g = await m.acquire();
    // A long waiter lease: the agent's request must still be queued when g is released.
    const a = agent({
      role: "hold",
      port: server.port,
      prefix: "faults:",
      name: "headgrant",
      leaseMs: LEASE,
      waiterLeaseMs: 10_000,
    });
    await a.next("started");
    await until(async () => (await m.query()).pending.length === 1, 3000, "agent queued");
    const behind = locks(server, KEEP).mutex("headgrant").acquire();
    await until(async () => (await m.query()).pending.length === 2, 2000, "second waiter queued");
    a.proc.kill("SIGKILL");
    await g.release();
    const t0 = performance.now();
    const next = await behind;
    expect(performance.now() - t0).toBeLessThan(LEASE + MARGIN);
    expect(next.abandoned).toBe(true);
    expect(next.token).toBe(g.token + 2n);
    await next.release();
  });
});

describe("the Redis connection", () => {
  it("CLIENT KILL TYPE pubsub: waiters are still granted within one heartbeat", async () => {
    const heartbeatMs = 150;
    const a = locks();
    const b = locks(server, { heartbeatMs });
    const g = await a.mutex("pubsub").acquire();
    const w = b.mutex("pubsub").acquire();
    await until(async () => (await a.mutex("pubsub").query()).pending.length === 1, 2000, "queued");
    await sleep(20);
    const killed = Number(await server.client().call("CLIENT", "KILL", "TYPE", "pubsub"));
    expect(killed).toBeGreaterThanOrEqual(1);
    await g.release();
    const t0 = performance.now();
    const g2 = await w;
    expect(performance.now() - t0).toBeLessThan(heartbeatMs + MARGIN);
    expect(g2.token).toBe(g.token + 1n);
    await g2.release();
  });

  it("SCRIPT FLUSH: every operation, renewal included, goes on (EVALSHA falls back to EVAL)", async () => {
    const a = locks(server, { leaseMs: 1500 });
    const b = locks();
    const g = await a.mutex("flush").acquire();
    await server.client().call("SCRIPT", "FLUSH");
    const w = b.mutex("flush").acquire();
    await until(async () => (await a.mutex("flush").query()).pending.length === 1, 2000, "queued");
    await server.client().call("SCRIPT", "FLUSH");
    await sleep(2500);
    expect(g.lost.aborted).toBe(false);
    await server.client().call("SCRIPT", "FLUSH");
    await g.release();
    const g2 = await w;
    expect(g2.token).toBe(g.token + 1n);
    expect(g2.abandoned).toBe(false);
    await g2.release();
  });
});

describe("a Redis server restart", () => {
  it("with appendfsync always, a short outage: calls fail with clear errors meanwhile, the holder keeps the lock, nothing is granted twice", async () => {
    const s = new RedisServer({ persistent: true });
    await s.start();
    try {
      const a = locks(s, { leaseMs: 2000 });
      const b = locks(s, { leaseMs: 2000 });
      const g = await a.mutex("restart").acquire();
      const w = b.mutex("restart").acquire();
      let granted = false;
      w.then(() => {
        granted = true;
      });
      await until(async () => (await a.mutex("restart").query()).pending.length === 1, 2000, "queued");
      await s.kill();
      const err = await locks(s)
        .mutex("other")
        .acquire()
        .catch((e) => e);
      expect(err).toBeInstanceOf(LockError);
      expect(err.code).toBe("ERR_RINGLOCK_REDIS");
      expect(err.message).toMatch(/Redis call failed/);
      await sleep(150);
      await s.start();
      // Longer than a lease: only renewals that resumed keep the grant.
      await sleep(2500);
      expect(g.lost.aborted).toBe(false);
      expect(granted).toBe(false);
      expect(await a.mutex("restart").query()).toMatchObject({ held: [{ token: g.token }], pending: [{}] });
      await g.release();
      const g2 = await w;
      expect(g2.token).toBe(g.token + 1n);
      expect(g2.abandoned).toBe(false);
      await g2.release();
    } finally {
      await s.stop();
    }
  });

  it("with appendfsync always, an outage longer than the lease: `lost` fires before the lease can end, waiters are told, tokens keep rising", async () => {
    const s = new RedisServer({ persistent: true });
    await s.start();
    try {
      const a = locks(s);
      const b = locks(s);
      const g = await a.mutex("outage").acquire();
      const w = b
        .mutex("outage")
        .acquire()
        .catch((e) => e);
      await until(async () => (await a.mutex("outage").query()).pending.length === 1, 2000, "queued");
      await s.kill();
      const down = performance.now();
      // Before the server could let anyone else in: the restart below comes after it.
      await until(() => g.lost.aborted, LEASE + MARGIN, "lost fired");
      expect(performance.now() - down).toBeLessThan(LEASE + MARGIN);
      await sleep(LEASE);
      await s.start();
      const err = (await w) as LockError;
      expect(err.code).toBe("ERR_RINGLOCK_WAIT_LOST");
      const g2 = await locks(s).mutex("outage").acquire();
      expect(g2.abandoned).toBe(true);
      expect(g2.token).toBe(g.token + 1n);
      await expect(g.release()).rejects.toMatchObject({ code: "ERR_RINGLOCK_LOST" });
      await g2.release();
    } finally {
      await s.stop();
    }
  });

  it("without persistence: the holder learns at its next renewal that its grant is gone, waiters are told, new grants work", async () => {
    const s = new RedisServer();
    await s.start();
    try {
      const a = locks(s, { leaseMs: 1000 });
      const b = locks(s, { leaseMs: 1000 });
      const g: RedisGuard = await a.mutex("volatile").acquire();
      const w = b
        .mutex("volatile")
        .acquire()
        .catch((e) => e);
      await until(async () => (await a.mutex("volatile").query()).pending.length === 1, 2000, "queued");
      await s.kill();
      await s.start();
      await until(() => g.lost.aborted, 1000, "lost fired");
      expect(((await w) as LockError).code).toBe("ERR_RINGLOCK_WAIT_LOST");
      const g2 = await locks(s).mutex("volatile").acquire();
      expect(g2.token).toBe(1n);
      await g2.release();
    } finally {
      await s.stop();
    }
  });
});
