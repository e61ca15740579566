-- Puts a shard's position back to what it was before a batch whose writes then failed after its
-- transaction stored the position (as restore_position.lua does on one master). Only the batch's
-- own position is replaced, so a newer one is never lowered.
-- KEYS[1]  the shard's hash
-- ARGV[1]  the batch's position, 32 hex digits
-- ARGV[2]  the position before the batch, 32 hex digits; all zeros when there was none
-- ARGV[3]  the same position as LSNs, for people reading it
-- ARGV[4]  when, ISO-8601
-- Returns 'restored' or 'kept'.
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then
  return 'kept'
end
if ARGV[2] == '00000000000000000000000000000000' then
  redis.call('HDEL', KEYS[1], 'version', 'lsn', 'at')
else
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'lsn', ARGV[3], 'at', ARGV[4])
end
return 'restored'
