// The Redis engine: one Lua script per operation, each atomic on the server.
// The rules are the in-process engine's (DESIGN.md, "Semantics"): strict FIFO,
// the longest compatible prefix granted after every change, try that respects
// the queue, grant-vs-cancel decided in one place (here: the server runs one
// script at a time, so whichever of grant and cancel runs first wins).
//
// Keys of one lock, all under the hash tag {prefix+name} (one cluster slot):
//
//   key      type  contents
//   :st      hash  tok   fencing counter: HINCRBY per grant, never reset
//                  seq   arrival counter: HINCRBY per enqueue (queue order)
//                  tbl   the mode table the lock is used with ("c:l,c:l,...")
//                  ab    "1" while a holder's lease has run out and no grant has told anyone yet
//                  h<m>  weight of mode m held (absent when 0)
//   :rq      hash  request id -> record (below), holders and waiters alike
//   :hexp    zset  holder id -> lease expiry (server ms)
//   :wexp    zset  waiter id -> waiter lease expiry (server ms)
//   :q       zset  waiter id -> seq: the queue, in arrival order
//
//   record   "<kind> <mode> <weight> <x> <leaseMs> <abandoned> <owner>"
//            kind W (waiting; x = seq) or H (holding; x = fencing token)
//
// Grants are announced on the pub/sub channel {prefix+name}:ch as one message
// per batch, "<id> <token> <abandoned> <id> <token> <abandoned> ...".
//
// Time is the server's (TIME), never a client's. Every script first reaps
// expired leases (holders: the next grant is told `abandoned`; waiters: just
// dropped), and runs the grant loop if that changed anything, so an expired
// lease is final the moment any script sees it: a late renewal cannot revive it.
//
// Results: an array whose first element is a status.
//   ACQUIRE/TRY  { 1, token, abandoned } granted | { 2, seq, hint } queued | { 0 } try failed
//   POLL         { 1, token, abandoned } granted (lease renewed) | { 2, hint } queued (waiter lease renewed) | { 0 } gone
//   CANCEL       { 1, token, abandoned } granted first (lease renewed) | { 2 } cancelled | { 0 } gone
//   RELEASE      { 1 } released | { 0 } not held (lease ran out and was reaped, or already released)
//   RENEW        { 1 } renewed | { 0 } not held
//   QUERY        { 3, holders, waiters }  holders in grant (token) order, waiters in queue order
//   any          { -1, table } the lock is in use with another mode table
// hint: ms until the earliest holder lease runs out (-1: none): when a dead
// holder's lock is next worth asking about.

import { createHash } from "node:crypto";

const PRELUDE = `
local ST, RQ, HEXP, WEXP, Q = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local CH, TBL = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Every redis.call costs a few microseconds: the header is read in one HMGET,
-- and a grant writes it back in one HSET.
local conf, lim, n
local function parse(tbl)
  conf, lim, n = {}, {}, 0
  for c, l in string.gmatch(tbl, '(%d+):(%d+)') do
    conf[n] = tonumber(c)
    lim[n] = tonumber(l)
    n = n + 1
  end
end
local held, mask = {}, 0
local function header(extra)
  local f = { 'h0' }
  for i = 1, n - 1 do f[i + 1] = 'h' .. i end
  for _, x in ipairs(extra) do f[#f + 1] = x end
  local v = redis.call('HMGET', ST, unpack(f))
  mask = 0
  for i = 0, n - 1 do
    held[i] = tonumber(v[i + 1]) or 0
    if held[i] > 0 then mask = bit.bor(mask, bit.lshift(1, i)) end
  end
  return v[n + 1], v[n + 2], v[n + 3]
end

-- The mode table the lock is in use with (the caller's if the lock is new).
parse(TBL)
local stored, abf, tokv = header({ 'tbl', 'ab', 'tok' })
if stored and stored ~= TBL then
  parse(stored)
  header({})
end
local ab = abf == '1' and '1' or '0'
local tok = tonumber(tokv) or 0
local qn = redis.call('ZCARD', Q)

-- The grant test, written once for this engine (assembly/grant.ts is the
-- other): no conflicting mode held, and the mode's held weight plus w within its limit.
local function grantable(m, w)
  return bit.band(mask, conf[m]) == 0 and held[m] + w <= lim[m]
end

local function give(m, w)
  held[m] = held[m] - w
  if held[m] <= 0 then
    held[m] = 0
    mask = bit.band(mask, bit.bnot(bit.lshift(1, m)))
    redis.call('HDEL', ST, 'h' .. m)
  else
    redis.call('HSET', ST, 'h' .. m, string.format('%d', held[m]))
  end
end

local function rec(id)
  local r = redis.call('HGET', RQ, id)
  if not r then return nil end
  local k, m, w, x, lease, a, owner = string.match(r, '^(%a) (%d+) (%d+) (%d+) (%d+) (%d) (.*)$')
  return { k = k, m = tonumber(m), w = tonumber(w), x = x, lease = tonumber(lease), ab = a, owner = owner }
end

-- Request id's record while it holds the lock under token x, else nil.
local function heldBy(id, x)
  local r = rec(id)
  if r == nil or r.k ~= 'H' or r.x ~= x then return nil end
  return r
end

-- Makes request id a holder (a queued waiter, or a new request if not queued):
-- lease from now, next token, told whether a holder was abandoned before it.
local function grant(id, r, queued)
  held[r.m] = held[r.m] + r.w
  mask = bit.bor(mask, bit.lshift(1, r.m))
  tok = tok + 1
  local tk = string.format('%d', tok)
  redis.call('HSET', ST, 'tok', tk, 'h' .. r.m, string.format('%d', held[r.m]))
  redis.call('HSET', RQ, id, 'H ' .. r.m .. ' ' .. r.w .. ' ' .. tk .. ' ' .. r.lease .. ' ' .. ab .. ' ' .. r.owner)
  redis.call('ZADD', HEXP, now + r.lease, id)
  if queued then
    redis.call('ZREM', Q, id)
    redis.call('ZREM', WEXP, id)
    qn = qn - 1
  end
  return tk
end

-- The longest compatible prefix of the queue, and nothing behind the first
-- incompatible waiter. Every grant of a batch after a holder's death is told.
local function grantLoop()
  local msg = {}
  local more = qn > 0
  while more do
    local ids = redis.call('ZRANGE', Q, 0, 31)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local r = rec(id)
      if r == nil or r.k ~= 'W' then
        redis.call('ZREM', Q, id)
        qn = qn - 1
      elseif grantable(r.m, r.w) then
        msg[#msg + 1] = id .. ' ' .. grant(id, r, true) .. ' ' .. ab
      else
        more = false
        break
      end
    end
  end
  if #msg > 0 then
    if ab == '1' then
      ab = '0'
      redis.call('HDEL', ST, 'ab')
    end
    redis.call('PUBLISH', CH, table.concat(msg, ' '))
  end
end

-- Expired leases end here, before anything else reads the state.
local changed = false
do
  local dead = redis.call('ZRANGEBYSCORE', HEXP, '-inf', now)
  if #dead > 0 then
    for _, id in ipairs(dead) do
      local r = rec(id)
      if r and r.k == 'H' then
        give(r.m, r.w)
        redis.call('HDEL', RQ, id)
      end
    end
    redis.call('ZREMRANGEBYSCORE', HEXP, '-inf', now)
    ab = '1'
    redis.call('HSET', ST, 'ab', '1')
    changed = true
  end
  -- Only queued requests have waiter leases.
  if qn > 0 then
    local gone = redis.call('ZRANGEBYSCORE', WEXP, '-inf', now)
    if #gone > 0 then
      for _, id in ipairs(gone) do
        local r = rec(id)
        if r and r.k == 'W' then redis.call('HDEL', RQ, id) end
        qn = qn - redis.call('ZREM', Q, id)
      end
      redis.call('ZREMRANGEBYSCORE', WEXP, '-inf', now)
      changed = true
    end
  end
end
if changed then grantLoop() end

-- A new table is taken only by an idle lock.
if stored ~= TBL then
  if stored and redis.call('EXISTS', RQ) == 1 then return { -1, stored } end
  redis.call('HSET', ST, 'tbl', TBL)
  if stored then parse(TBL) end
end

local function hint()
  local e = redis.call('ZRANGE', HEXP, 0, 0, 'WITHSCORES')
  if #e == 0 then return -1 end
  return tonumber(e[2]) - now
end
`;

// The new request's record; granted at once iff the queue is empty and it is compatible.
const ACQUIRE_BODY = (tryOnly: boolean) => `
local id, m, w, lease, wlease, owner = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8]
if m >= n then return redis.error_reply('ringlock: mode ' .. m .. ' outside the table') end
if qn == 0 and grantable(m, w) then
  local a = ab
  local tk = grant(id, { m = m, w = w, lease = tonumber(lease), owner = owner }, false)
  if a == '1' then redis.call('HDEL', ST, 'ab') end
  return { 1, tk, tonumber(a) }
end
${
  tryOnly
    ? "return { 0 }"
    : `local seq = string.format('%d', redis.call('HINCRBY', ST, 'seq', 1))
redis.call('HSET', RQ, id, 'W ' .. m .. ' ' .. w .. ' ' .. seq .. ' ' .. lease .. ' 0 ' .. owner)
redis.call('ZADD', Q, seq, id)
redis.call('ZADD', WEXP, now + wlease, id)
return { 2, seq, hint() }`
}
`;

const POLL_BODY = `
local id = ARGV[3]
local r = rec(id)
if r == nil then return { 0 } end
if r.k == 'H' then
  redis.call('ZADD', HEXP, now + r.lease, id)
  return { 1, r.x, tonumber(r.ab) }
end
redis.call('ZADD', WEXP, now + tonumber(ARGV[4]), id)
return { 2, hint() }
`;

const CANCEL_BODY = `
local id = ARGV[3]
local r = rec(id)
if r == nil then return { 0 } end
if r.k == 'H' then
  redis.call('ZADD', HEXP, now + r.lease, id)
  return { 1, r.x, tonumber(r.ab) }
end
redis.call('HDEL', RQ, id)
qn = qn - redis.call('ZREM', Q, id)
redis.call('ZREM', WEXP, id)
grantLoop()
return { 2 }
`;

const RELEASE_BODY = `
local id = ARGV[3]
local r = heldBy(id, ARGV[4])
if r == nil then return { 0 } end
give(r.m, r.w)
redis.call('HDEL', RQ, id)
redis.call('ZREM', HEXP, id)
grantLoop()
return { 1 }
`;

const RENEW_BODY = `
local id = ARGV[3]
local r = heldBy(id, ARGV[4])
if r == nil then return { 0 } end
redis.call('ZADD', HEXP, now + r.lease, id)
return { 1 }
`;

const QUERY_BODY = `
local all = redis.call('HGETALL', RQ)
local hs = {}
for i = 1, #all, 2 do
  local r = rec(all[i])
  if r and r.k == 'H' then hs[#hs + 1] = r end
end
table.sort(hs, function(a, b) return tonumber(a.x) < tonumber(b.x) end)
local holders = {}
for _, r in ipairs(hs) do
  holders[#holders + 1] = r.m
  holders[#holders + 1] = r.w
  holders[#holders + 1] = r.x
  holders[#holders + 1] = r.owner
end
local waiters = {}
for _, id in ipairs(redis.call('ZRANGE', Q, 0, -1)) do
  local r = rec(id)
  if r then
    waiters[#waiters + 1] = r.m
    waiters[#waiters + 1] = r.w
    waiters[#waiters + 1] = r.x
    waiters[#waiters + 1] = r.owner
  end
end
return { 3, holders, waiters }
`;

/** A script and its SHA-1 (what EVALSHA names it by). */
export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

// Each script opens with its keys, arguments and results (principle 13).
function script(name: string, args: string, returns: string, body: string): Script {
  const source = [
    `-- ringlock ${name} (bindings/redis/scripts.ts)`,
    "-- KEYS[1] st, KEYS[2] rq, KEYS[3] hexp, KEYS[4] wexp, KEYS[5] q: the lock's keys, one hash tag",
    `-- ARGV[1] grant channel, ARGV[2] mode table ("conflicts:limit,..."${args ? `), ${args}` : ")"}`,
    `-- returns ${returns}`,
  ].join("\n");
  const full = `${source}${PRELUDE}${body}`;
  return { name, source: full, sha: createHash("sha1").update(full).digest("hex") };
}

const REQUEST_ARGS =
  "ARGV[3] request id, ARGV[4] mode index, ARGV[5] weight, ARGV[6] leaseMs, ARGV[7] waiterLeaseMs, ARGV[8] owner";
const GRANTED = "{ 1, token, abandoned } granted";

export const ACQUIRE = script(
  "acquire",
  REQUEST_ARGS,
  `${GRANTED} | { 2, seq, hint } queued | { -1, table }`,
  ACQUIRE_BODY(false),
);
export const TRY = script("try", REQUEST_ARGS, `${GRANTED} | { 0 } not now | { -1, table }`, ACQUIRE_BODY(true));
export const POLL = script(
  "poll",
  "ARGV[3] request id, ARGV[4] waiterLeaseMs",
  `${GRANTED} (lease renewed) | { 2, hint } queued (waiter lease renewed) | { 0 } gone | { -1, table }`,
  POLL_BODY,
);
export const CANCEL = script(
  "cancel",
  "ARGV[3] request id",
  `${GRANTED} first (lease renewed) | { 2 } cancelled | { 0 } gone | { -1, table }`,
  CANCEL_BODY,
);
export const RELEASE = script(
  "release",
  "ARGV[3] request id, ARGV[4] token",
  "{ 1 } released | { 0 } not held | { -1, table }",
  RELEASE_BODY,
);
export const RENEW = script(
  "renew",
  "ARGV[3] request id, ARGV[4] token",
  "{ 1 } renewed | { 0 } not held | { -1, table }",
  RENEW_BODY,
);
export const QUERY = script(
  "query",
  "",
  "{ 3, holders, waiters } (mode, weight, token or seq, owner per entry) | { -1, table }",
  QUERY_BODY,
);

/** The five keys of lock `name`, in the order every script takes them. */
export function lockKeys(prefix: string, name: string): string[] {
  const tag = `{${prefix}${name}}`;
  return [`${tag}:st`, `${tag}:rq`, `${tag}:hexp`, `${tag}:wexp`, `${tag}:q`];
}

export function lockChannel(prefix: string, name: string): string {
  return `{${prefix}${name}}:ch`;
}

/** A normalised mode table as the scripts take it: "conflicts:limit" per mode. */
export function tableArg(rows: readonly { conflicts: number; limit: number }[]): string {
  return rows.map((r) => `${r.conflicts >>> 0}:${r.limit >>> 0}`).join(",");
}
