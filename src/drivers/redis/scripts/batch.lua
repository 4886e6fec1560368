-- batch(n, then per op: type, key, value, ifVersion, lease, guardKey, guardVersion)
-- every condition is checked first; then all ops apply, each its own revision.
-- -> {1, {putReply|deleteReply}...} or {0, failedIndex(1-based), failReply}
local n = tonumber(ARGV[3])
local ops = {}
for i = 1, n do
  local b = 3 + (i - 1) * 7
  ops[i] = {t = ARGV[b + 1], key = ARGV[b + 2], value = ARGV[b + 3], ifv = ARGV[b + 4], lease = ARGV[b + 5], gk = ARGV[b + 6], gv = ARGV[b + 7]}
end
for i, op in ipairs(ops) do
  op.cur = read_entry(op.key)
  local failed = check(op.cur, op.ifv, op.gk, op.gv)
  if failed then return {0, i, failed} end
  if op.t == 'd' and not op.cur then return {0, i, {0, {}}} end
  if op.t == 'p' and op.lease ~= '' then
    local deadline = redis.call('ZSCORE', K_LEASES, op.lease)
    if not deadline or tonumber(deadline) <= now_ms() then return {0, i, {3}} end
  end
end
local out = {1}
for _, op in ipairs(ops) do
  if op.t == 'd' then
    out[#out + 1] = {1, delete_entry(op.key, op.cur[5]), op.cur}
  else
    local cur, key, value, lease = op.cur, op.key, op.value, op.lease
    local rev = revision() + 1
    local create = rev
    if cur then create = cur[3] end
    local fields = {'t', 'p', 'k', key, 'v', value, 'c', str(create)}
    if lease ~= '' then fields[#fields + 1] = 'l'; fields[#fields + 1] = lease end
    append(rev, fields)
    redis.call('HSET', kv(key), 'v', value, 'c', str(create), 'm', str(rev))
    if lease ~= '' then redis.call('HSET', kv(key), 'l', lease) elseif cur and cur[5] ~= '' then redis.call('HDEL', kv(key), 'l') end
    if not cur then redis.call('ZADD', K_KEYS, 0, key) end
    local old = ''
    if cur then old = cur[5] end
    if old ~= lease then
      if old ~= '' then redis.call('SREM', lease_keys(old), key) end
      if lease ~= '' then redis.call('SADD', lease_keys(lease), key) end
    end
    out[#out + 1] = {1, create, rev}
  end
end
return out
