-- wrk script of scripts/bench.sh, route post_message_idem: post_message
-- with an Idempotency-Key on every request (a new key each time, as a
-- client sends for a new message).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local sent = 0
request = function()
  local n, user = bench.pick()
  bench.ts = bench.ts + 1
  sent = sent + 1
  local body = string.format('{"timestamp":%d,"type":"text","message":"bench"}', bench.ts)
  local headers = { ["Content-Type"] = "application/json",
                    ["Idempotency-Key"] = string.format("k%d-%d-%d", thread_id or 0, bench.ts, sent) }
  return wrk.format("POST",
                    bench.prefix .. "/auth/tok-" .. user .. "/rooms/" .. bench.room_path(n) .. "/messages",
                    headers, body)
end
