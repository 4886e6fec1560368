-- changes(from, limit, prefix, maxScan)
--   -> {0, revision, scannedTo, {event...}}: events under prefix with revision >= from, at most
--      `limit`, found by scanning the log up to revision scannedTo (at most maxScan entries);
--   -> {1, revision, firstKept}: `from` is older than the oldest change the log still holds.
-- event: {revision, 'p', key, value, createRevision, lease or ''} or {revision, 'd', key}
local from, limit, prefix, max_scan = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local rev = revision()
if from > rev then return {0, rev, from - 1, {}} end
-- Every revision has exactly one log entry, so the first one left is where history starts.
local first_kept = rev + 1
local head = redis.call('XRANGE', K_LOG, '-', '+', 'COUNT', 1)
if #head > 0 then first_kept = tonumber(string.match(head[1][1], '^%d+')) end
if from < first_kept then return {1, rev, first_kept} end

local BATCH = 128
local events, scanned, start, n = {}, from - 1, str(from) .. '-0', #prefix
while #events < limit and scanned - from + 1 < max_scan do
  local batch = redis.call('XRANGE', K_LOG, start, '+', 'COUNT', BATCH)
  for _, e in ipairs(batch) do
    local f = e[2] -- fields in the order append() wrote them: t, k, then v, c, l for a put
    scanned = tonumber(string.match(e[1], '^%d+'))
    local key = f[4]
    if string.sub(key, 1, n) == prefix then
      if f[2] == 'p' then
        events[#events + 1] = {scanned, 'p', key, f[6], tonumber(f[8]), f[10] or ''}
      else
        events[#events + 1] = {scanned, 'd', key}
      end
      if #events == limit then break end
    end
  end
  if #batch < BATCH then break end
  start = '(' .. str(scanned) .. '-0'
end
return {0, rev, scanned, events}
