-- increment(key, delta) -> the new entry {key, value, createRevision, modRevision, ''},
-- or {'NOT_INTEGER'} if the stored value is not a decimal integer (nothing written).
-- A counter in one round trip: the value is the decimal text of a safe integer; absent reads 0.
local key, delta = ARGV[3], tonumber(ARGV[4])
local cur = read_entry(key)
local n = 0
if cur then
  n = tonumber(cur[2])
  if not n or n ~= math.floor(n) or not string.match(cur[2], '^%-?%d+$') then return {'NOT_INTEGER'} end
end
if math.abs(n + delta) > 9007199254740991 then return {'OVERFLOW'} end
local value = str(n + delta)
local create, rev = write_entry(key, value, '', cur)
return {key, value, create, rev, ''}
