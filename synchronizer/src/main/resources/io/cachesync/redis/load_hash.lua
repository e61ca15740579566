-- Writes rows of an initial load as hashes, without the version guard: the load runs before the
-- stream starts, on a replication slot made for it, so nothing newer can be in Redis for its rows
-- (see LettuceCacheWriter's initial-load writes).
-- KEYS  pairs, as write_hash.lua takes them (the second of each pair is not read)
-- ARGV[1] the rows' values, packed with MessagePack as write_hash.lua takes them; a loaded row
--       has no unchanged columns
-- Returns 'written' per pair.
local args = {cmsgpack.unpack(ARGV[1])}
local results = {}
local a = 1
for i = 1, #KEYS, 2 do
  local key, version, ttl = KEYS[i], args[a], args[a + 1]
  local n, m = tonumber(args[a + 2]), tonumber(args[a + 3])
  redis.call('DEL', key)
  redis.call('HSET', key, '__v', version, unpack(args, a + 4 + n, a + 3 + n + 2 * m))
  if ttl ~= '0' then
    redis.call('EXPIRE', key, ttl)
  end
  results[#results + 1] = 'written'
  a = a + 4 + n + 2 * m
end
return results
