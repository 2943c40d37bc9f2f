-- wrk script of scripts/bench.sh, route get_room:
--   GET /chat/v1/auth/tok-u<i>{a,b}/rooms/bench%2Fu<i>a%2Fu<i>b (a room with 100 messages)
-- over random seeded rooms with their users' real table tokens.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = bench.get_room
