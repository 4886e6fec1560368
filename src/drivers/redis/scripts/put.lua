-- put(key, value, ifVersion, lease, guardKey, guardVersion, withRange, rangePrefix)
--   -> {putReply, rangeReply or {}}
-- putReply: {1, createRevision, modRevision} written; {0|2, current} refused (see check);
-- {3} the lease has expired or is unknown, and nothing was written.
-- With withRange = '1' the range of rangePrefix is read after the write, in the same atomic step.
local key, value, if_version, lease = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local guard_key, guard_version, with_range, range_prefix = ARGV[7], ARGV[8], ARGV[9], ARGV[10]

local function put()
  local cur = read_entry(key)
  local failed = check(cur, if_version, guard_key, guard_version)
  if failed then return failed end
  if lease ~= '' then
    local deadline = redis.call('ZSCORE', K_LEASES, lease)
    if not deadline or tonumber(deadline) <= now_ms() then return {3} end
  end
  local rev = revision() + 1
  local create = rev
  if cur then create = cur[3] end
  local fields = {'t', 'p', 'k', key, 'v', value, 'c', str(create)}
  if lease ~= '' then
    fields[#fields + 1] = 'l'
    fields[#fields + 1] = lease
  end
  append(rev, fields)
  redis.call('HSET', kv(key), 'v', value, 'c', str(create), 'm', str(rev))
  if lease ~= '' then redis.call('HSET', kv(key), 'l', lease) else redis.call('HDEL', kv(key), 'l') end
  if not cur then redis.call('ZADD', K_KEYS, 0, key) end
  local old = ''
  if cur then old = cur[5] end
  if old ~= lease then
    if old ~= '' then redis.call('SREM', lease_keys(old), key) end
    if lease ~= '' then redis.call('SADD', lease_keys(lease), key) end
  end
  return {1, create, rev}
end

local result = put()
if with_range == '1' and result[1] ~= 3 then return {result, range(range_prefix, '[' .. range_prefix, 0)} end
return {result, {}}
