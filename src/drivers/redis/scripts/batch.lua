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
  if op.t == 'p' then
    failed = check_lease(op.lease)
    if failed then return {0, i, failed} end
  end
end
local out = {1}
begin_batch()
for _, op in ipairs(ops) do
  if op.t == 'd' then
    out[#out + 1] = {1, delete_entry(op.key, op.cur[5]), op.cur}
  else
    local create, rev = write_entry(op.key, op.value, op.lease, op.cur)
    out[#out + 1] = {1, create, rev}
  end
end
end_batch()
return out
