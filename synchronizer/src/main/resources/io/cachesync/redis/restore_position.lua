-- Puts the position back to what it was before a batch, after the batch's transaction stored its
-- own position but one of its writes failed for a reason other than its value (an ACL refusing a
-- command, a script that is missing): Redis must never hold a position past a change it does not
-- hold. Only the batch's own position is replaced, so a newer one is never lowered.
-- KEYS[1]  the position hash
-- KEYS[2]  the hash of pending TRUNCATEs: while one is pending, the applied bound only goes down
-- ARGV[1]  the batch's position, 32 hex digits
-- ARGV[2]  the position before the batch, 32 hex digits; all zeros when there was none
-- ARGV[3]  the same position as LSNs, for people reading it
-- ARGV[4]  when, ISO-8601
-- ARGV[5]  the applied bound of the position before the batch, 16 hex digits; empty when it has
--          none (an initial load's position)
-- Returns 'restored' or 'kept'.
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then
  return 'kept'
end
if ARGV[2] == '00000000000000000000000000000000' then
  redis.call('DEL', KEYS[1])
elseif ARGV[5] == '' then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'lsn', ARGV[3], 'at', ARGV[4])
  redis.call('HDEL', KEYS[1], 'applied')
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'lsn', ARGV[3], 'at', ARGV[4])
  local applied = redis.call('HGET', KEYS[1], 'applied')
  if applied and applied > ARGV[5] then
    redis.call('HSET', KEYS[1], 'applied', ARGV[5])
  end
else
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'lsn', ARGV[3], 'at', ARGV[4], 'applied', ARGV[5])
end
return 'restored'
