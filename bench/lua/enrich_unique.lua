-- POST /v1/enrich for a new user on every request (the miss path): user ids
-- <prefix>t<thread>x<counter>, each with an email and a GitHub handle, so every configured
-- connector (HubSpot, GitHub, Gravatar) is asked.
-- wrk ... -s enrich_unique.lua URL -- <prefix>

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local prefix, counter = "m", 0
local headers = { ["content-type"] = "application/json" }

function init(args)
  prefix = (args[1] or "m") .. "t" .. (tid or 0) .. "x"
end

function request()
  local user = prefix .. counter
  counter = counter + 1
  local body = '{"user_id":"' .. user .. '","email":"' .. user ..
    '@bench.example","handles":{"github":"' .. user .. '"}}'
  return wrk.format("POST", "/v1/enrich", headers, body)
end
