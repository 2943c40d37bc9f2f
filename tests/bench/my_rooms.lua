-- wrk script of scripts/bench.sh, route my_rooms:
--   GET /chat/v1/auth/tok-ib<j>/rooms (the first page of 50 of a user in 200
--   rooms, scripts/bench/seed_inbox.sql) over random inbox users.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = function()
  local j = math.random(1, bench.rooms)
  return wrk.format("GET", bench.prefix .. "/auth/tok-ib" .. j .. "/rooms")
end
