-- Code shared by update_active.lua and update_active_many.lua. scripts.py puts this file in
-- front of each of them, so line numbers in their Redis error messages count from its top.
-- Both scripts take the same three keys, one shard of the active-session index:
--
-- KEYS[1]  ZSET   session hash -> expiry (Unix seconds)
-- KEYS[2]  HASH   session hash -> site part
-- KEYS[3]  HASH   site part -> site name
--
-- The per-site ZSET of site part p is named site_base .. p, where site_base comes from ARGV
-- and carries the hash tag of KEYS[1..3].
local expiry_key, site_of_key, sites_key = KEYS[1], KEYS[2], KEYS[3]

-- Remove `member` from the shard, and its site from KEYS[3] once no session of that site is left.
local function forget(site_base, member)
  local part = redis.call("HGET", site_of_key, member)
  if part then
    local site_key = site_base .. part
    redis.call("ZREM", site_key, member)
    if redis.call("ZCARD", site_key) == 0 then
      redis.call("HDEL", sites_key, part)
    end
    redis.call("HDEL", site_of_key, member)
  end
  redis.call("ZREM", expiry_key, member)
end

-- Forget at most `limit` sessions that expired before `now`, and return how many.
local function trim_expired(site_base, now, limit)
  local expired = redis.call("ZRANGEBYSCORE", expiry_key, "-inf", "(" .. now, "LIMIT", 0, limit)
  for _, member in ipairs(expired) do
    forget(site_base, member)
  end
  return #expired
end
