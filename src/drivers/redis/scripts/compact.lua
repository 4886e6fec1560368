-- compact(revision): drops log entries before `revision` (never past the next revision to be written)
local target = math.min(tonumber(ARGV[3]), revision() + 1)
redis.call('XTRIM', K_LOG, 'MINID', str(target) .. '-0')
return 0
