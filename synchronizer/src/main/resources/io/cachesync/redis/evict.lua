-- Deletes a key unless it holds a newer version than the change that evicts it (invariant 2).
-- A key of an unexpected type, or a value without a version, is deleted: evicting is always safe.
-- KEYS[1]  the key
-- ARGV[1]  the version: 32 hex digits; or '' for a key that was seen without a version (an orphan
--          sweep, a repair): it is deleted only while it still has none, so a value the stream
--          wrote there since stays
-- KEYS[2]  optional, for an orphan sweep: the synchronizer's position hash
-- ARGV[2]  with KEYS[2]: the fence taken after the key's row was found gone (16 hex digits); the
--          key is deleted only while the position's 'applied' is at or past it, so that the stream
--          has applied every change committed before (one may still need the key: a move of its row
--          merges an unchanged TOASTed column from it). Checked here, with the delete, on the server
--          that deletes: a master that a failover promoted without those batches refuses
-- Returns 'evicted', 'stale', 'absent' or 'behind' (not deleted: the position is before the fence).
-- Versions in the writer's form only, 32 hex digits (see write_hash.lua and write_json.lua).
local VERSION = '^' .. string.rep('%x', 32) .. '$'
local VERSION_HEAD = '^{"__v":"(' .. string.rep('%x', 32) .. ')"'
local key = KEYS[1]
if KEYS[2] then
  local applied = redis.call('HGET', KEYS[2], 'applied')
  if not applied or applied < ARGV[2] then
    return 'behind'
  end
end
local kind = redis.call('TYPE', key).ok
if kind == 'none' then
  return 'absent'
end
local stored = false
if kind == 'hash' then
  stored = redis.call('HGET', key, '__v')
  stored = stored and string.match(stored, VERSION)
elseif kind == 'string' then
  stored = string.match(redis.call('GETRANGE', key, 0, 40), VERSION_HEAD)
end
if stored and stored > ARGV[1] then
  return 'stale'
end
redis.call('DEL', key)
return 'evicted'
