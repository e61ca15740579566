-- Writes a row's projection as a JSON string, unless the stored version is newer (invariant 2).
-- The value starts with {"__v":"<version>", so the stored version is read without a JSON parser.
-- KEYS[1]  the key
-- ARGV[1]  the version: 32 hex digits
-- ARGV[2]  ttl in seconds, '0' for none
-- ARGV[3]  the JSON value
-- ARGV[4]  '' or, for a value merged with the cached one, the version it was merged from: the
--          write then applies only if that version is still stored, and evicts otherwise
-- Returns 'written', 'stale', 'wrongtype' (the key held another type and was deleted) or 'evicted'.
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
if kind ~= 'none' and kind ~= 'string' then
  redis.call('DEL', key)
  return 'wrongtype'
end
local stored = false
if kind == 'string' then
  stored = string.match(redis.call('GETRANGE', key, 0, 40), '^{"__v":"(%x+)"')
  if stored and stored > ARGV[1] then
    return 'stale'
  end
end
if ARGV[4] ~= '' and stored ~= ARGV[4] then
  redis.call('DEL', key)
  return 'evicted'
end
if ARGV[2] ~= '0' then
  redis.call('SET', key, ARGV[3], 'EX', ARGV[2])
else
  redis.call('SET', key, ARGV[3])
end
return 'written'
