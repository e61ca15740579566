-- Writes rows of an initial load as hashes, each unless its stored version is newer (invariant 2):
-- a daemon that was paused while it loaded must not overwrite what a newer daemon wrote since. The
-- guard is one HGET; unlike write_hash.lua nothing is merged, so nothing else is read.
-- KEYS  pairs, as write_hash.lua takes them (the second of each pair is not read)
-- ARGV[1] the rows' values, packed with MessagePack as write_hash.lua takes them; a loaded row
--       has no unchanged columns
-- Returns 'written' or 'stale' per pair.
local args = {cmsgpack.unpack(ARGV[1])}
-- A stored version counts only in the writer's form, 32 hex digits: a __v some other writer left
-- (an application's field of that name) would otherwise compare above every version and refuse
-- each write of the key for good.
local VERSION = '^' .. string.rep('%x', 32) .. '$'
local results = {}
local a = 1
for i = 1, #KEYS, 2 do
  local key, version, ttl = KEYS[i], args[a], args[a + 1]
  local n, m = tonumber(args[a + 2]), tonumber(args[a + 3])
  -- pcall: a key of another type answers with an error, and is replaced.
  local stored = redis.pcall('HGET', key, '__v')
  if type(stored) == 'string' and string.match(stored, VERSION) and stored > version then
    results[#results + 1] = 'stale'
  else
    redis.call('DEL', key)
    redis.call('HSET', key, '__v', version, unpack(args, a + 4 + n, a + 3 + n + 2 * m))
    if ttl ~= '0' then
      redis.call('EXPIRE', key, ttl)
    end
    results[#results + 1] = 'written'
  end
  a = a + 4 + n + 2 * m
end
return results
