"""The Lua scripts that make each cluster change atomic inside Redis.

Redis runs a script alone, so a name claim, a `seq` with its log entry and
its send id, or the reaping of a dead instance, can never interleave with
another instance's change. Every script appends to one stream, the chat's
log, whose entry ids encode the order:

- a message or DM is `<seq>-0`, its `seq` taken from the counter in the same
  script, so stream order is `seq` order;
- a presence event (joined, left, renamed) is `<current seq>-<n>`, after the
  message it follows and before the next one.

Keys (after the configured prefix): `seq` (counter), `log` (stream), `names`
(hash: name key -> name), `owners` (hash: name key -> `instance/connection`),
`inst:<instance>` (set of name keys held there), `alive` (sorted set:
instance -> the Redis time in ms when it counts as dead), `id:...` (a
remembered send id: `"<seq> <ms>"`, with a TTL).
"""

from __future__ import annotations

_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000))
end

-- The counter as a string (never through a Lua number, which would round
-- large values), started at the floor the first time.
local function current_seq(key, floor)
  local s = redis.call('GET', key)
  if not s then
    redis.call('SET', key, floor)
    s = floor
  end
  return s
end

local function event(log, seq, floor, maxlen, ...)
  local s = current_seq(seq, floor)
  return redis.call('XADD', log, 'MAXLEN', '~', maxlen, s .. '-*', ...)
end

local function release(names, owners, set, key)
  redis.call('HDEL', names, key)
  redis.call('HDEL', owners, key)
  redis.call('SREM', set, key)
end
"""

# KEYS: names owners inst log seq; ARGV: key name token floor maxlen
JOIN = (
    _COMMON
    + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return false
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1])
return event(KEYS[4], KEYS[5], ARGV[4], ARGV[5],
  'k', 'j', 'n', ARGV[2], 'o', ARGV[3], 'ms', now_ms())
"""
)

# KEYS: names owners inst log seq; ARGV: key token reason floor maxlen
LEAVE = (
    _COMMON
    + """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return false
end
local name = redis.call('HGET', KEYS[1], ARGV[1])
release(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return event(KEYS[4], KEYS[5], ARGV[4], ARGV[5],
  'k', 'l', 'n', name, 'w', ARGV[3], 'o', ARGV[2], 'ms', now_ms())
"""
)

# KEYS: names owners inst log seq; ARGV: oldkey newkey newname token floor maxlen
RENAME = (
    _COMMON
    + """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[4] then
  return 'gone'
end
if ARGV[1] ~= ARGV[2] and redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then
  return 'taken'
end
local old = redis.call('HGET', KEYS[1], ARGV[1])
release(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[2])
event(KEYS[4], KEYS[5], ARGV[5], ARGV[6],
  'k', 'r', 'p', old, 'n', ARGV[3], 'o', ARGV[4], 'ms', now_ms())
return 'ok'
"""
)

# A room message (kind m) or a DM (kind d): check the send id, the sender and
# (for a DM) the recipient, then take a seq, append, and remember the id.
# KEYS: seq log idkey names owners
# ARGV: floor maxlen ttl_ms kind from fromkey token room text action tokey
SEND = (
    _COMMON
    + """
local seen = redis.call('GET', KEYS[3])
if seen then
  return {'again', seen}
end
if redis.call('HGET', KEYS[5], ARGV[6]) ~= ARGV[7] then
  return {'gone'}
end
local to = ''
if ARGV[4] == 'd' then
  to = redis.call('HGET', KEYS[4], ARGV[11])
  if not to then
    return {'nobody'}
  end
end
current_seq(KEYS[1], ARGV[1])
redis.call('INCR', KEYS[1])
local s = redis.call('GET', KEYS[1])
local ms = now_ms()
if ARGV[4] == 'm' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], s .. '-0',
    'k', 'm', 'f', ARGV[5], 'r', ARGV[8], 'x', ARGV[9], 'a', ARGV[10], 'o', ARGV[7], 'ms', ms)
else
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], s .. '-0',
    'k', 'd', 'f', ARGV[5], 't', to, 'x', ARGV[9], 'o', ARGV[7], 'ms', ms)
end
redis.call('SET', KEYS[3], s .. ' ' .. ms, 'PX', ARGV[3])
return {'ok', s, ms, to}
"""
)

# KEYS: alive; ARGV: instance ttl_ms. Returns 1 when the instance was not
# registered (first start, or the others had given it up for dead).
ALIVE = """
local t = redis.call('TIME')
local deadline = string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000) + ARGV[2])
return redis.call('ZADD', KEYS[1], deadline, ARGV[1])
"""

# Announce the users of every instance past its deadline as left (lost).
# KEYS: alive names owners log seq; ARGV: floor maxlen prefix
# The per-instance sets are named from the prefix, which ties this script to
# a single Redis (not Redis Cluster, where keys must be declared).
REAP = (
    _COMMON
    + """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms())
local gone = 0
for _, inst in ipairs(dead) do
  local set = ARGV[3] .. 'inst:' .. inst
  for _, key in ipairs(redis.call('SMEMBERS', set)) do
    local owner = redis.call('HGET', KEYS[3], key)
    if owner and string.sub(owner, 1, #inst + 1) == inst .. '/' then
      local name = redis.call('HGET', KEYS[2], key)
      release(KEYS[2], KEYS[3], set, key)
      event(KEYS[4], KEYS[5], ARGV[1], ARGV[2],
        'k', 'l', 'n', name, 'w', 'lost', 'o', owner, 'ms', now_ms())
      gone = gone + 1
    end
  end
  redis.call('DEL', set)
  redis.call('ZREM', KEYS[1], inst)
end
return gone
"""
)

# Where the log ends and who is online, read at one instant.
# KEYS: log names owners
SNAPSHOT = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then
  id = last[1][1]
end
return {id, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}
"""
