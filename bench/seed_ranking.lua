-- Fill one ranking ZSET with generated members, for benchmarks (never used by sessionwatch).
--
-- KEYS[1]  the ranking ZSET
-- ARGV[1]  number of members to add
-- ARGV[2]  number of the first member; member n is the /24 network "a.b.c.0/24" of n
-- ARGV[3]  Unix seconds at which the key expires
-- Returns  the number of members added.
local count, first = tonumber(ARGV[1]), tonumber(ARGV[2])
for start = 0, count - 1, 500 do
  local args = {}
  for n = start, math.min(count - 1, start + 499) do
    local number = first + n
    args[#args + 1] = (number * 7919) % 97 + 1
    args[#args + 1] = string.format("%d.%d.%d.0/24", 11 + math.floor(number / 65536),
                                    math.floor(number / 256) % 256, number % 256)
  end
  redis.call("ZADD", KEYS[1], unpack(args))
end
redis.call("EXPIREAT", KEYS[1], ARGV[3])
return count
