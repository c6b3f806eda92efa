// A separate process using the built package (dist/bindings/redis) over its
// own ioredis connection, driven by test/redis/*.test.ts.
//   node agent.mjs '<json>'  with  { port, prefix, leaseMs, role, ... }
//   role "stress": sends { type: "ready" } once connected and starts at "go": one loop per
//                  lock kind, `iterations` sections each; sends { type: "done", ... }
//   role "hold":   acquires `name` (mutex), sends { type: "granted" }, then obeys "write" / "release"
//   role "wait":   as "hold", but the parent waits for it to be queued first

import Redis from "ioredis";
import { RedisLocks } from "../../dist/bindings/redis/index.js";
import { rng } from "../workers/common.mjs";
import { KINDS, MGL, resource } from "./resource.mjs";

const o = JSON.parse(process.argv[2]);
const client = new Redis({ port: o.port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
client.on("error", () => {});
const locks = new RedisLocks({ client, prefix: o.prefix, leaseMs: o.leaseMs, waiterLeaseMs: o.waiterLeaseMs });
const send = (m) => process.send?.(m);

function lockOf(kind, name) {
  if (kind === "mutex") return { acquire: (_m, _w) => locks.mutex(name).acquire() };
  if (kind === "rwlock") {
    const l = locks.rwlock(name);
    return { acquire: (m) => (m === 0 ? l.read() : l.write()) };
  }
  if (kind === "semaphore") {
    const l = locks.semaphore(name, 3);
    return { acquire: (_m, w) => l.acquire({ weight: w }) };
  }
  const l = locks.fifoLock(name, MGL);
  return { acquire: (m, w) => l.acquire(KINDS.fifo.modes[m], { weight: w }) };
}

async function stress() {
  await client.ping();
  const go = new Promise((resolve) => process.once("message", resolve));
  send({ type: "ready" });
  await go;
  const random = rng(o.seed);
  const out = { type: "done", grants: {}, violations: 0, sections: 0 };
  await Promise.all(
    Object.keys(KINDS).map(async (kind) => {
      const k = KINDS[kind];
      const lock = lockOf(kind, `${o.name}-${kind}`);
      const res = resource(client, `${o.prefix}res:${o.name}-${kind}`);
      const grants = [];
      out.grants[kind] = grants;
      for (let i = 0; i < o.iterations; i++) {
        const m = Math.floor(random() * k.modes.length);
        const w = 1 + Math.floor(random() * k.maxWeight[m]);
        const g = await lock.acquire(m, w);
        const bad = await res.enter(m, w, g.token, k.masks[m], k.limits[m], k.modes.length);
        out.violations += Number(bad);
        out.sections++;
        if (random() < 0.5) await new Promise((r) => setTimeout(r, Math.floor(random() * 3)));
        await res.exit(m, w, g.token, k.masks[m], k.limits[m], k.modes.length);
        grants.push({ token: String(g.token), seq: g.seq === undefined ? null : String(g.seq) });
        await g.release();
      }
    }),
  );
  send(out);
}

async function hold() {
  const m = locks.mutex(o.name);
  send({ type: "started", owner: locks.owner });
  const g = await m.acquire();
  const res = resource(client, `${o.prefix}res:${o.name}`);
  process.on("message", async (msg) => {
    if (msg === "write") {
      const lost = g.lost.aborted;
      const ok = Number(await res.write(g.token));
      send({ type: "wrote", lost, ok, token: String(g.token) });
    } else if (msg === "release") {
      const err = await g.release().then(
        () => undefined,
        (e) => e.code,
      );
      send({ type: "released", err });
      await locks.close();
      client.disconnect();
      process.disconnect?.();
    }
  });
  await res.write(g.token);
  send({ type: "granted", token: String(g.token), abandoned: g.abandoned });
}

try {
  if (o.role === "stress") {
    await stress();
    await locks.close();
    client.disconnect();
    process.disconnect?.();
  } else await hold();
} catch (e) {
  send({ type: "error", error: String(e?.stack ?? e) });
  process.exit(1);
}
