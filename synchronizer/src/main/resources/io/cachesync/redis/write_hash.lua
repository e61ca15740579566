-- Writes rows' projections as hashes, each unless its stored version is newer (invariant 2).
-- Several rows per call: Redis spends more on starting a script than on one row's few commands,
-- so the writer sends the rows of a batch in groups.
-- KEYS  pairs: the key written, and the key whose hash holds its unchanged columns (the row's old
--       key when the change moved the row to a new key; otherwise the key itself)
-- ARGV[1] the rows' values, packed with MessagePack as strings one after the other (unpacking them
--       in C costs Redis less than receiving each as an argument); per key pair, in order: the
--       version (32 hex digits, compared as a string), the ttl in seconds ('0' for none), n (the
--       number of unchanged TOAST columns that keep their cached field), m (the number of fields),
--       the n unchanged columns, then the m field/value pairs
-- Returns, per pair: 'written', 'stale' (a newer version is stored), 'wrongtype' (the key held
-- another Redis type and was deleted), 'evicted' (an unchanged column had nothing to keep: the key
-- is deleted, a cache miss is always safe) or 'absent' (unchanged columns and no cached value:
-- nothing written).
local args = {cmsgpack.unpack(ARGV[1])}

-- A stored version counts only in the writer's form, 32 hex digits: a __v some other writer left
-- (an application's field of that name) would otherwise compare above every version and refuse
-- each write of the key for good.
local VERSION = '^' .. string.rep('%x', 32) .. '$'

-- An update of a cached hash in place, its unchanged columns kept where they are: reading a kept
-- (often large) value into the script and writing it back cost more than the rest of the row.
-- The result is the hash the rewrite would leave: __v, the kept fields and the m fields, nothing
-- else (a column that became NULL, a field no column has), and the ttl's expiry or none. HEXISTS
-- and HLEN rather than HKEYS: listing the fields of every updated row into the script cost Redis
-- as much as the rewrite it replaces (a warm drain of W2's wide updates, Redis CPU per 100,000:
-- 4.3 s rewriting, 4.2 s with HKEYS, 2.9 s with these).
local function update(key, ttl, n, m, a, same)
  for i = 1, n do
    if redis.call('HEXISTS', key, args[a + 3 + i]) == 0 then
      if same then
        return 'stale'
      end
      redis.call('DEL', key)
      return 'evicted'
    end
  end
  redis.call('HSET', key, '__v', args[a], unpack(args, a + 4 + n, a + 3 + n + 2 * m))
  if redis.call('HLEN', key) > 1 + n + m then
    local wanted = {__v = true}
    for i = a + 4, a + 3 + n do
      wanted[args[i]] = true
    end
    for i = a + 4 + n, a + 3 + n + 2 * m, 2 do
      wanted[args[i]] = true
    end
    for _, field in ipairs(redis.call('HKEYS', key)) do
      if not wanted[field] then
        redis.call('HDEL', key, field)
      end
    end
  end
  if ttl ~= '0' then
    redis.call('EXPIRE', key, ttl)
  else
    redis.call('PERSIST', key)
  end
  return 'written'
end

local function write(key, source, a)
  local version, ttl, n, m = args[a], args[a + 1], tonumber(args[a + 2]), tonumber(args[a + 3])
  local kind = redis.call('TYPE', key).ok
  if kind ~= 'none' and kind ~= 'hash' then
    redis.call('DEL', key)
    return 'wrongtype'
  end
  -- Whether this very change is stored already (the batch applied again after a lost reply, or on
  -- a cluster after another master failed its part): when its merge source has gone since, the
  -- key keeps it rather than being evicted.
  local same = false
  if kind == 'hash' then
    local stored = redis.call('HGET', key, '__v')
    if stored and string.match(stored, VERSION) and stored > version then
      return 'stale'
    end
    same = stored == version
  end
  if n == 0 then
    -- The common case: every field is in the arguments, in order.
    if kind == 'hash' then
      redis.call('DEL', key)
    end
    redis.call('HSET', key, '__v', version, unpack(args, a + 4, a + 3 + 2 * m))
    if ttl ~= '0' then
      redis.call('EXPIRE', key, ttl)
    end
    return 'written'
  end
  if kind == 'hash' and source == key then
    return update(key, ttl, n, m, a, same)
  end
  local fields = {'__v', version}
  local sourceKind = kind
  if source ~= key then
    sourceKind = redis.call('TYPE', source).ok
    if sourceKind == 'hash' then
      -- The old key holds the row as it was before the move, older than it; one at or past the
      -- move was written since by a later change (another row re-created there, the batch applied
      -- again): its columns are not this row's, so it counts as no source.
      local held = redis.call('HGET', source, '__v')
      if held and string.match(held, VERSION) and held >= version then
        sourceKind = 'none'
      end
    end
  end
  if sourceKind ~= 'hash' then
    if kind == 'none' then
      return 'absent'
    end
    if same then
      return 'stale'
    end
    redis.call('DEL', key)
    return 'evicted'
  end
  local kept = redis.call('HMGET', source, unpack(args, a + 4, a + 3 + n))
  for i = 1, n do
    if not kept[i] then
      if same then
        return 'stale'
      end
      redis.call('DEL', key)
      return 'evicted'
    end
    fields[#fields + 1] = args[a + 3 + i]
    fields[#fields + 1] = kept[i]
  end
  for i = a + 4 + n, a + 3 + n + 2 * m do
    fields[#fields + 1] = args[i]
  end
  redis.call('DEL', key)
  redis.call('HSET', key, unpack(fields))
  if ttl ~= '0' then
    redis.call('EXPIRE', key, ttl)
  end
  return 'written'
end

local results = {}
local a = 1
for i = 1, #KEYS, 2 do
  results[#results + 1] = write(KEYS[i], KEYS[i + 1], a)
  a = a + 4 + tonumber(args[a + 2]) + 2 * tonumber(args[a + 3])
end
return results
