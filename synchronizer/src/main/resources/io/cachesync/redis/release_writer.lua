-- Gives up the writer's role, only if ARGV[1] still holds it. KEYS[1] the lease key.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
