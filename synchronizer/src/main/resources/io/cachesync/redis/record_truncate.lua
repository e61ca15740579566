-- Records a TRUNCATE whose evictions are not done yet, in the transaction that stores the changes
-- before it, so that whichever daemon runs next finishes them (see PendingTruncates). A record of a
-- newer TRUNCATE of the same table is kept (a stale daemon's late batch).
-- KEYS[1]  the hash of pending TRUNCATEs
-- ARGV[1]  the table, schema.table
-- ARGV[2]  '<version, 32 hex digits> <key template>'
-- Returns 'recorded' or 'kept'.
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored and string.sub(stored, 1, 32) > string.sub(ARGV[2], 1, 32) then
  return 'kept'
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'recorded'
