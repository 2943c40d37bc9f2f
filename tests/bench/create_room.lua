-- wrk script of scripts/bench.sh, route create_room:
--   POST /chat/v1/auth/tok-u<i>{a,b}/rooms {"type":"bench","users":["u<i>a","u<i>b"]} (the room exists: create-or-get)
-- over random seeded rooms with their users' real table tokens.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = bench.create_room
