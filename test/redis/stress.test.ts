// Multi-process stress: 8 processes on one lock of each kind (mutex, rwlock,
// semaphore with weights, the database table with a weight limit). A shared
// resource on the server checks every section: no conflicting overlap, weights
// within limits, fresh tokens, rising across conflicting sections. Grant order
// matches arrival order: sorted by token, the queued grants' arrival numbers rise.

import type Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agent, killAgents } from "./processes.js";
import { KINDS, resource } from "./resource.mjs";
import { RedisServer } from "./server.js";

const server = new RedisServer();
beforeAll(() => server.start());
afterAll(async () => {
  killAgents();
  await server.stop();
});

const PROCS = 8;
const ITERATIONS = 40;

describe("8 processes on one Redis lock of each kind", () => {
  it("never overlap conflicting sections, never reuse a token, and grant in arrival order", {
    timeout: 150_000,
  }, async () => {
    const seed = Number(process.env.RINGLOCK_SEED ?? Date.now() % 2 ** 31);
    console.log(`redis stress: seed ${seed} (replay with RINGLOCK_SEED=${seed})`);
    const agents = Array.from({ length: PROCS }, (_, i) =>
      agent({
        role: "stress",
        port: server.port,
        prefix: "stress:",
        name: "s",
        leaseMs: 5000,
        seed: seed + i,
        iterations: ITERATIONS,
      }),
    );
    // All start together (process start-up on 2 cores would otherwise spread them out).
    await Promise.all(agents.map((a) => a.next("ready", 30_000)));
    for (const a of agents) a.send("go");
    const results = await Promise.all(agents.map((a) => a.next("done", 90_000)));
    const client: Redis = server.client();
    for (const kind of Object.keys(KINDS)) {
      const stats = await resource(client, `stress:res:s-${kind}`).stats();
      expect({ kind, sections: stats.sections, violations: stats.violations }).toEqual({
        kind,
        sections: PROCS * ITERATIONS,
        violations: 0,
      });
      const grants = results.flatMap(
        (r) => (r.grants as Record<string, { token: string; seq: string | null }[]>)[kind],
      );
      const tokens = grants.map((g) => BigInt(g.token));
      expect(new Set(tokens).size).toBe(tokens.length);
      const queued = grants
        .filter((g) => g.seq !== null)
        .sort((a, b) => (BigInt(a.token) < BigInt(b.token) ? -1 : 1))
        .map((g) => BigInt(g.seq as string));
      // Contention is real: most grants went through the queue.
      expect(queued.length).toBeGreaterThan(grants.length / 4);
      for (let i = 1; i < queued.length; i++) {
        if (queued[i] <= queued[i - 1]) {
          throw new Error(`${kind}: waiter ${queued[i]} granted after waiter ${queued[i - 1]} (arrived later)`);
        }
      }
    }
    expect(results.reduce((s, r) => s + Number(r.violations), 0)).toBe(0);
  });
});
