# scripts/bench/import.sh: `ganomede-chat import-redis` timed: BENCH_IMPORT_ROOMS
# rooms (10,000) of 100 messages, written into a throwaway redis-server in
# the original's key formats, imported into the benchmark's database (room
# ids imp/..., beside the seeded bench/... rooms).
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

# measure_import: writes $WORK/json/import.json.
measure_import() {
  local rooms=${BENCH_IMPORT_ROOMS:-10000} port pid out secs imported messages
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --logfile "$LOGS/redis.log" &
  pid=$!
  track "$pid"
  local i
  for i in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  log "== import-redis: $rooms rooms of 100 messages"
  # The original's formats: the room key (JSON, PX), its list (LPUSHed
  # JSON, newest first).
  redis-cli -p "$port" EVAL "
    for i = 1, tonumber(ARGV[1]) do
      local id = 'imp/x' .. i .. 'a/x' .. i .. 'b'
      redis.call('SET', 'chat/v1:' .. id, cjson.encode({type = 'imp',
        users = {'x' .. i .. 'a', 'x' .. i .. 'b'}, id = id}), 'PX', 5184000000)
      for k = 1, 100 do
        redis.call('LPUSH', 'chat/v1:' .. id .. ':messages',
          '{\"timestamp\":' .. (1700000000000 + k) .. ',\"from\":\"x' .. i .. 'a\",' ..
          '\"type\":\"text\",\"message\":\"imported message number ' .. k .. '\"}')
      end
    end" 0 "$rooms" >/dev/null
  out=$(DATABASE_URL=$DB_URL LOG_LEVEL=warn ROUTE_PREFIX=$PREFIX "$BIN" import-redis \
          "redis://127.0.0.1:$port/0" 2>>"$LOGS/import.err") ||
    die "import-redis failed (see $LOGS/import.err)"
  echo "$out" >"$LOGS/import.out"
  stop_pid "$pid"
  secs=$(awk '/^time:/ { print $2 }' <<<"$out")
  imported=$(awk '/^rooms:/ { print $2 }' <<<"$out")
  messages=$(awk '/^messages:/ { print $2 }' <<<"$out")
  ((imported == rooms)) || { log "   ERROR: $imported of $rooms rooms imported"; TOTAL_ERRORS=$((TOTAL_ERRORS + 1)); }
  log "   $imported rooms, $messages messages in ${secs}s"
  jq -n --argjson rooms "$imported" --argjson messages "$messages" --argjson seconds "$secs" \
    '{rooms: $rooms, messages: $messages, seconds: $seconds,
      rooms_per_s: ($rooms / $seconds | round), messages_per_s: ($messages / $seconds | round),
      note: "redis-server on loopback, into the benchmark database (durable settings), ARCHIVE on"}' \
    >"$WORK/json/import.json"
}
