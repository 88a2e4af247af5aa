-- Apply counter and ranking increments to time-bucketed keys, setting each key's expiry in
-- the same atomic step, and cap every ranking to its top entries.
--
-- KEYS[1]  when ARGV[1] > 0: a marker STRING naming this write; if it exists, the write was
--          already applied (a retry after a lost reply) and nothing is done
-- KEYS[i]  the other KEYS: a HASH of counters or a ZSET ranking
--          (all KEYS of one call share a hash slot)
-- ARGV[1]  marker lifetime in seconds, or "0" when KEYS[1] is not a marker
-- ARGV     then, for each counter or ranking key, in order:
--            type       "h" (HINCRBY fields) or "z" (ZINCRBY members)
--            expire_at  Unix seconds (server time) at which the key expires; "0" = never
--            cap        rankings only: keep at most this many top members; "0" = no cap
--            count      number of (field, increment) pairs that follow
--            field_1, increment_1, ..., field_count, increment_count
-- Returns  the number of keys updated (0 for a write already applied).
--
-- A ranking is trimmed only when it exceeds cap by a tenth, so trimming costs O(log n)
-- amortised instead of one ZREMRANGEBYRANK per increment.
local marker_ttl = tonumber(ARGV[1])
local first = 1
if marker_ttl > 0 then
  if redis.call("SET", KEYS[1], "1", "NX", "EX", marker_ttl) == false then
    return 0
  end
  first = 2
end
local pos = 2
for i = first, #KEYS do
  local key = KEYS[i]
  local kind = ARGV[pos]
  local expire_at = tonumber(ARGV[pos + 1])
  local cap = tonumber(ARGV[pos + 2])
  local count = tonumber(ARGV[pos + 3])
  pos = pos + 4
  if kind == "h" then
    for j = 0, count - 1 do
      redis.call("HINCRBY", key, ARGV[pos + 2 * j], ARGV[pos + 2 * j + 1])
    end
  else
    for j = 0, count - 1 do
      redis.call("ZINCRBY", key, ARGV[pos + 2 * j + 1], ARGV[pos + 2 * j])
    end
    if cap > 0 then
      local size = redis.call("ZCARD", key)
      if size > cap + math.floor(cap / 10) then
        redis.call("ZREMRANGEBYRANK", key, 0, size - cap - 1)
      end
    end
  end
  pos = pos + 2 * count
  if expire_at > 0 then
    redis.call("EXPIREAT", key, expire_at)
  end
end
return #KEYS - first + 1
