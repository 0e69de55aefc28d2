"""The Lua scripts that make each cluster change atomic inside Redis.

Redis runs a script alone, so a name claim, a `seq` with its log entry and
its send id, or the reaping of a dead instance, can never interleave with
another instance's change. Every script touches the keys of one hash slot
only: the chat's global keys (`{g}`) or one room's (`{r:KEY}`), so that rooms
can be spread over a Redis Cluster later and nothing needs an atomic step
across two rooms.

The global keys (after the configured prefix): `{g}:names` (hash: name key
-> name), `{g}:owners` (hash: name key -> `instance/connection` token),
`{g}:inst:<instance>` (set of name keys held there), `{g}:alive` (sorted set:
instance -> the Redis time in ms when it counts as dead), `{g}:rooms` (hash:
room key -> name, the directory of rooms), `{g}:log` (stream: who came, went
or changed name, rooms created, DMs sent), `{g}:dmseq` (hash: conversation ->
its last seq), `{g}:dm:<a>:<b>` (stream: one DM conversation's history, entry
ids `<seq>-0`), `{g}:id:...` (a remembered DM send id: `"<seq> <ms>"`, with a
TTL).

A room's keys: `{r:KEY}:log` (stream: messages as `<seq>-0`; joins, parts and
topics as `<current seq>-<n>`, after the message they follow), `{r:KEY}:seq`
(counter), `{r:KEY}:meta` (hash: name, topic, topic_by, topic_ts),
`{r:KEY}:members` (set of tokens), `{r:KEY}:id:...` (remembered send ids),
`{r:KEY}:audit` (stream: the room's moderation news), `{r:KEY}:gone` (hash:
the seqs of deleted messages), `{r:KEY}:edits` (hash: seq -> edited text)
and `{r:KEY}:reacts` (hash: seq -> its reactions as JSON), the three
overlaid on history read from the log (a stream entry cannot change). A room's moderation
fields (see moderation.py) live in its meta hash as `m.<field>`; the whole
server's in `{g}:mod` (same form), with its audit in `{g}:audit`.
"""

from __future__ import annotations

_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000))
end

-- A counter as a string (never through a Lua number, which would round
-- large values), started at the floor the first time.
local function current_seq(key, floor)
  local s = redis.call('GET', key)
  if not s then
    redis.call('SET', key, floor)
    s = floor
  end
  return s
end

local function release(names, owners, set, key)
  redis.call('HDEL', names, key)
  redis.call('HDEL', owners, key)
  redis.call('SREM', set, key)
end
"""

# Claim a name. KEYS: names owners inst log; ARGV: key name token maxlen account
# address (account: "" for a guest, "user" or "admin" for a registered name;
# address: where the connection comes from, which a guest's bans attach to)
CLAIM = (
    _COMMON
    + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return false
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1])
return redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*',
  'k', 'j', 'n', ARGV[2], 'o', ARGV[3], 'u', ARGV[5], 'a', ARGV[6], 'ms', now_ms())
"""
)

# Give a name back. KEYS: names owners inst log; ARGV: key token reason maxlen
RELEASE = (
    _COMMON
    + """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return false
end
local name = redis.call('HGET', KEYS[1], ARGV[1])
release(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*',
  'k', 'l', 'n', name, 'w', ARGV[3], 'o', ARGV[2], 'ms', now_ms())
"""
)

# KEYS: names owners inst log; ARGV: oldkey newkey newname token maxlen
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
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*',
  'k', 'r', 'p', old, 'n', ARGV[3], 'o', ARGV[4], 'ms', now_ms())
return 'ok'
"""
)

# Add a room to the directory. KEYS: rooms log; ARGV: key name max_rooms maxlen
# Returns 'exists', 'full' or 'created'.
CREATE_ROOM = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 'exists'
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 'full'
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local t = redis.call('TIME')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'k', 'c', 'n', ARGV[2],
  'ms', string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000)))
return 'created'
"""

# Enter a room. KEYS: meta members log seq; ARGV: name token username floor maxlen
# owner (the name key of a registered creator, who becomes the room's owner;
# "" otherwise). Returns 1 if the token entered now (a join entry was
# logged), 0 if it was in.
ENTER = (
    _COMMON
    + """
redis.call('HSETNX', KEYS[1], 'name', ARGV[1])
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then
  return 0
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'm.role:' .. ARGV[6], 'owner')
end
local s = current_seq(KEYS[4], ARGV[4])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], s .. '-*',
  'k', 'j', 'n', ARGV[3], 'o', ARGV[2], 'u', ARGV[6], 'ms', now_ms())
return 1
"""
)

# A moderator's action: write its fields (`m.<field>` in the scope's hash; an
# empty value deletes one), take a kicked or banned token out of the room's
# members, log the change for every instance and keep the news for the audit.
# A room's: KEYS meta log audit seq members; the server's: KEYS mod log audit.
# ARGV: floor ("" for the server's log, whose ids are Redis's) maxlen
# audit_maxlen change news actor_token target_token field value ...
MODERATE = (
    _COMMON
    + """
for i = 8, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], 'm.' .. ARGV[i])
  else
    redis.call('HSET', KEYS[1], 'm.' .. ARGV[i], ARGV[i + 1])
  end
end
local id = '*'
if ARGV[1] ~= '' then
  if ARGV[7] ~= '' then
    redis.call('SREM', KEYS[5], ARGV[7])
  end
  id = current_seq(KEYS[4], ARGV[1]) .. '-*'
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id,
  'k', 'z', 'x', ARGV[4], 'o', ARGV[6], 'ms', now_ms())
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'x', ARGV[5])
return 'ok'
"""
)

# A classroom event (a hand raised or lowered, an announcement seen): only
# logged, for every instance to apply in order. KEYS: log seq; ARGV: floor
# maxlen kind change token
ROOM_EVENT = (
    _COMMON
    + """
local s = current_seq(KEYS[2], ARGV[1])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], s .. '-*',
  'k', ARGV[3], 'x', ARGV[4], 'o', ARGV[5], 'ms', now_ms())
return 'ok'
"""
)

# Delete a room message: its tombstone (seq -> who) in the room's `gone`
# hash, which history reads overlay (a stream entry cannot be changed), a
# log entry for every instance, and for a moderator's delete an audit entry.
# Its edit and reactions go with it.
# KEYS: gone log seq audit edits reacts
# ARGV: floor maxlen audit_maxlen seq change news token
DELETE = (
    _COMMON
    + """
if redis.call('HSETNX', KEYS[1], ARGV[4], '1') == 0 then
  return 'gone'
end
redis.call('HDEL', KEYS[5], ARGV[4])
redis.call('HDEL', KEYS[6], ARGV[4])
local s = current_seq(KEYS[3], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], s .. '-*',
  'k', 'e', 'x', ARGV[5], 'o', ARGV[7], 'ms', now_ms())
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'x', ARGV[6])
end
return 'ok'
"""
)

# Edit a room message: its new text in the room's `edits` hash (seq ->
# text, overlaid like `gone`), and a log entry for every instance.
# KEYS: gone edits log seq; ARGV: floor maxlen seq text change token
EDIT = (
    _COMMON
    + """
if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 1 then
  return 'gone'
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
local s = current_seq(KEYS[4], ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], s .. '-*',
  'k', 'y', 'x', ARGV[5], 'o', ARGV[6], 'ms', now_ms())
return 'ok'
"""
)

# Give, take back or toggle a reaction, atomically: the room's `reacts`
# hash holds, per seq, JSON [[emoji, [[key, name], ...]], ...] in the order
# first given. ARGV[7] is '1' (give), '0' (take back) or 't' (toggle).
# Returns {'ok', names, on}, {'same', names, on} when it was so already,
# {'gone'} for a deleted message, {'full'} past ARGV[8] emoji.
# KEYS: gone reacts log seq
# ARGV: floor maxlen seq emoji key name on max change token
REACT = (
    _COMMON
    + """
if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 1 then
  return {'gone'}
end
local raw = redis.call('HGET', KEYS[2], ARGV[3])
local all = {}
if raw then all = cjson.decode(raw) end
local at = nil
for i, e in ipairs(all) do
  if e[1] == ARGV[4] then at = i break end
end
local names = {}
if at then names = all[at][2] end
local mine = nil
for i, p in ipairs(names) do
  if p[1] == ARGV[5] then mine = i break end
end
local on = ARGV[7] == '1' or (ARGV[7] == 't' and not mine)
local flag = on and '1' or '0'
if (on and mine) or (not on and not mine) then
  return {'same', cjson.encode(names), flag}
end
if on then
  if not at and #all >= tonumber(ARGV[8]) then
    return {'full'}
  end
  table.insert(names, {ARGV[5], ARGV[6]})
  if not at then table.insert(all, {ARGV[4], names}) end
else
  table.remove(names, mine)
  if #names == 0 then table.remove(all, at) end
end
if #all == 0 then
  redis.call('HDEL', KEYS[2], ARGV[3])
else
  redis.call('HSET', KEYS[2], ARGV[3], cjson.encode(all))
end
local s = current_seq(KEYS[4], ARGV[1])
local listed = cjson.encode(names)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], s .. '-*',
  'k', '+', 'x', ARGV[9], 'n', listed, 'w', flag, 'o', ARGV[10], 'ms', now_ms())
return {'ok', listed, flag}
"""
)

# Be counted in a room without telling it (a connection's `general`, which
# the global join announces). KEYS: meta members; ARGV: name token
MEMBER = """
redis.call('HSETNX', KEYS[1], 'name', ARGV[1])
return redis.call('SADD', KEYS[2], ARGV[2])
"""

# Stop being counted in a room, silently (a connection that ended, whose
# leave the global log announced). KEYS: members; ARGV: token
FORGET = """
return redis.call('SREM', KEYS[1], ARGV[1])
"""

# Leave a room. KEYS: members log seq; ARGV: token username reason floor maxlen
PART = (
    _COMMON
    + """
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local s = current_seq(KEYS[3], ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], s .. '-*',
  'k', 'l', 'n', ARGV[2], 'w', ARGV[3], 'o', ARGV[1], 'ms', now_ms())
return 1
"""
)

# Set a room's topic. KEYS: meta members log seq; ARGV: token setter topic floor maxlen
TOPIC = (
    _COMMON
    + """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  return 'gone'
end
local ms = now_ms()
redis.call('HSET', KEYS[1], 'topic', ARGV[3], 'topic_by', ARGV[2], 'topic_ts', ms)
local s = current_seq(KEYS[4], ARGV[4])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], s .. '-*',
  'k', 't', 'x', ARGV[3], 'n', ARGV[2], 'o', ARGV[1], 'ms', ms)
return 'ok'
"""
)

# A room message: check the send id and that the sender is in the room, then
# take a seq, append, and remember the id.
# KEYS: seq log idkey members
# ARGV: floor maxlen ttl_ms from token room text action reply_to reply_from ("" "": no reply)
SAY = (
    _COMMON
    + """
local seen = redis.call('GET', KEYS[3])
if seen then
  return {'again', seen}
end
if redis.call('SISMEMBER', KEYS[4], ARGV[5]) == 0 then
  return {'gone'}
end
current_seq(KEYS[1], ARGV[1])
redis.call('INCR', KEYS[1])
local s = redis.call('GET', KEYS[1])
local ms = now_ms()
local fields = {'k', 'm', 'f', ARGV[4], 'r', ARGV[6], 'x', ARGV[7], 'a', ARGV[8],
  'o', ARGV[5], 'ms', ms}
if ARGV[9] ~= '' then
  table.insert(fields, 'q')
  table.insert(fields, ARGV[9])
  table.insert(fields, 'qf')
  table.insert(fields, ARGV[10])
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], s .. '-0', unpack(fields))
redis.call('SET', KEYS[3], s .. ' ' .. ms, 'PX', ARGV[3])
return {'ok', s, ms}
"""
)

# A DM: check the send id, the sender's claim and the recipient, take the
# conversation's seq, keep it in the conversation's history and in the log
# (which delivers it), and remember the id.
# KEYS: dmseq conv_log log idkey names owners
# ARGV: floor maxlen ttl_ms from fromkey token text tokey conv
DM = (
    _COMMON
    + """
local seen = redis.call('GET', KEYS[4])
if seen then
  return {'again', seen}
end
if redis.call('HGET', KEYS[6], ARGV[5]) ~= ARGV[6] then
  return {'gone'}
end
local to = redis.call('HGET', KEYS[5], ARGV[8])
if not to then
  return {'nobody'}
end
if redis.call('HEXISTS', KEYS[1], ARGV[9]) == 0 then
  redis.call('HSET', KEYS[1], ARGV[9], ARGV[1])
end
-- Read back as a string: a Lua number would round a large seq.
redis.call('HINCRBY', KEYS[1], ARGV[9], 1)
local s = redis.call('HGET', KEYS[1], ARGV[9])
local ms = now_ms()
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], s .. '-0',
  'k', 'd', 'f', ARGV[4], 't', to, 'x', ARGV[7], 'o', ARGV[6], 'ms', ms)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*',
  'k', 'd', 's', s, 'c', ARGV[9], 'f', ARGV[4], 't', to, 'x', ARGV[7], 'o', ARGV[6], 'ms', ms)
redis.call('SET', KEYS[4], s .. ' ' .. ms, 'PX', ARGV[3])
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
# KEYS: alive names owners log; ARGV: maxlen inst_prefix
# The per-instance sets are named from the prefix; they are global keys
# (the `{g}` tag), so this still touches one slot.
REAP = (
    _COMMON
    + """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms())
local gone = 0
for _, inst in ipairs(dead) do
  local set = ARGV[2] .. inst
  for _, key in ipairs(redis.call('SMEMBERS', set)) do
    local owner = redis.call('HGET', KEYS[3], key)
    if owner and string.sub(owner, 1, #inst + 1) == inst .. '/' then
      local name = redis.call('HGET', KEYS[2], key)
      release(KEYS[2], KEYS[3], set, key)
      redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[1], '*',
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


def _last_id(key: int) -> str:
    return f"""
local last = redis.call('XREVRANGE', KEYS[{key}], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then
  id = last[1][1]
end
"""


# Where the global log ends, who is online and which rooms exist, at one
# instant. KEYS: log names owners rooms
SNAPSHOT = (
    _last_id(1)
    + """
return {id, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]),
  redis.call('HGETALL', KEYS[4])}
"""
)

# Where a room's log ends, its meta and its members, at one instant.
# KEYS: log meta members
ROOM_SNAPSHOT = (
    _last_id(1)
    + """
return {id, redis.call('HGETALL', KEYS[2]), redis.call('SMEMBERS', KEYS[3])}
"""
)
