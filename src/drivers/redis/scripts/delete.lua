-- delete(key, ifVersion, guardKey, guardVersion)
--   -> {1, revision, previous} deleted; {0|2, current or {}} refused or absent (see check)
local key = ARGV[3]
local cur = read_entry(key)
local failed = check(cur, ARGV[4], ARGV[5], ARGV[6])
if failed then return failed end
if not cur then return {0, {}} end
return {1, delete_entry(key, cur[5]), cur}
