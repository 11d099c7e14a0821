-- wrk script for warden serve: cycles through the single-check bodies the
-- Go load benchmark sends (internal/server, checkBodies), so both drive the
-- same requests. With policy.toml beside it:
--
--   warden serve --config docs/benchmarks/wrk/policy.toml --audit sqlite:/tmp/warden-audit.db --log-level error &
--   wrk -t1 -c16 -d8s --latency -s docs/benchmarks/wrk/check.lua http://127.0.0.1:8181
--
-- A response other than 200 stops the thread, so errors cannot pass as
-- throughput.
local subjects = {"alice", "bob", "carol"}
local reqs = {}
for i = 0, 1023 do
  local body = string.format('{"subject":"%s","resource":"doc:%d","action":"read"}', subjects[i % 3 + 1], i)
  reqs[#reqs + 1] = wrk.format("POST", "/v1/check", {["Content-Type"] = "application/json", ["Host"] = "warden"}, body)
end
local n = 0
request = function()
  n = n + 1
  return reqs[n % #reqs + 1]
end
response = function(status, headers, body)
  if status ~= 200 then
    print("status " .. status .. ": " .. body)
    wrk.thread:stop()
  end
end
