-- wrk script of scripts/bench.sh, route history:
--   GET /chat/v1/auth/tok-u<i>{a,b}/rooms/bench%2Fu<i>a%2Fu<i>b/messages?limit=50
-- the newest page of 50 of a random room among those with 1,000 messages on
-- record (BENCH_ROOMS is scripts/bench.sh's HISTORY_ROOMS here), with its
-- users' real table tokens.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function request()
  local n, user = bench.pick()
  return wrk.format("GET", bench.prefix .. "/auth/tok-" .. user .. "/rooms/" .. bench.room_path(n)
                    .. "/messages?limit=50")
end
