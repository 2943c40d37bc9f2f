-- wrk script of scripts/bench.sh, route post_message:
--   POST .../rooms/bench%2Fu<i>a%2Fu<i>b/messages {"timestamp":<number>,"type":"text","message":"bench"}
-- over random seeded rooms with their users' real table tokens.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = bench.post_message
