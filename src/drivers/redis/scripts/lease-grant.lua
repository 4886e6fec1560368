-- grantLease(ttlMs, nonce) -> lease id
-- The id joins a counter and the client's random nonce: should the server lose its data, a new
-- lease never takes the id of one a surviving client still keeps alive.
local ttl = tonumber(ARGV[3])
local id = str(redis.call('INCR', K_LEASE_SEQ)) .. '-' .. ARGV[4]
redis.call('ZADD', K_LEASES, str(now_ms() + ttl), id)
redis.call('HSET', K_LEASE_TTL, id, str(ttl))
return id
