-- wrk script for a GET (e.g. /healthz): prints the status counts and latency percentiles.
-- REAM_WRK_PAUSE_MS=N: each connection waits N ms after an answer before asking again
-- (a probe, as a load balancer's or systemd's health check asks, instead of a flood).
local threads = {}
local pause = tonumber(os.getenv("REAM_WRK_PAUSE_MS") or "0") or 0
if pause > 0 then
  function delay()
    return pause
  end
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  other = 0
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("ok")
    o = o + t:get("other")
  end
  io.write(string.format("ok_200 %d\nother_status %d\n", a, o))
  io.write(string.format("rate_per_s %.0f\n", summary.requests / (summary.duration / 1e6)))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%s_ms %.2f\n", p, latency:percentile(p) / 1000))
  end
end
