-- deletePrefix(prefix) -> {deleted, revision}; one revision per key, in key order
local prefix = ARGV[3]
local keys = redis.call('ZRANGEBYLEX', K_KEYS, '[' .. prefix, '(' .. prefix .. '\255')
for _, key in ipairs(keys) do
  delete_entry(key, redis.call('HGET', kv(key), 'l') or '')
end
return {#keys, revision()}
