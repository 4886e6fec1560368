-- Shared by every Concord script: prepended to each one when it is loaded (see ../scripts.ts), so the
-- key layout and the write path live in one place.
--
-- KEYS[1] is the keyspace's base name. Every key the keyspace uses derives from it, so all of them
-- share one hash slot (the base carries a {hash tag}) and a client's keyPrefix applies to all.
-- ARGV[1] is the time that judges leases ('' = the server's TIME); ARGV[2] the history limit.
-- An operation's own arguments start at ARGV[3].
local base = KEYS[1]
local K_REV = base .. ':rev'              -- the keyspace revision
local K_LOG = base .. ':log'              -- stream of changes, entry ID "<revision>-0"
local K_KEYS = base .. ':keys'            -- sorted set of live keys, all score 0, for lexical ranges
local K_LEASES = base .. ':leases'        -- sorted set: lease id -> deadline (ms)
local K_LEASE_TTL = base .. ':lease-ttl'  -- hash: lease id -> ttl (ms)
local K_LEASE_SEQ = base .. ':lease-seq'  -- counter for lease ids
local K_CHANGES = base .. ':changes'      -- pub/sub channel: every change as it is written
local NOW_ARG = ARGV[1]
local HISTORY = ARGV[2]

-- One hash per entry: v (value), c (create revision), m (mod revision), l (lease, if any).
local function kv(key) return base .. ':kv:' .. key end
-- The keys attached to a lease, so expiry finds them without a scan.
local function lease_keys(id) return base .. ':lease:' .. id end

-- Lua prints numbers with %.14g; revisions need every digit up to 2^53.
local function str(n) return string.format('%d', n) end

local function now_ms()
  if NOW_ARG ~= '' then return tonumber(NOW_ARG) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- While a batch runs (see run_batch): the last revision it wrote, and its changes to publish.
local BATCH = nil

local function revision()
  if BATCH and BATCH.rev then return BATCH.rev end
  return tonumber(redis.call('GET', K_REV) or '0')
end

-- An entry as a reply: {key, value, createRevision, modRevision, lease or ''}; nil if absent.
local function read_entry(key)
  local f = redis.call('HMGET', kv(key), 'v', 'c', 'm', 'l')
  if not f[1] then return nil end
  return {key, f[1], tonumber(f[2]), tonumber(f[3]), f[4] or ''}
end

-- Records revision `rev`. The log entry goes first: XADD is the write that can fail (a stream
-- ahead of the counter), and a script's earlier writes are not rolled back when a later one fails.
-- The change is also published, so watching clients get it pushed with no command of their own
-- (see ../tail.ts): "rev type create keyBytes leaseBytes valueBytes\n" then the key, the lease and
-- the value; one message may carry several changes, one after the other.
-- pcall: a user whose ACL forbids the channel still writes (its watches then tail the stream).
local function append(rev, fields)
  local key, value, create, lease = fields[4], fields[6] or '', fields[8] or '', fields[10] or ''
  local change = str(rev) .. ' ' .. fields[2] .. ' ' .. create .. ' ' .. #key .. ' ' .. #lease .. ' ' .. #value .. '\n' .. key .. lease .. value
  redis.call('XADD', K_LOG, 'MAXLEN', '~', HISTORY, str(rev) .. '-0', unpack(fields))
  if BATCH then
    BATCH.rev = rev
    BATCH.changes[#BATCH.changes + 1] = change
    return
  end
  redis.call('SET', K_REV, str(rev))
  redis.pcall('PUBLISH', K_CHANGES, change)
end

-- Runs `write` (a batch's writes) with the revision counter kept in the script and set once, and the
-- changes published as one message (one for each watching client to receive and decode, instead of
-- one per op). Should a write fail half-way (a server error: scripts do not roll back), what was
-- written is still counted and published, so the counter never falls behind the log; the error is
-- returned as the script's error reply. nil when all went well.
local function run_batch(write)
  BATCH = {changes = {}}
  local ok, err = pcall(write)
  local done = BATCH
  BATCH = nil
  if done.rev then
    redis.call('SET', K_REV, str(done.rev))
    redis.pcall('PUBLISH', K_CHANGES, table.concat(done.changes))
  end
  if ok then return nil end
  if type(err) == 'table' and err.err then return err end
  return redis.error_reply(tostring(err))
end

-- nil if a write attached to `lease` ('' = none) may go ahead, else the refusal {3}: the lease has
-- expired or is unknown.
local function check_lease(lease)
  if lease == '' then return nil end
  local deadline = redis.call('ZSCORE', K_LEASES, lease)
  if not deadline or tonumber(deadline) <= now_ms() then return {3} end
  return nil
end

-- Writes `value` to `key` (as it is now: `cur`, from read_entry), attached to `lease` ('' = none), as
-- one revision with its own log entry; returns its createRevision and modRevision.
local function write_entry(key, value, lease, cur)
  local rev = revision() + 1
  local create = rev
  if cur then create = cur[3] end
  local fields = {'t', 'p', 'k', key, 'v', value, 'c', str(create)}
  if lease ~= '' then
    fields[#fields + 1] = 'l'
    fields[#fields + 1] = lease
  end
  append(rev, fields)
  if lease ~= '' then
    redis.call('HSET', kv(key), 'v', value, 'c', str(create), 'm', str(rev), 'l', lease)
  else
    redis.call('HSET', kv(key), 'v', value, 'c', str(create), 'm', str(rev))
    if cur and cur[5] ~= '' then redis.call('HDEL', kv(key), 'l') end
  end
  if not cur then redis.call('ZADD', K_KEYS, 0, key) end
  local old = ''
  if cur then old = cur[5] end
  if old ~= lease then
    if old ~= '' then redis.call('SREM', lease_keys(old), key) end
    if lease ~= '' then redis.call('SADD', lease_keys(lease), key) end
  end
  return create, rev
end

-- Deletes a live key as one revision with its own log entry; returns the revision.
local function delete_entry(key, lease)
  local rev = revision() + 1
  append(rev, {'t', 'd', 'k', key})
  redis.call('DEL', kv(key))
  redis.call('ZREM', K_KEYS, key)
  if lease ~= '' then redis.call('SREM', lease_keys(lease), key) end
  return rev
end

-- Deletes a lease and every key still attached to it, one revision per key.
local function revoke(id)
  local keys = redis.call('SMEMBERS', lease_keys(id))
  table.sort(keys) -- set order is arbitrary; the log should not be
  for _, key in ipairs(keys) do
    if redis.call('HGET', kv(key), 'l') == id then delete_entry(key, id) end
  end
  redis.call('DEL', lease_keys(id))
  redis.call('ZREM', K_LEASES, id)
  redis.call('HDEL', K_LEASE_TTL, id)
end

-- nil if a write may go ahead, else its failure reply {code, current or {}}: 0 = the target is not
-- at if_version, 2 = the guard key is not at guard_version (an absent guard key never matches).
local function check(cur, if_version, guard_key, guard_version)
  if guard_key ~= '' then
    local g = redis.call('HGET', kv(guard_key), 'm')
    if not g or tonumber(g) ~= tonumber(guard_version) then return {2, cur or {}} end
  end
  if if_version ~= '' then
    local want = tonumber(if_version)
    if want == 0 then
      if cur then return {0, cur} end
    elseif not cur or cur[4] ~= want then
      return {0, cur or {}}
    end
  end
  return nil
end

-- Live keys from `min` (a ZRANGEBYLEX bound) up to the end of `prefix`, at most `limit` (0 = all):
-- {revision, more (0/1), entry...}. No UTF-8 string contains byte 255, so prefix..\255 ends the range.
local function range(prefix, min, limit)
  local max = '(' .. prefix .. '\255'
  local keys
  if limit > 0 then
    keys = redis.call('ZRANGEBYLEX', K_KEYS, min, max, 'LIMIT', 0, limit + 1)
  else
    keys = redis.call('ZRANGEBYLEX', K_KEYS, min, max)
  end
  local more = 0
  if limit > 0 and #keys > limit then
    more = 1
    keys[#keys] = nil
  end
  local out = {revision(), more}
  for _, key in ipairs(keys) do
    local e = read_entry(key)
    if e then out[#out + 1] = e end
  end
  return out
end
