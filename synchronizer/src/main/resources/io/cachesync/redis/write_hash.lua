-- Writes a row's projection as a hash, unless the stored version is newer (invariant 2).
-- KEYS[1]  the key
-- KEYS[2]  optional: the key whose hash holds the unchanged columns (the row's old key, when the
--          change moved the row to a new key); KEYS[1] itself when absent
-- ARGV[1]  the version: 32 hex digits, compared as a string
-- ARGV[2]  ttl in seconds, '0' for none
-- ARGV[3]  n, the number of unchanged TOAST columns that keep their cached field
-- ARGV[4 .. 3+n]  those columns
-- ARGV[4+n ..]    field, value pairs
-- Returns 'written', 'stale' (a newer version is stored), 'wrongtype' (the key held another type and
-- was deleted), 'evicted' (an unchanged column had nothing to keep: the key is deleted, a cache miss
-- is always safe) or 'absent' (unchanged columns and no cached value: nothing written).
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
if kind ~= 'none' and kind ~= 'hash' then
  redis.call('DEL', key)
  return 'wrongtype'
end
if kind == 'hash' then
  local stored = redis.call('HGET', key, '__v')
  if stored and stored > ARGV[1] then
    return 'stale'
  end
end
local n = tonumber(ARGV[3])
local fields = {'__v', ARGV[1]}
if n > 0 then
  local source = KEYS[2] or key
  local sourceKind = kind
  if source ~= key then
    sourceKind = redis.call('TYPE', source).ok
  end
  if sourceKind ~= 'hash' then
    if kind == 'none' then
      return 'absent'
    end
    redis.call('DEL', key)
    return 'evicted'
  end
  local kept = redis.call('HMGET', source, unpack(ARGV, 4, 3 + n))
  for i = 1, n do
    if not kept[i] then
      redis.call('DEL', key)
      return 'evicted'
    end
    fields[#fields + 1] = ARGV[3 + i]
    fields[#fields + 1] = kept[i]
  end
end
for i = 4 + n, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('DEL', key)
redis.call('HSET', key, unpack(fields))
if ARGV[2] ~= '0' then
  redis.call('EXPIRE', key, ARGV[2])
end
return 'written'
