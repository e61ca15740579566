-- Takes the next queued resync request (KEYS[2]) into the list of requests taken (KEYS[3]), only
-- while ARGV[1] holds the writer's lease (KEYS[1]): a daemon that lost the role takes nothing.
-- Returns the request's id, or nil when the queue is empty or ARGV[1] does not hold the lease.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
return redis.call('LMOVE', KEYS[2], KEYS[3], 'LEFT', 'RIGHT')
