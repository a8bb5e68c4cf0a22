package redis

import goredis "github.com/redis/go-redis/v9"

// The engine's scripts. Each touches only the KEYS it is given, all in one
// Cluster slot (one hash tag). Times are unix milliseconds; "now" is the
// caller's clock, floored (a record valid until u is expired when u <= now).

// markUsed: KEYS[1] marker; ARGV now, until. 1 = first use.
var markUsedScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[2])
return 1
`)

// revoke: KEYS feed, until, seq, epoch; ARGV jti, until, now.
// Returns the new sequence, or 0 when an unexpired revocation with the same
// or a later until exists (no news). Sweeps up to 100 expired revocations.
// (Lua number precision: unix milliseconds and feed sequences stay far
// below 2^53.)
var revokeScript = goredis.NewScript(`
local now = tonumber(ARGV[3])
local old = redis.call('ZSCORE', KEYS[2], ARGV[1])
if old and tonumber(old) > now and tonumber(old) >= tonumber(ARGV[2]) then return 0 end
-- Sweep by the earlier of the caller's and the server's clock: an instance
-- whose clock runs ahead never deletes revocations early.
local t = redis.call('TIME')
local sweep = math.min(now, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', sweep, 'LIMIT', 0, 100)
for _, j in ipairs(dead) do
	redis.call('ZREM', KEYS[1], j)
	redis.call('ZREM', KEYS[2], j)
end
if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('SET', KEYS[4], ARGV[4]) end
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return seq
`)

// revocationsSince: KEYS feed, until, seq, epoch; ARGV after-seq, epoch of
// the cursor ("" for none). Returns {epoch, seq, jti1, until1, jti2, ...}:
// the feed after the cursor, or all of it when the cursor's epoch is not
// the feed's or its sequence is ahead of the feed.
var revocationsSinceScript = goredis.NewScript(`
local epoch = redis.call('GET', KEYS[4]) or ''
local seq = tonumber(redis.call('GET', KEYS[3]) or '0')
local after = tonumber(ARGV[1])
if ARGV[2] ~= epoch or after > seq then after = 0 end
local out = {epoch, tostring(seq)}
local jtis = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. after, '+inf')
for _, j in ipairs(jtis) do
	local u = redis.call('ZSCORE', KEYS[2], j)
	if u then
		out[#out + 1] = j
		out[#out + 1] = u
	end
end
return out
`)

// setKeys: KEYS keys, lock; ARGV lock token, value ("" deletes). Writes
// only while the caller holds the lock, then releases it. 1 = written.
var setKeysScript = goredis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
redis.call('DEL', KEYS[2])
return 1
`)

// unlock: KEYS lock; ARGV token. Releases the lock if it is still ours.
var unlockScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// putCode: KEYS code; ARGV record, pxat. Replaces the code, unredeemed.
var putCodeScript = goredis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'rec', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`)

// redeemCode: KEYS code. Returns false when missing, else {first, rec}.
var redeemCodeScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local first = redis.call('HSETNX', KEYS[1], 'redeemed', '1')
return {first, redis.call('HGET', KEYS[1], 'rec')}
`)
