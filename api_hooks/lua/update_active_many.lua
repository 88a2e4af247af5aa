-- Apply several active-session updates to one shard of the index, then trim expired sessions.
-- Same end state as one update_active.lua call per update, in order, in one script call.
--
-- KEYS[1]  ZSET   session hash -> expiry (Unix seconds)
-- KEYS[2]  HASH   session hash -> site part
-- KEYS[3]  HASH   site part -> site name
-- ARGV[1]  now, Unix seconds (server time)
-- ARGV[2]  per-site key base: the per-site ZSET of part p is ARGV[2] .. p
-- ARGV[3]  at most this many expired sessions are trimmed by this call
-- ARGV[4]  n, the number of (site part, site name) pairs that follow: the sites of the touches
-- ARGV     then, for each update in order, four values: "touch" or "end", session hash,
--          expiry in Unix seconds ("touch" only, else ""), site part ("touch" only, else "")
-- Returns  the number of expired sessions trimmed.
--
-- NOTE: as in update_active.lua, per-site ZSET names derive from ARGV[2], which carries the
-- hash tag of KEYS[1..3], so every key the script touches lives in their slot.
--
-- expiry_key, site_of_key, sites_key (KEYS[1..3]), forget and trim_expired come from
-- active_common.lua, which scripts.py puts in front of this script.
local now, site_base, trim_limit = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local site_count = tonumber(ARGV[4])

local names = {}
for i = 0, site_count - 1 do
  names[ARGV[5 + 2 * i]] = ARGV[6 + 2 * i]
end

-- Ends apply at once; touches are gathered (the last one of a session wins) and written
-- together below, a few commands for the whole call instead of four per session.
local touched, touches = {}, {}
for pos = 5 + 2 * site_count, #ARGV, 4 do
  local op, session = ARGV[pos], ARGV[pos + 1]
  if op == "touch" then
    if touched[session] == nil then
      touches[#touches + 1] = session
    end
    touched[session] = {ARGV[pos + 2], ARGV[pos + 3]}
  elseif op == "end" then
    if touched[session] ~= nil then
      touched[session] = false
    end
    forget(site_base, session)
  end
end

local sessions = {}
for _, session in ipairs(touches) do
  if touched[session] then
    sessions[#sessions + 1] = session
  end
end
if #sessions > 0 then
  -- A session that moved to another site leaves its previous site's set first.
  local previous = redis.call("HMGET", site_of_key, unpack(sessions))
  for i, session in ipairs(sessions) do
    if previous[i] and previous[i] ~= touched[session][2] then
      forget(site_base, session)
    end
  end
  local expiries, parts, by_part = {}, {}, {}
  for _, session in ipairs(sessions) do
    local expires_at, part = touched[session][1], touched[session][2]
    expiries[#expiries + 1] = expires_at
    expiries[#expiries + 1] = session
    parts[#parts + 1] = session
    parts[#parts + 1] = part
    local members = by_part[part]
    if members == nil then
      members = {}
      by_part[part] = members
    end
    members[#members + 1] = expires_at
    members[#members + 1] = session
  end
  redis.call("ZADD", expiry_key, unpack(expiries))
  redis.call("HSET", site_of_key, unpack(parts))
  for part, members in pairs(by_part) do
    redis.call("ZADD", site_base .. part, unpack(members))
    redis.call("HSET", sites_key, part, names[part])
  end
end

return trim_expired(site_base, now, trim_limit)
