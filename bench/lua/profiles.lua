-- GET /v1/profiles/<prefix><i> for i drawn uniformly from [0, users): the hit path.
-- wrk ... -s profiles.lua URL -- <users> <prefix> <seed>
-- Requests are pre-formatted (4096 per thread) so that the script costs the load generator
-- next to nothing; the same script drives enrichd and the nginx ceiling.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local reqs, n, i = {}, 0, 0

function init(args)
  local users = tonumber(args[1]) or 10000
  local prefix = args[2] or "u"
  local seed = tonumber(args[3]) or 1
  math.randomseed(seed * 7919 + (tid or 0) * 104729)
  n = 4096
  for k = 1, n do
    reqs[k] = wrk.format("GET", "/v1/profiles/" .. prefix .. math.random(0, users - 1))
  end
end

function request()
  i = i % n + 1
  return reqs[i]
end
