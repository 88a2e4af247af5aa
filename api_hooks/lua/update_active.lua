-- Update one shard of the active-session index and trim sessions that have expired.
--
-- KEYS[1]  ZSET   session hash -> expiry (Unix seconds)
-- KEYS[2]  HASH   session hash -> site part
-- KEYS[3]  HASH   site part -> site name
-- ARGV[1]  "touch" (start or extend a session), "end" (remove it) or "trim" (cleanup only)
-- ARGV[2]  now, Unix seconds (server time)
-- ARGV[3]  session hash ("" for "trim")
-- ARGV[4]  expiry, Unix seconds ("touch" only)
-- ARGV[5]  site part ("touch" only)
-- ARGV[6]  site name ("touch" only)
-- ARGV[7]  per-site key base: the per-site ZSET of part p is ARGV[7] .. p
-- ARGV[8]  at most this many expired sessions are trimmed per call
-- Returns  the number of expired sessions trimmed.
--
-- NOTE: the per-site ZSET names are derived from ARGV[7] rather than passed in KEYS, because
-- ending a session must find its site from KEYS[2]. ARGV[7] carries the same hash tag as
-- KEYS[1..3], so every derived key lives in their slot and Redis Cluster accepts the script.
--
-- expiry_key, site_of_key, sites_key (KEYS[1..3]), forget and trim_expired come from
-- active_common.lua, which scripts.py puts in front of this script.
local op, now, session = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local site_base, trim_limit = ARGV[7], tonumber(ARGV[8])

if op == "touch" then
  local expires_at, part, name = ARGV[4], ARGV[5], ARGV[6]
  local previous = redis.call("HGET", site_of_key, session)
  if previous and previous ~= part then
    forget(site_base, session)
  end
  redis.call("ZADD", expiry_key, expires_at, session)
  redis.call("ZADD", site_base .. part, expires_at, session)
  redis.call("HSET", site_of_key, session, part)
  redis.call("HSET", sites_key, part, name)
elseif op == "end" then
  forget(site_base, session)
end

return trim_expired(site_base, now, trim_limit)
