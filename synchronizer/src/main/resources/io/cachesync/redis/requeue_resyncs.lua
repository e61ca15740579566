-- Puts the resync requests a daemon had taken but not finished (KEYS[1], in the order taken) back
-- at the head of the queue (KEYS[2]), in the same order. Returns how many were put back.
local moved = 0
while redis.call('RPOPLPUSH', KEYS[1], KEYS[2]) do
  moved = moved + 1
end
return moved
