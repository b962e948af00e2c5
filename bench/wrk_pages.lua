-- wrk script for bench_pages.py: GET or POST one path with a rotating set of (cookie, form body) pairs,
-- count the responses that are what a real page view or page save returns, and print the figures as
-- one JSON line ("WRKJSON {...}").
--
--   wrk -t1 -c4 -d5s -s wrk_pages.lua http://127.0.0.1:PORT -- METHOD PATH REQUESTS_FILE STATUS [LOCATION]
--
-- REQUESTS_FILE has one "cookie<TAB>body" line per prepared request (the body is ignored for GET).
-- A response counts as good when its status is STATUS and, if LOCATION is given, its Location
-- header contains LOCATION.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  method, path, file, want_status, want_location = args[1], args[2], args[3], tonumber(args[4]), args[5]
  good, bad, bad_status = 0, 0, 0
  requests = {}
  for line in io.lines(file) do
    local cookie, body = line:match("^([^\t]*)\t(.*)$")
    local headers = {}
    if cookie ~= "" then headers["Cookie"] = cookie end
    if method == "POST" then
      headers["Content-Type"] = "application/x-www-form-urlencoded"
      table.insert(requests, wrk.format("POST", path, headers, body))
    else
      table.insert(requests, wrk.format("GET", path, headers))
    end
  end
  counter = tid  -- threads start at different requests
end

function request()
  counter = counter + 1
  return requests[(counter - 1) % #requests + 1]
end

function response(status, headers, body)
  local location = headers["Location"] or headers["location"] or ""
  if status == want_status and (want_location == nil or location:find(want_location, 1, true)) then
    good = good + 1
  else
    bad = bad + 1
    bad_status = status
  end
end

function done(summary, latency, requests)
  local g, b, s = 0, 0, 0
  for _, thread in ipairs(threads) do
    g = g + thread:get("good")
    b = b + thread:get("bad")
    if thread:get("bad_status") ~= 0 then s = thread:get("bad_status") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "good": %d, "bad": %d, "bad_status": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"p50_us": %.1f, "p90_us": %.1f, "p95_us": %.1f, "p99_us": %.1f, "mean_us": %.1f, "max_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, g, b, s,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max))
end
