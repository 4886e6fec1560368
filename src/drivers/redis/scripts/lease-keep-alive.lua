-- keepAlive(id) -> 1 extended by its ttl from now; 0 expired or unknown.
-- An expired lease that no sweep has reached yet is revoked here, so its keys go at once.
local id = ARGV[3]
local deadline = redis.call('ZSCORE', K_LEASES, id)
if not deadline then return 0 end
local now = now_ms()
if tonumber(deadline) <= now then
  revoke(id)
  return 0
end
local ttl = tonumber(redis.call('HGET', K_LEASE_TTL, id) or '0')
-- max: a server clock stepping back must not shorten a lease that was already granted
redis.call('ZADD', K_LEASES, str(math.max(tonumber(deadline), now + ttl)), id)
return 1
