-- Writes rows of an initial load with plain commands, no version guard, if the caller still holds
-- the writer's lease (see BulkLoadWriter for why that is safe). Many rows per call: starting a
-- script costs Redis more than a row's few commands.
-- KEYS[1] the writer's lease; KEYS[2] the state's offsets hash, whose field __epoch names the state
--       the caller loads into; KEYS[3..] the rows' keys
-- ARGV[1] the lease owner the caller writes for
-- ARGV[2] the epoch of the state the caller created for this load
-- ARGV[3] the rows, packed with MessagePack one after the other, per key: the kind ('h' a hash,
--       'j' a JSON string, 'd' a deletion), the ttl in seconds (0 for none), then for 'h' the
--       number of field/value pairs and the pairs (the version '__v' among them), for 'j' the
--       value, for 'd' nothing
-- Returns the number of keys written or deleted; an error starting with STATE when the state is not
-- the caller's any more (another daemon reset it for a load of its own, or Redis lost it), with
-- FENCED when another owner holds the lease, or none does. The epoch is what keeps a loader paused
-- past its lease from writing once it took the lease again (its renewal takes a lease nobody holds)
-- after another daemon loaded, streamed and stopped meanwhile: that daemon's load reset the state.
local epoch = redis.call('HGET', KEYS[2], '__epoch')
if epoch ~= ARGV[2] then
  return redis.error_reply('STATE the state is at epoch ' .. tostring(epoch) .. ', not the load\'s')
end
local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[1] then
  return redis.error_reply('FENCED the writer\'s lease is held by ' .. tostring(holder))
end
local args = {cmsgpack.unpack(ARGV[3])}
local a = 1
for i = 3, #KEYS do
  local key, kind, ttl = KEYS[i], args[a], args[a + 1]
  if kind == 'h' then
    local m = args[a + 2]
    -- DEL first: the key may hold an earlier cache's value, with fields this row lacks, or
    -- another type.
    redis.call('DEL', key)
    redis.call('HSET', key, unpack(args, a + 3, a + 2 + 2 * m))
    a = a + 3 + 2 * m
  elseif kind == 'j' then
    redis.call('SET', key, args[a + 2])
    a = a + 3
  else
    redis.call('DEL', key)
    a = a + 2
  end
  if ttl ~= 0 and kind ~= 'd' then
    redis.call('EXPIRE', key, ttl)
  end
end
return #KEYS - 2
