-- Stores the position of the batch just applied, in the batch's transaction.
-- Redis holding less than the position this daemon saw acknowledged before the batch means that
-- acknowledged batches were lost (a failover to a replica that was behind, a restore): the
-- position is then left as it is and the daemon told. A position is never lowered (a stale
-- daemon's late batch).
-- KEYS[1]  the position hash
-- ARGV[1]  the position acknowledged before this batch, 32 hex digits; all zeros when none
-- ARGV[2]  the batch's position, 32 hex digits
-- ARGV[3]  the same position as LSNs, for people reading it
-- ARGV[4]  when, ISO-8601
-- KEYS[2], ARGV[5] (optional) the writer's lease and its owner this daemon writes as: nothing is
--          stored while another owner holds the lease (see WriterLeaseFence)
-- Returns 'stored', 'kept' (Redis holds a newer position), 'behind:<what Redis holds>' or
-- 'fenced:<the lease's holder>'.
if ARGV[5] then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[5] then
    return 'fenced:' .. holder
  end
end
local stored = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] ~= '00000000000000000000000000000000' and (not stored or stored < ARGV[1]) then
  return 'behind:' .. (stored or 'none')
end
if stored and stored > ARGV[2] then
  return 'kept'
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'lsn', ARGV[3], 'at', ARGV[4])
return 'stored'
