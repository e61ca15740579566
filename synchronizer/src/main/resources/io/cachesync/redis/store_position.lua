-- Stores the position of the batch just applied, in the batch's transaction.
-- Redis holding less than the position this daemon saw acknowledged before the batch means that
-- acknowledged batches were lost (a failover to a replica that was behind, a restore): the
-- position is then left as it is and the daemon told. A position is never lowered (a stale
-- daemon's late batch).
-- KEYS[1]  the position hash
-- KEYS[2]  the hash of pending TRUNCATEs (PendingTruncates)
-- ARGV[1]  the position acknowledged before this batch, 32 hex digits; all zeros when none
-- ARGV[2]  the batch's position, 32 hex digits
-- ARGV[3]  the same position as LSNs, for people reading it
-- ARGV[4]  when, ISO-8601
-- ARGV[5]  the batch's applied bound (Version#applied), 16 hex digits; empty for an initial load's
--          position, whose cache is complete only when the load ends
-- ARGV[6]  the channel the applied bound is published on
-- A stored position with an applied bound sets the field 'applied' and publishes it (the
-- read-your-writes fence: every transaction whose commit ends at or before it is in Redis); one
-- without removes the field. While a TRUNCATE's evictions are pending (finished in the
-- background), the bound stays where it was: the TRUNCATE is not in Redis yet. clear_truncate.lua
-- moves it on once the last pending TRUNCATE is done. The PUBLISH is a pcall: a Redis user without the channel's permission
-- (Redis 7's acl-pubsub-default is resetchannels) loses the notification, not the batch, and a
-- client polling the field still sees it.
-- Returns 'stored', 'kept' (Redis holds a newer position) or 'behind:<what Redis holds>'.
local stored = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] ~= '00000000000000000000000000000000' and (not stored or stored < ARGV[1]) then
  return 'behind:' .. (stored or 'none')
end
if stored and stored > ARGV[2] then
  return 'kept'
end
if ARGV[5] == '' then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'lsn', ARGV[3], 'at', ARGV[4])
  redis.call('HDEL', KEYS[1], 'applied')
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'lsn', ARGV[3], 'at', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'lsn', ARGV[3], 'at', ARGV[4], 'applied', ARGV[5])
  redis.pcall('PUBLISH', ARGV[6], ARGV[5])
end
return 'stored'
