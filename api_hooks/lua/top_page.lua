-- Merge failure-ranking buckets and return one page of the merged ranking.
--
-- KEYS[1]      scratch ZSET that receives the union; deleted before returning
-- KEYS[2..n]   ranking ZSETs (member -> failures) of the window's buckets; missing ones are empty
-- ARGV[1]      offset: number of top members to skip
-- ARGV[2]      limit: maximum number of members to return
-- Returns      { total distinct members, { member_1, score_1, member_2, score_2, ... } }
--
-- Ties are ordered by member, descending, as ZREVRANGE does, so pages never overlap.
local scratch = KEYS[1]
local sources = {}
for i = 2, #KEYS do
  sources[#sources + 1] = KEYS[i]
end
if #sources == 0 then
  return {0, {}}
end
redis.call("ZUNIONSTORE", scratch, #sources, unpack(sources))
local total = redis.call("ZCARD", scratch)
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local page = {}
if limit > 0 and offset < total then
  page = redis.call("ZREVRANGE", scratch, offset, offset + limit - 1, "WITHSCORES")
end
redis.call("DEL", scratch)
return {total, page}
