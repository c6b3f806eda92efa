// A shared "resource" on the Redis server, separate from the locks: each call
// is one atomic script, so it sees the true order of what lock holders do.
//   enter/exit: checks that no conflicting section overlaps, that weights stay
//               within the limit, that every grant's token is new, and that a
//               section's token is above every token of a conflicting section
//               that ended before it began; counts violations.
//   write:      a fencing resource: refuses a token below the highest it has seen.

const SOURCE = `
-- KEYS[1] resource hash
-- ARGV[1] op: enter | exit | write
-- ARGV[2] mode index, ARGV[3] weight, ARGV[4] token, ARGV[5] conflict mask of the mode, ARGV[6] limit, ARGV[7] modes
local R, op = KEYS[1], ARGV[1]
local tok = tonumber(ARGV[4])
if op == 'write' then
  local last = tonumber(redis.call('HGET', R, 'last') or '0')
  if tok < last then return 0 end
  redis.call('HSET', R, 'last', ARGV[4])
  return 1
end
local m, w, conf, lim, n = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if op == 'exit' then
  redis.call('HINCRBY', R, 'h' .. m, -w)
  local x = tonumber(redis.call('HGET', R, 'x' .. m) or '0')
  if tok > x then redis.call('HSET', R, 'x' .. m, ARGV[4]) end
  return 0
end
local bad = 0
for i = 0, n - 1 do
  if bit.band(conf, bit.lshift(1, i)) ~= 0 then
    if tonumber(redis.call('HGET', R, 'h' .. i) or '0') > 0 then bad = bad + 1 end
    if tok <= tonumber(redis.call('HGET', R, 'x' .. i) or '0') then bad = bad + 1 end
  end
end
if tonumber(redis.call('HGET', R, 'h' .. m) or '0') + w > lim then bad = bad + 1 end
if redis.call('SADD', R .. ':tokens', ARGV[4]) == 0 then bad = bad + 1 end
redis.call('HINCRBY', R, 'h' .. m, w)
redis.call('HINCRBY', R, 'sections', 1)
if bad > 0 then redis.call('HINCRBY', R, 'violations', bad) end
return bad
`;

/** @param {import("ioredis").Redis} client */
export function resource(client, key) {
  const run = (...args) => client.eval(SOURCE, 1, key, ...args.map(String));
  return {
    enter: (m, w, token, mask, limit, n) => run("enter", m, w, token, mask, limit, n),
    exit: (m, w, token, mask, limit, n) => run("exit", m, w, token, mask, limit, n),
    /** 1 if accepted, 0 if the token is stale. */
    write: (token) => run("write", 0, 0, token, 0, 0, 0),
    stats: async () => {
      const h = await client.hgetall(key);
      return { sections: Number(h.sections ?? 0), violations: Number(h.violations ?? 0), state: h };
    },
  };
}

/** The lock kinds of the stress test: mode names, weights, conflict masks and limits as the resource checks them. */
export const KINDS = {
  mutex: { modes: ["exclusive"], masks: [1], limits: [1], maxWeight: [1] },
  rwlock: { modes: ["read", "write"], masks: [2, 3], limits: [2 ** 32 - 1, 2 ** 32 - 1], maxWeight: [1, 1] },
  semaphore: { modes: ["permit"], masks: [0], limits: [3], maxWeight: [3] },
  // IS, IX, S, SIX, X (the database table), IS limited to 3 weight
  fifo: {
    modes: ["IS", "IX", "S", "SIX", "X"],
    masks: [0b10000, 0b11100, 0b11010, 0b11110, 0b11111],
    limits: [3, 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1],
    maxWeight: [2, 1, 1, 1, 1],
  },
};

export const MGL = {
  IS: { conflicts: ["X"], limit: 3 },
  IX: { conflicts: ["S", "SIX", "X"] },
  S: { conflicts: ["IX", "SIX", "X"] },
  SIX: { conflicts: ["IX", "S", "SIX", "X"] },
  X: { conflicts: ["IS", "IX", "S", "SIX", "X"] },
};
