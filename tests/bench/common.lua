-- Shared by the wrk scripts of scripts/bench.sh (loaded with dofile by each
-- of them, in every wrk thread and in wrk's main state).
--
-- The seeded data (scripts/bench.sh): rooms bench/u<i>a/u<i>b for i in
-- 1..BENCH_ROOMS, each of users u<i>a and u<i>b, with table tokens
-- tok-u<i>a and tok-u<i>b. Every request picks a random room and one of
-- its two users at random, and uses that user's real token.
--
-- Errors are not counted here (a response() callback would make wrk hand
-- every answer to Lua and slow the client down): wrk counts answers with a
-- status above 399 itself ("Non-2xx or 3xx responses", summary.errors.status)
-- plus socket errors, and done() below prints them with the latency
-- percentiles on one line that scripts/bench.sh parses.

bench = {}
bench.rooms = tonumber(os.getenv("BENCH_ROOMS") or "10000")
bench.prefix = "/" .. (os.getenv("BENCH_ROUTE_PREFIX") or "chat/v1")
bench.json_headers = { ["Content-Type"] = "application/json" }
bench.ts = 1700000000000

-- A random room of the seeded set, and one of its users: n, "u<n>a|b".
function bench.pick()
  local n = math.random(1, bench.rooms)
  local side = (math.random(0, 1) == 0) and "a" or "b"
  return n, "u" .. n .. side
end

-- The URL-encoded id of room n (only '/' needs encoding).
function bench.room_path(n)
  return "bench%2Fu" .. n .. "a%2Fu" .. n .. "b"
end

function bench.get_room()
  local n, user = bench.pick()
  return wrk.format("GET", bench.prefix .. "/auth/tok-" .. user .. "/rooms/" .. bench.room_path(n))
end

function bench.post_message()
  local n, user = bench.pick()
  bench.ts = bench.ts + 1
  local body = string.format('{"timestamp":%d,"type":"text","message":"bench"}', bench.ts)
  return wrk.format("POST",
                    bench.prefix .. "/auth/tok-" .. user .. "/rooms/" .. bench.room_path(n) .. "/messages",
                    bench.json_headers, body)
end

function bench.create_room()
  local n, user = bench.pick()
  local body = string.format('{"type":"bench","users":["u%da","u%db"]}', n, n)
  return wrk.format("POST", bench.prefix .. "/auth/tok-" .. user .. "/rooms", bench.json_headers, body)
end

-- wrk hooks shared by every script.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  -- A different sequence per thread and per run.
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
  for _ = 1, 10 do math.random() end
  bench.ts = bench.ts + (thread_id or 0) * 100000000
end

-- One machine-readable line; times in microseconds.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
