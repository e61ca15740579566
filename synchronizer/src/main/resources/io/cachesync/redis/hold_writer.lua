-- Takes or keeps the writer's role of one synchronizer name (see LettuceStateStore.holdWriter).
-- KEYS[1] the lease key; ARGV[1] the owner asking; ARGV[2] the lease's time to live, milliseconds;
-- ARGV[3] (optional) a holder known to be dead, whose lease may be taken over.
-- Returns 1 when ARGV[1] holds the role for ARGV[2] ms from now, 0 when another owner holds it.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and holder ~= ARGV[3] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
