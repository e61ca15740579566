-- Stores, last in a shard's transaction on a master of a Redis Cluster, the position of the batch
-- whose rows of this shard the transaction wrote (see ShardScripts), unless a row script of the
-- transaction failed: the position then stays where it was, and the mark is cleared for the retry.
-- KEYS[1]  the shard's hash: version, lsn, at; failed while a row script of the batch failed
-- ARGV[1]  the position this shard acknowledged before this batch, 32 hex digits; all zeros when
--          this writer saw none
-- ARGV[2]  the batch's position, 32 hex digits
-- ARGV[3]  the same position as LSNs, for people reading it
-- ARGV[4]  when, ISO-8601
-- ARGV[5]  the slots the master serves, as the writer saw them ('0-5460,6000'): a later start
--          skips the changes the position counts only while the master serves the same slots;
--          '' to leave what is stored (a position held where it was)
-- Returns 'stored', 'kept' (the shard holds a newer position), 'behind:<what it holds>' (it lost
-- acknowledged batches: a failover to a replica that was behind, a restart without its data) or
-- 'failed:<the row script's error>'.
local failed = redis.call('HGET', KEYS[1], 'failed')
if failed then
  redis.call('HDEL', KEYS[1], 'failed')
  return 'failed:' .. failed
end
local stored = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] ~= '00000000000000000000000000000000' and (not stored or stored < ARGV[1]) then
  return 'behind:' .. (stored or 'none')
end
if stored and stored > ARGV[2] then
  return 'kept'
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'lsn', ARGV[3], 'at', ARGV[4])
if ARGV[5] and ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'slots', ARGV[5])
end
return 'stored'
