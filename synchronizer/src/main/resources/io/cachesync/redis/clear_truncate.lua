-- Removes the record of a TRUNCATE whose evictions are done, unless the record is of another
-- TRUNCATE of the table by now (see PendingTruncates).
-- KEYS[1]  the hash of pending TRUNCATEs
-- ARGV[1]  the table, schema.table
-- ARGV[2]  the record as it was when its evictions began
-- Returns 'cleared' or 'kept'.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 'cleared'
end
return 'kept'
