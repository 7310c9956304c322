"""The Lua scripts of ``RedisStore`` (``mockserver.state.store_redis``): every
read-modify-write of the store is one script, atomic across every worker of every server."""

DELETE = """
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
if ARGV[2] ~= '' then
  local left = redis.call('DECR', ARGV[2] .. ':refs')
  if left <= 0 then redis.call('DEL', ARGV[2], ARGV[2] .. ':refs') end
end
return 1
"""

CLOCK_ADVANCE = """
local now = tonumber(redis.call('GET', KEYS[1]) or ARGV[2]) + tonumber(ARGV[1])
local text = string.format('%.17g', now)
redis.call('SET', KEYS[1], text)
return text
"""

TAKE_TOKEN = """
local capacity, per_second, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens = tonumber(saved[1]) or capacity
local last = tonumber(saved[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - last) * per_second)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / per_second end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'last', string.format('%.17g', now))
return string.format('%.17g', wait)
"""

# the fault stream: the setting in force (the one stored at run time, else the start-up flags
# in ARGV) and, when its rate is not 0, the next position; returned as strings (Lua numbers
# would lose a rate's digits)
FAULTS_NEXT = """
local saved = redis.call('HMGET', KEYS[1], 'rate', 'seed')
local rate, seed = ARGV[1], ARGV[2]
if saved[1] then rate, seed = saved[1], saved[2] end
if tonumber(rate) <= 0 then return false end
return {rate, seed, tostring(redis.call('HINCRBY', KEYS[1], 'drawn', 1))}
"""

# key-specific rules first, then global ones; the newest first among equals (as MemoryStore
# and SQLiteStore)
TAKE_RULE = """
local ids = redis.call('ZREVRANGE', KEYS[1], 0, -1)
local best, best_rule = nil, nil
for pass = 1, 2 do
  for _, id in ipairs(ids) do
    local raw = redis.call('HGET', KEYS[2], id)
    if raw then
      local rule = cjson.decode(raw)
      local keyed = rule.key ~= cjson.null
      if (pass == 1 and keyed and rule.key == ARGV[1]) or (pass == 2 and not keyed) then
        if rule.provider == cjson.null or rule.provider == ARGV[2] then
          best, best_rule = id, rule
          break
        end
      end
    end
  end
  if best then break end
end
if not best then return false end
if best_rule.remaining ~= cjson.null then
  best_rule.remaining = best_rule.remaining - 1
  if best_rule.remaining <= 0 then
    redis.call('HDEL', KEYS[2], best)
    redis.call('ZREM', KEYS[1], best)
  else
    redis.call('HSET', KEYS[2], best, cjson.encode(best_rule))
  end
end
return best_rule.scenario
"""

# a read request's instant (RedisStore.read_instant): the clock, whether any rule is in force,
# the fault rate and, when KEYS[4] is given, the job the request names; one command, so one
# reply to parse instead of four (a poll's CPU is mostly redis-py's work per command)
READ_INSTANT = """
local job = false
if KEYS[4] then job = redis.call('GET', KEYS[4]) end
return {redis.call('GET', KEYS[1]), redis.call('EXISTS', KEYS[2]),
        redis.call('HGET', KEYS[3], 'rate'), job}
"""


# webhooks owed (RedisStore.webhook_*): a hash per job (record, due, lease, token) and a
# sorted set of the open ones by due time; ARGV[6] is the hashes' key prefix
WEBHOOK_CLAIM = """
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  if #out >= tonumber(ARGV[5]) then break end
  local key = ARGV[6] .. id
  if tonumber(redis.call('HGET', key, 'lease') or '0') <= tonumber(ARGV[2]) then
    redis.call('HSET', key, 'lease', ARGV[3], 'token', ARGV[4])
    table.insert(out, redis.call('HGET', key, 'record'))
  end
end
return out
"""

WEBHOOK_SETTLE = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'lease', '0', 'token', '', 'due', ARGV[3])
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], ARGV[4])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
end
return 1
"""

WEBHOOK_NEXT_DUE = """
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if tonumber(redis.call('HGET', ARGV[2] .. id, 'lease') or '0') <= tonumber(ARGV[1]) then
    return tostring(redis.call('ZSCORE', KEYS[1], id))
  end
end
return false
"""
