-- wrk script: POST pre-signed order hooks, each one once, and count the answers by status.
--
--   wrk -t T -c C -d D -s bench/wrk_hooks.lua URL -- HOOKS_FILE FIRST LAST T
--
-- HOOKS_FILE holds four lines per hook, written by bench/wrk.py just before the point:
-- webhook-id, webhook-timestamp, webhook-signature, body (one line of JSON). This run takes
-- the hooks FIRST..LAST-1, thread k of T every T-th one from FIRST + k, so no hook id is sent
-- twice; a thread that runs out starts over and says so ("wrapped": those are retries, answered
-- from the record). done() prints one JSON line: requests, duration, errors, latency
-- percentiles (microseconds) and the answers by status.

local threads = {}
local count = 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  local path, first, last = args[1], tonumber(args[2]), tonumber(args[3])
  local step = tonumber(args[4])
  requests = {}
  local f = assert(io.open(path, "r"))
  local i = 0
  while i < last do
    local msg_id = f:read("*l")
    if msg_id == nil then break end
    local ts, sig, body = f:read("*l"), f:read("*l"), f:read("*l")
    if i >= first and (i - first) % step == id then
      requests[#requests + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json", ["webhook-id"] = msg_id,
        ["webhook-timestamp"] = ts, ["webhook-signature"] = sig}, body)
    end
    i = i + 1
  end
  f:close()
  sent, wrapped, statuses = 0, 0, {}
end

function request()
  sent = sent + 1
  if sent > #requests then
    sent, wrapped = 1, wrapped + 1
  end
  return requests[sent]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local answered, wraps = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      answered[status] = (answered[status] or 0) + n
    end
    wraps = wraps + thread:get("wrapped")
  end
  local parts = {}
  for status, n in pairs(answered) do
    parts[#parts + 1] = string.format('"%s": %d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "statuses": {%s}, "wrapped": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"p50_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, table.concat(parts, ", "), wraps,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
