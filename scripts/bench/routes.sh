# scripts/bench/routes.sh: the server under test, wrk runs, and one route measured end to end.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

# ------------------------------------------------------ the servers we run
# start_server [NAME=VALUE...]: the server, with these settings on top.
start_server() {
  SERVER_PORT=$(free_port)
  # LOG_LEVEL=warn: with the default (info) every request writes a JSON log
  # line, which would be measured along with the service.
  env "$@" PORT=$SERVER_PORT DATABASE_URL=$DB_URL API_SECRET=bench-secret \
    NOTIFICATIONS_PORT_8080_TCP_ADDR=127.0.0.1 NOTIFICATIONS_PORT_8080_TCP_PORT=$RECV_PORT \
    EXPIRY_INTERVAL_SECONDS=0 LOG_LEVEL=warn ROUTE_PREFIX=$PREFIX \
    HTTP_THREADS=$BENCH_HTTP_THREADS \
    "$BIN" serve >>"$LOGS/server.log" 2>&1 &
  SERVER_PID=$!
  track "$SERVER_PID"
  wait_http "$SERVER_PORT" "/$PREFIX/ping/bench" "$SERVER_PID" "$LOGS/server.log"
}
stop_server() { stop_pid "$SERVER_PID"; SERVER_PID=0; }

# run_wrk TAG SCRIPT PORT SECONDS ROOMS: wrk -t2 -c32 --latency; its whole
# output goes to logs/wrk-TAG.txt and the numbers into W_* variables. The
# numbers come from the script's done() (tests/bench/common.lua): the same
# histogram that --latency prints, in microseconds rather than rounded text.
run_wrk() {
  local file=$LOGS/wrk-$1.txt
  BENCH_ROOMS=$5 BENCH_ROUTE_PREFIX=$PREFIX wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$4s" --latency \
    -s "tests/bench/$2.lua" "http://127.0.0.1:$3" >"$file" 2>&1 || true
  parse_wrk "$file"
}
parse_wrk() {
  local line kv
  line=$(grep '^BENCH_RESULT ' "$1" | tail -n1) || die "no result from wrk (see $1)"
  declare -gA W=()
  for kv in ${line#BENCH_RESULT }; do W[${kv%%=*}]=${kv#*=}; done
  W_RPS=$(div "${W[requests]}" "$(awk -v d="${W[duration_us]}" 'BEGIN { print d / 1e6 }')" 1)
  W_P50=$(div "${W[p50_us]}" 1000 3)
  W_P99=$(div "${W[p99_us]}" 1000 3)
  W_MAX=$(div "${W[max_us]}" 1000 3)
  W_NON2XX=${W[status]}
  W_SOCKET=$((W[connect] + W[read] + W[write] + W[timeout]))
  W_ERRORS=$((W_NON2XX + W_SOCKET))
  W_REQUESTS=${W[requests]}
}

# Size in bytes of the real answer of a route (plain, no gzip: wrk sends no
# Accept-Encoding), for the HTTP ceiling; room ROOMS/2 (HISTORY_ROOMS/2 for
# history) with its own token.
answer_bytes() { # get|post|create|history|my_rooms
  local n=$((ROOMS / 2))
  [[ $1 != history ]] || n=$(((HISTORY_ROOMS + 1) / 2))
  local base="http://127.0.0.1:$SERVER_PORT/$PREFIX/auth/tok-u${n}a"
  local room="bench%2Fu${n}a%2Fu${n}b" out
  case $1 in
    get) out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "$base/rooms/$room") ;;
    post) out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' -H 'Content-Type: application/json' \
                  -d '{"timestamp":1700000000000,"type":"text","message":"bench"}' "$base/rooms/$room/messages") ;;
    history) out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "$base/rooms/$room/messages?limit=50") ;;
    my_rooms) out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' \
                      "http://127.0.0.1:$SERVER_PORT/$PREFIX/auth/tok-ib1/rooms") ;;
    create) out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' -H 'Content-Type: application/json' \
                    -d "{\"type\":\"bench\",\"users\":[\"u${n}a\",\"u${n}b\"]}" "$base/rooms") ;;
  esac
  [[ ${out%% *} == 200 ]] || die "the $1 answer was '$out', not 200 (log: $LOGS/server.log)"
  echo "${out#* }"
}


# ------------------------------------------------- one route, end to end
# Server restarted per route, so VmHWM (read just before it stops) is that
# route's own peak RSS (the warmup included). VmRSS is also sampled in the
# background (every 0.5 s; every 1 s when DURATION >= 120) during the
# measured run, for growth: the first and the last minute of long runs.
RSS_EVERY=0.5
OUTBOX_DRAIN_MAX=120
((DURATION < 120)) || RSS_EVERY=1
# The server's room cache counters: "hits misses bytes entries".
room_cache_metrics() {
  curl -sS "http://127.0.0.1:$SERVER_PORT/$PREFIX/metrics" |
    awk '$1 == "chat_room_cache_hits_total" { h = $2 } $1 == "chat_room_cache_misses_total" { m = $2 }
         $1 == "chat_room_cache_bytes" { b = $2 } $1 == "chat_room_cache_entries" { e = $2 }
         END { print h + 0, m + 0, b + 0, e + 0 }'
}
# The measured run's hit ratio (from the counters before and after it) and
# the cache's size at its end, as JSON.
room_cache_json() { # "BEFORE" "AFTER"
  local -a a b
  read -ra a <<<"$1"
  read -ra b <<<"$2"
  local hits=$((b[0] - a[0])) misses=$((b[1] - a[1]))
  jq -n --argjson hits "$hits" --argjson misses "$misses" --argjson bytes "${b[2]}" \
    --argjson entries "${b[3]}" \
    '$ARGS.named | . + {hit_ratio: (if .hits + .misses > 0 then (.hits / (.hits + .misses) * 1000 | round) / 1000 else null end)}'
}

measure_service() { # TAG SCRIPT ROOMS [NAME=VALUE...] -> S_* and logs
  local tag=$1 script=$2 rooms=$3 sampler top_pid rss_file=$LOGS/rss-$1.txt
  shift 3
  start_server "$@"
  run_wrk "warmup-$tag" "$script" "$SERVER_PORT" "$WARMUP" "$rooms"
  sample_rss "$SERVER_PID" "$rss_file" "$RSS_EVERY" &
  sampler=$!
  track "$sampler"
  # One top snapshot per run, half-way (second frame: a 1 s average).
  (sleep $((DURATION / 2)) && command -v top >/dev/null &&
     top -b -n 2 -d 1 -w 200 | awk '/^top -/ { n++ } n == 2' | head -n 30 >"$LOGS/top-$tag.txt") &
  top_pid=$!
  track "$top_pid"
  local cache0 cache1
  cache0=$(room_cache_metrics)
  cpu_mark
  run_wrk "$tag" "$script" "$SERVER_PORT" "$DURATION" "$rooms"
  S_CPU=$(cpu_since)
  cache1=$(room_cache_metrics)
  S_CACHE=$(room_cache_json "$cache0" "$cache1")
  stop_pid "$sampler"
  wait "$top_pid" 2>/dev/null || true
  untrack "$top_pid"
  S_HWM=$(proc_status_kb "$SERVER_PID" VmHWM)
  S_RSS_END=$(proc_status_kb "$SERVER_PID" VmRSS)
  S_RSS_SAMPLED=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$rss_file")
  S_RSS_FIRST=null
  S_RSS_LAST=null
  if ((DURATION >= 120)); then
    S_RSS_FIRST=$(awk '$1 < 60000 && $2 > m { m = $2 } END { print m + 0 }' "$rss_file")
    S_RSS_LAST=$(awk -v from=$(((DURATION - 60) * 1000)) '$1 >= from && $2 > m { m = $2 } END { print m + 0 }' "$rss_file")
  fi
  S_RPS=$W_RPS S_P50=$W_P50 S_P99=$W_P99 S_MAX=$W_MAX S_ERRORS=$W_ERRORS
  S_NON2XX=$W_NON2XX S_SOCKET=$W_SOCKET S_REQUESTS=$W_REQUESTS
  # Notifications still queued when the load stops: the dispatcher's backlog.
  # Let it drain (bounded) before the server stops, so that the next route
  # does not deliver it during its own measurement; how long it takes is
  # the dispatcher's throughput.
  S_OUTBOX=$(sql_value "SELECT count(*) FROM notification_outbox WHERE failed_at IS NULL")
  S_OUTBOX_DRAIN=null
  if ((S_OUTBOX > 0)); then
    local t0=${EPOCHREALTIME/./} left=$S_OUTBOX i
    for i in $(seq "$((OUTBOX_DRAIN_MAX * 10))"); do
      left=$(sql_value "SELECT count(*) FROM notification_outbox WHERE failed_at IS NULL")
      ((left > 0)) || break
      sleep 0.1
    done
    if ((left == 0)); then
      S_OUTBOX_DRAIN=$(awk -v a="$t0" -v b="${EPOCHREALTIME/./}" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
    else
      log "   the outbox still holds $left notifications after ${OUTBOX_DRAIN_MAX}s; dropping them"
    fi
  fi
  S_OUTBOX_FAILED=$(sql_value "SELECT count(*) FROM notification_outbox WHERE failed_at IS NOT NULL")
  sql -c 'TRUNCATE notification_outbox'
}

# Each route: its wrk script, and the server settings it runs with beyond
# start_server's. post_message_noarchive is post_message with ARCHIVE=off,
# measured in the same run to give the record's cost; *_txpool are the
# routes as a server behind a transaction pooler sends them
# (DATABASE_POOL_MODE=transaction: unnamed statements in a pipeline with
# the statement timeout), here straight to PostgreSQL, to give that mode's
# own cost (BENCH_ROUTES=... to run them; not in the default set).
# post_message_idem sends an Idempotency-Key with every post (a new one
# each time) and post_message_ratelimit runs with a rate limit no user
# reaches: each gives its feature's cost against post_message, same run.
# my_rooms is measured on its own data (seed_inbox), added for it alone.
# get_room_nocache and mixed_nocache are get_room and mixed with the room
# cache off (ROOM_CACHE_BYTES=0): what the cache gains, same run.
declare -A ROUTE_SCRIPT=([get_room]=get_room [get_room_nocache]=get_room
                         [mixed_nocache]=mixed [post_message]=post_message
                         [post_message_noarchive]=post_message [create_room]=create_room
                         [mixed]=mixed [history]=history [get_room_txpool]=get_room
                         [post_message_txpool]=post_message
                         [post_message_idem]=post_message_idem
                         [post_message_ratelimit]=post_message [my_rooms]=my_rooms)
declare -A ROUTE_ENV=([post_message_noarchive]=ARCHIVE=off [get_room_nocache]=ROOM_CACHE_BYTES=0
                      [mixed_nocache]=ROOM_CACHE_BYTES=0
                      [get_room_txpool]=DATABASE_POOL_MODE=transaction
                      [post_message_txpool]=DATABASE_POOL_MODE=transaction
                      [post_message_ratelimit]="RATE_LIMIT_POSTS_PER_MINUTE=600000 RATE_LIMIT_BURST=100000")
read -ra ROUTES <<<"${BENCH_ROUTES:-get_room get_room_nocache post_message post_message_noarchive post_message_idem post_message_ratelimit create_room mixed mixed_nocache history my_rooms}"
# The rooms a route's requests spread over (history: those with a long
# record; my_rooms: its users).
route_rooms() {
  case $1 in
    history) echo "$HISTORY_ROOMS" ;;
    my_rooms) echo "$INBOX_USERS" ;;
    *) echo "$ROOMS" ;;
  esac
}
TOTAL_ERRORS=0

measure_route() { # ROUTE -> $WORK/json/route-ROUTE.json
  local r=$1 base=$1
  log "== $r: service (${DURATION}s after ${WARMUP}s warmup)"
  local rooms env=()
  # ROUTE_inline: ROUTE with the other request model (handlers on the
  # socket threads, HTTP_IO_THREADS=0); ROUTE_ioN: with N socket threads;
  # both measured in the same run as ROUTE.
  [[ $r != *_inline ]] || { base=${r%_inline}; env+=(HTTP_IO_THREADS=0); }
  if [[ $r =~ ^(.*)_io([0-9]+)$ ]]; then base=${BASH_REMATCH[1]}; env+=("HTTP_IO_THREADS=${BASH_REMATCH[2]}"); fi
  rooms=$(route_rooms "$base")
  [[ -z ${ROUTE_ENV[$base]:-} ]] || read -ra env <<<"${ROUTE_ENV[$base]} ${env[*]}"
  [[ $base != my_rooms ]] || seed_inbox
  start_server_sizes "$base" "${env[@]}"
  stop_server
  measure_service "$r" "${ROUTE_SCRIPT[$base]}" "$rooms" "${env[@]}"
  stop_server
  log "   $S_RPS req/s, p50 $S_P50 ms, p99 $S_P99 ms, errors $S_ERRORS, VmHWM $S_HWM kB, cpu $S_CPU"
  [[ $S_OUTBOX == 0 ]] || log "   notifications queued at the end: $S_OUTBOX, delivered in ${S_OUTBOX_DRAIN}s"
  if [[ ${BENCH_CEILINGS:-1} == 0 ]]; then
    P_TPS=0 P_FAILED=0 H_RPS=0 H_ERRORS=0
    measure_route_json "$r" 0 0
    return
  fi
  local pool_tps="" pool_failed=0
  if ((BENCH_HTTP_THREADS != WRK_CONNS)); then
    log "== $r: database ceiling (pgbench, $BENCH_HTTP_THREADS clients as the server's pool)"
    db_ceiling "$base" "$BENCH_HTTP_THREADS"
    log "   $P_TPS tx/s"
    pool_tps=$P_TPS pool_failed=$P_FAILED
  fi
  log "== $r: database ceiling (pgbench, $WRK_CONNS clients as wrk's connections)"
  db_ceiling "$base" "$WRK_CONNS"
  log "   $P_TPS tx/s"
  pool_tps=${pool_tps:-$P_TPS}
  log "== $r: HTTP ceiling (http_ceiling, GET $SIZE_GET B, POST $SIZE_POST B)"
  http_ceiling "$r" "${ROUTE_SCRIPT[$base]}" "$SIZE_GET" "$SIZE_POST"
  log "   $H_RPS req/s"
  [[ $base != my_rooms ]] || unseed_inbox
  measure_route_json "$r" "$pool_tps" "$pool_failed"
}
# The route's JSON from the S_*, P_*, H_* figures (ceilings 0: not measured).
measure_route_json() { # ROUTE POOL_TPS POOL_FAILED
  local r=$1 pool_tps=$2 pool_failed=$3
  TOTAL_ERRORS=$((TOTAL_ERRORS + S_ERRORS + H_ERRORS + P_FAILED + pool_failed))
  jq -n --argjson rps "$S_RPS" --argjson p50_ms "$S_P50" --argjson p99_ms "$S_P99" \
    --argjson max_ms "$S_MAX" --argjson requests "$S_REQUESTS" \
    --argjson errors "$S_ERRORS" --argjson non_2xx "$S_NON2XX" --argjson socket_errors "$S_SOCKET" \
    --argjson rss_kb "$S_HWM" --argjson rss_end_kb "$S_RSS_END" --argjson rss_sampled_max_kb "$S_RSS_SAMPLED" \
    --argjson rss_first_min_kb "$S_RSS_FIRST" --argjson rss_last_min_kb "$S_RSS_LAST" \
    --argjson db_ceiling_rps "$P_TPS" --argjson db_ceiling_failed "$P_FAILED" \
    --argjson db_ceiling_pool_rps "$pool_tps" --argjson ratio_db_pool "$(div "$S_RPS" "$pool_tps" 3)" \
    --argjson http_ceiling_rps "$H_RPS" --argjson http_ceiling_errors "$H_ERRORS" \
    --argjson point_ceiling_rps "$POINT_RPS" --argjson point_ceiling_pool_rps "$POINT_POOL_RPS" \
    --argjson ratio_point "$(div "$S_RPS" "$POINT_RPS" 3)" \
    --argjson answer_bytes "$SIZE_GET" --argjson answer_bytes_post "$SIZE_POST" \
    --argjson ratio_db "$(div "$S_RPS" "$P_TPS" 3)" --argjson ratio_http "$(div "$S_RPS" "$H_RPS" 3)" \
    --argjson cpu "$S_CPU" --argjson room_cache "$S_CACHE" \
    --argjson outbox_pending_at_end "$S_OUTBOX" --argjson outbox_drain_s "$S_OUTBOX_DRAIN" \
    --argjson outbox_failed "$S_OUTBOX_FAILED" \
    '$ARGS.named
     | .cpu += {server_us_per_req: (if .rps > 0 then (.cpu.server_pct * 10000 / .rps | round) else null end),
                postgres_us_per_req: (if .rps > 0 then (.cpu.postgres_pct * 10000 / .rps | round) else null end)}' \
    >"$WORK/json/route-$r.json"
}
# The answer sizes of the route (for its HTTP ceiling), on a fresh server
# with the route's settings.
start_server_sizes() { # ROUTE [NAME=VALUE...]
  local r=$1
  shift
  start_server "$@"
  case $r in
    get_room*) SIZE_GET=$(answer_bytes get); SIZE_POST=$SIZE_GET ;;
    history) SIZE_GET=$(answer_bytes history); SIZE_POST=$SIZE_GET ;;
    post_message*) SIZE_GET=$(answer_bytes post); SIZE_POST=$SIZE_GET ;;
    create_room) SIZE_GET=$(answer_bytes create); SIZE_POST=$SIZE_GET ;;
    mixed*) SIZE_GET=$(answer_bytes get); SIZE_POST=$(answer_bytes post) ;;
    my_rooms) SIZE_GET=$(answer_bytes my_rooms); SIZE_POST=$SIZE_GET ;;
  esac
}

