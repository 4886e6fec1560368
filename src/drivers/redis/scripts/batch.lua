-- batch(n, head, body): n ops packed into two arguments, so a batch of 64 is 5 arguments, not 450.
-- head: a line per op, "type ifVersion guardVersion keyBytes valueBytes leaseBytes guardKeyBytes\n"
-- (type p or d; a version may be empty); body: each op's key, value, lease and guard key, in a row.
-- Every condition is checked first; then all ops apply, each its own revision.
-- -> {1, {putReply|deleteReply}...} or {0, failedIndex(1-based), failReply}
local n, head, body = tonumber(ARGV[3]), ARGV[4], ARGV[5]
local ops = {}
local at, from = 1, 1
local function take(bytes)
  local s = string.sub(body, from, from + bytes - 1)
  from = from + bytes
  return s
end
for i = 1, n do
  local t, ifv, gv, kb, vb, lb, gb, nxt = string.match(head, '^([pd]) (%d*) (%d*) (%d+) (%d+) (%d+) (%d+)\n()', at)
  if not t then return redis.error_reply('ERR concord batch: op ' .. i .. ' is malformed') end
  at = nxt
  local key = take(tonumber(kb))
  local value = take(tonumber(vb))
  local lease = take(tonumber(lb))
  ops[i] = {t = t, ifv = ifv, gv = gv, key = key, value = value, lease = lease, gk = take(tonumber(gb))}
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
local failed = run_batch(function()
  for _, op in ipairs(ops) do
    if op.t == 'd' then
      out[#out + 1] = {1, delete_entry(op.key, op.cur[5]), op.cur}
    else
      local create, rev = write_entry(op.key, op.value, op.lease, op.cur)
      out[#out + 1] = {1, create, rev}
    end
  end
end)
if failed then return failed end
return out
