-- The version stored at each key: '' for a value without one, '-' for no key.
-- KEYS  the keys
local versions = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  local stored = false
  if kind == 'hash' then
    stored = redis.call('HGET', key, '__v')
  elseif kind == 'string' then
    stored = string.match(redis.call('GETRANGE', key, 0, 40), '^{"__v":"(%x+)"')
  end
  if kind == 'none' then
    versions[i] = '-'
  else
    versions[i] = stored or ''
  end
end
return versions
