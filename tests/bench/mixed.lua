-- wrk script of scripts/bench.sh, route mixed: 80 % get_room, 20 %
-- post_message, each over random seeded rooms with real table tokens.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function request()
  if math.random() < 0.8 then
    return bench.get_room()
  end
  return bench.post_message()
end
