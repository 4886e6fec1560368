-- sweep(maxLeases) -> {revoked, ms until the next deadline or -1 if no lease is left}
-- Every client runs this at the next deadline, so a dead client's keys still go when it expires.
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', K_LEASES, '-inf', str(now), 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(expired) do revoke(id) end
local first = redis.call('ZRANGE', K_LEASES, 0, 0, 'WITHSCORES')
if #first == 0 then return {#expired, -1} end
return {#expired, math.max(0, tonumber(first[2]) - now)}
