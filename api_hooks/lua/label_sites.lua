-- Give sites their own `site` label in the exporter's metrics, first come first served, up
-- to a fixed number. A site that got a label keeps it, and a site folded into "other" stays
-- there, so no exported counter ever goes down; every exporter replica reads the same set.
--
-- KEYS[1]  SET of the sites that have their own label
-- ARGV[1]  maximum number of sites with their own label
-- ARGV[2…] candidate sites, busiest first
-- Returns  the candidates that have their own label
local labelled, limit = KEYS[1], tonumber(ARGV[1])
local result = {}
for i = 2, #ARGV do
  local site = ARGV[i]
  if redis.call("SISMEMBER", labelled, site) == 1 then
    result[#result + 1] = site
  elseif redis.call("SCARD", labelled) < limit then
    redis.call("SADD", labelled, site)
    result[#result + 1] = site
  end
end
return result
