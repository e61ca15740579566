-- Writes a row of an initial load as a JSON string, unless the stored version is newer
-- (invariant 2): a daemon that was paused while it loaded must not overwrite what a newer daemon
-- wrote since. The guard is one GETRANGE of the value's head; nothing is merged.
-- KEYS[1]  the key
-- ARGV[1]  the version: 32 hex digits
-- ARGV[2]  ttl in seconds, '0' for none
-- ARGV[3]  the JSON value
-- Returns 'written' or 'stale'.
-- The version at the head of a value, in the writer's form only (32 hex digits): another head
-- would otherwise compare above every version and refuse each write of the key for good.
local VERSION_HEAD = '^{"__v":"(' .. string.rep('%x', 32) .. ')"'
local key = KEYS[1]
-- pcall: a key of another type answers with an error, and is replaced.
local head = redis.pcall('GETRANGE', key, 0, 40)
if type(head) == 'string' then
  local stored = string.match(head, VERSION_HEAD)
  if stored and stored > ARGV[1] then
    return 'stale'
  end
end
if ARGV[2] ~= '0' then
  redis.call('SET', key, ARGV[3], 'EX', ARGV[2])
else
  redis.call('SET', key, ARGV[3])
end
return 'written'
