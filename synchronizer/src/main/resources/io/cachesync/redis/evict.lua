-- Deletes a key unless it holds a newer version than the change that evicts it (invariant 2).
-- A key of an unexpected type, or a value without a version, is deleted: evicting is always safe.
-- KEYS[1]  the key
-- ARGV[1]  the version: 32 hex digits; or '' for a key that was seen without a version (an orphan
--          sweep, a repair): it is deleted only while it still has none, so a value the stream
--          wrote there since stays
-- Returns 'evicted', 'stale' or 'absent'.
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
if kind == 'none' then
  return 'absent'
end
local stored = false
if kind == 'hash' then
  stored = redis.call('HGET', key, '__v')
elseif kind == 'string' then
  stored = string.match(redis.call('GETRANGE', key, 0, 40), '^{"__v":"(%x+)"')
end
if stored and stored > ARGV[1] then
  return 'stale'
end
redis.call('DEL', key)
return 'evicted'
