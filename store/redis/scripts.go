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

// revokeLua is the revocation step shared by revokeScript and
// applyScript: feed, until, seq and epoch keys; jti, until and now (unix
// ms, strings) and a fresh epoch. It returns the new sequence, or 0 when an
// unexpired revocation with the same or a later until exists (no news). It
// sweeps up to 100 expired revocations. (Lua number precision: unix
// milliseconds and feed sequences stay far below 2^53.)
const revokeLua = `
local function revoke(feed, untilk, seqk, epochk, jti, untl, nowArg, epoch)
	local now = tonumber(nowArg)
	local old = redis.call('ZSCORE', untilk, jti)
	if old and tonumber(old) > now and tonumber(old) >= tonumber(untl) then return 0 end
	-- Sweep by the earlier of the caller's and the server's clock: an
	-- instance whose clock runs ahead never deletes revocations early.
	local t = redis.call('TIME')
	local sweep = math.min(now, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
	local dead = redis.call('ZRANGEBYSCORE', untilk, '-inf', sweep, 'LIMIT', 0, 100)
	for _, j in ipairs(dead) do
		redis.call('ZREM', feed, j)
		redis.call('ZREM', untilk, j)
	end
	if redis.call('EXISTS', epochk) == 0 then redis.call('SET', epochk, epoch) end
	local seq = redis.call('INCR', seqk)
	redis.call('ZADD', feed, seq, jti)
	redis.call('ZADD', untilk, untl, jti)
	return seq
end
`

// revoke: KEYS feed, until, seq, epoch; ARGV jti, until, now, epoch.
// Returns what revokeLua returns.
var revokeScript = goredis.NewScript(revokeLua + `
return revoke(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
`)

// apply is a compare-and-set over string records of the {rev} slot, with
// revocations in the same step (refresh families). KEYS: feed, until, seq,
// epoch, then n checked keys, then w written keys. ARGV: now, epoch, n, w,
// then n expected values ("" = must not exist), then w pairs (value ("" =
// delete), pxat), then pairs (jti, until) to revoke. Returns -1 when a
// checked key changed (nothing is written), else how many revocations were
// news.
var applyScript = goredis.NewScript(revokeLua + `
local n, w = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, n do
	local v = redis.call('GET', KEYS[4 + i])
	if (v or '') ~= ARGV[4 + i] then return -1 end
end
for i = 1, w do
	local k, v, at = KEYS[4 + n + i], ARGV[3 + n + 2 * i], ARGV[4 + n + 2 * i]
	if v == '' then redis.call('DEL', k) else redis.call('SET', k, v, 'PXAT', at) end
end
local news = 0
for i = 5 + n + 2 * w, #ARGV - 1, 2 do
	if revoke(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[i], ARGV[i + 1], ARGV[1], ARGV[2]) > 0 then news = news + 1 end
end
return news
`)

// hashCAS: KEYS hash[, counter]; ARGV field, expected ("" = missing), new
// ("" = delete). Writes only when the field still holds expected, then
// increments the counter (when given). Returns -1 when the field changed,
// else the counter's new value (0 without one).
var hashCASScript = goredis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if (v or '') ~= ARGV[2] then return -1 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
if KEYS[2] then return redis.call('INCR', KEYS[2]) end
return 0
`)

// putInCounted: KEYS hash, counter; ARGV field, value ("" = delete).
// Writes the field and increments the counter (deleting a missing field
// changes nothing). Returns the counter.
var putInCountedScript = goredis.NewScript(`
if ARGV[2] == '' then
	if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return tonumber(redis.call('GET', KEYS[2]) or '0') end
else
	redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return redis.call('INCR', KEYS[2])
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
