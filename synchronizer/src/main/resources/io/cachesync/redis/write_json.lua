-- Writes a row's projection as a JSON string, unless the stored version is newer (invariant 2).
-- The value starts with {"__v":"<version>", so the stored version is read without a JSON parser.
-- KEYS[1]  the key
-- KEYS[2]  optional: the key the value was merged from, when not KEYS[1] (the row's old key)
-- ARGV[1]  the version: 32 hex digits
-- ARGV[2]  ttl in seconds, '0' for none
-- ARGV[3]  the JSON value
-- ARGV[4]  '' or, for a value merged with a cached one, the version it was merged from: the
--          write then applies only if that version is still stored there, and evicts otherwise
-- Returns 'written', 'stale', 'wrongtype' (the key held another type and was deleted) or 'evicted'.
-- The version at the head of a value, in the writer's form only (32 hex digits): another head
-- would otherwise compare above every version and refuse each write of the key for good.
local VERSION_HEAD = '^{"__v":"(' .. string.rep('%x', 32) .. ')"'
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
if kind ~= 'none' and kind ~= 'string' then
  redis.call('DEL', key)
  return 'wrongtype'
end
local stored = false
if kind == 'string' then
  stored = string.match(redis.call('GETRANGE', key, 0, 40), VERSION_HEAD)
  if stored and stored > ARGV[1] then
    return 'stale'
  end
end
if ARGV[4] ~= '' then
  local source = KEYS[2] or key
  local merged = stored
  if source ~= key then
    merged = false
    if redis.call('TYPE', source).ok == 'string' then
      merged = string.match(redis.call('GETRANGE', source, 0, 40), VERSION_HEAD)
    end
    -- The old key holds the row as it was before the move, older than it; one at or past the move
    -- was written since by a later change (another row re-created there): not this row's columns.
    if merged and merged >= ARGV[1] then
      merged = false
    end
  end
  if merged ~= ARGV[4] then
    if stored == ARGV[1] then
      -- This very change is stored already (the batch applied again after a lost reply, or on a
      -- cluster after another master failed its part), and its source has gone since: keep it.
      return 'stale'
    end
    redis.call('DEL', key)
    return 'evicted'
  end
end
if ARGV[2] ~= '0' then
  redis.call('SET', key, ARGV[3], 'EX', ARGV[2])
else
  redis.call('SET', key, ARGV[3])
end
return 'written'
