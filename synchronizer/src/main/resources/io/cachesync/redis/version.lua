-- The version stored at each key: '' for a value without one, '-' for no key.
-- KEYS  the keys
-- Versions in the writer's form only, 32 hex digits (see write_hash.lua and write_json.lua).
local VERSION = '^' .. string.rep('%x', 32) .. '$'
local VERSION_HEAD = '^{"__v":"(' .. string.rep('%x', 32) .. ')"'
local versions = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  local stored = false
  if kind == 'hash' then
    stored = redis.call('HGET', key, '__v')
    stored = stored and string.match(stored, VERSION)
  elseif kind == 'string' then
    stored = string.match(redis.call('GETRANGE', key, 0, 40), VERSION_HEAD)
  end
  if kind == 'none' then
    versions[i] = '-'
  else
    versions[i] = stored or ''
  end
end
return versions
