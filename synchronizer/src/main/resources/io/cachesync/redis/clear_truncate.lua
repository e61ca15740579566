-- Removes the record of a TRUNCATE whose evictions are done, unless the record is of another
-- TRUNCATE of the table by now (see PendingTruncates). Once no TRUNCATE is pending, the
-- read-your-writes bound ('applied', held back while one was: store_position.lua) moves on to the
-- stored position's, and is published.
-- KEYS[1]  the hash of pending TRUNCATEs
-- KEYS[2]  the position hash
-- ARGV[1]  the table, schema.table
-- ARGV[2]  the record as it was when its evictions began
-- ARGV[3]  the channel the applied bound is published on
-- Returns 'cleared' or 'kept'.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 'kept'
end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  local version = redis.call('HGET', KEYS[2], 'version')
  -- The bound of a streamed position (Version#applied): the greater of its two 16-digit halves,
  -- commit and LSN; an initial load's position (LSN 0) has none.
  if version and string.sub(version, 17, 32) ~= '0000000000000000' then
    local commit = string.sub(version, 1, 16)
    local lsn = string.sub(version, 17, 32)
    local bound = commit > lsn and commit or lsn
    local applied = redis.call('HGET', KEYS[2], 'applied')
    if not applied or bound > applied then
      redis.call('HSET', KEYS[2], 'applied', bound)
      redis.pcall('PUBLISH', ARGV[3], bound)
    end
  end
end
return 'cleared'
