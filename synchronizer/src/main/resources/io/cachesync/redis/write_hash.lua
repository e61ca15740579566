-- Writes a row's projection as a hash, unless the stored version is newer (invariant 2).
-- KEYS[1]  the key
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
  if kind == 'none' then
    return 'absent'
  end
  local kept = redis.call('HMGET', key, unpack(ARGV, 4, 3 + n))
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
