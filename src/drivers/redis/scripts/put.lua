-- put(key, value, ifVersion, lease, guardKey, guardVersion, withRange, rangePrefix)
--   -> {putReply, rangeReply or {}}
-- putReply: {1, createRevision, modRevision} written; {0|2, current} refused (see check);
-- {3} the lease has expired or is unknown, and nothing was written.
-- With withRange = '1' the range of rangePrefix is read after the write, in the same atomic step.
local key, value, if_version, lease = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local guard_key, guard_version, with_range, range_prefix = ARGV[7], ARGV[8], ARGV[9], ARGV[10]

local function put()
  local cur = read_entry(key)
  local failed = check(cur, if_version, guard_key, guard_version) or check_lease(lease)
  if failed then return failed end
  local create, rev = write_entry(key, value, lease, cur)
  return {1, create, rev}
end

local result = put()
if with_range == '1' and result[1] ~= 3 then return {result, range(range_prefix, '[' .. range_prefix, 0)} end
return {result, {}}
