// The Redis locks the Redis suite compares, behind one shape:
//   const lib = make(id, client, name); const release = await lib.acquire(); await release();
// Settings: every library gets a 10 s lease/TTL and waits without giving up;
// the retry loops of redlock and redis-semaphore poll every 10 ms (redis-semaphore's
// default; redlock's default is 200 ms + up to 200 ms jitter, set to 10 + 10 here).

import { Mutex as SemaphoreMutex } from "redis-semaphore";
import Redlock from "redlock";
import { RedisLocks } from "../../dist/bindings/redis/index.js";

export const REDIS_LIBS = [
  { id: "ringlock", name: "ringlock/redis mutex", pkg: "ringlock" },
  { id: "redlock", name: "redlock", pkg: "redlock" },
  { id: "redis-semaphore", name: "redis-semaphore Mutex", pkg: "redis-semaphore" },
];

const TTL = 10_000;

export function make(id, client, name) {
  if (id === "ringlock") {
    const locks = new RedisLocks({ client, prefix: "bench:", leaseMs: TTL });
    const m = locks.mutex(name);
    return {
      async acquire() {
        const g = await m.acquire();
        return () => g.release();
      },
      close: () => locks.close(),
    };
  }
  if (id === "redlock") {
    const redlock = new Redlock([client], { retryCount: -1, retryDelay: 10, retryJitter: 10 });
    redlock.on("error", () => {});
    return {
      async acquire() {
        const lock = await redlock.acquire([`bench:redlock:${name}`], TTL);
        return () => lock.release();
      },
      close: async () => {},
    };
  }
  if (id === "redis-semaphore") {
    return {
      async acquire() {
        const m = new SemaphoreMutex(client, `bench:rs:${name}`, {
          lockTimeout: TTL,
          acquireTimeout: 600_000,
          retryInterval: 10,
        });
        await m.acquire();
        return () => m.release();
      },
      close: async () => {},
    };
  }
  throw new Error(`unknown Redis library ${id}`);
}

// The exclusion check every library's sections run: one script on entry, one
// on exit (so every library pays the same two round trips per section).
const ENTER = `
local n = redis.call('INCR', KEYS[1])
if n > 1 then redis.call('INCR', KEYS[2]) return 1 end
return 0`;

export function checker(client, name) {
  const keys = [`bench:inside:${name}`, `bench:violations:${name}`];
  return {
    enter: () => client.eval(ENTER, 2, ...keys),
    exit: () => client.decr(keys[0]),
    violations: async () => Number((await client.get(keys[1])) ?? 0),
  };
}
