# scripts/bench/live.sh: the live route: event streams waiting on one server
# (tests/bench/live_load.c), a steady post rate, the delivery latency from
# each post's 200 to its event, the server's RSS, and post_message's
# throughput with the streams connected against the same without them,
# same run.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

LIVE_STREAMS=${BENCH_LIVE_STREAMS:-10000}
LIVE_RATE=${BENCH_LIVE_RATE:-1000}

# measure_live: writes $WORK/json/live.json (or nothing with BENCH_LIVE=0).
measure_live() {
  [[ ${BENCH_LIVE:-1} != 0 ]] || return 0
  local streams=$LIVE_STREAMS load_pid line base_rps base_p99 with_rps with_p99 rss_idle
  ((streams <= ROOMS * 2)) || streams=$((ROOMS * 2))
  log "== live: post_message without waiting clients (${DURATION}s)"
  start_server
  rss_idle=$(proc_status_kb "$SERVER_PID" VmRSS)
  run_wrk warmup-live-base post_message "$SERVER_PORT" "$WARMUP" "$ROOMS"
  run_wrk live-base post_message "$SERVER_PORT" "$DURATION" "$ROOMS"
  base_rps=$W_RPS base_p99=$W_P99
  TOTAL_ERRORS=$((TOTAL_ERRORS + W_ERRORS))
  log "   $base_rps req/s (p99 $base_p99 ms)"
  log "== live: $streams event streams, $LIVE_RATE posts/s to their rooms for ${DURATION}s"
  "$OUT/live_load" "$SERVER_PORT" "$PREFIX" "$streams" "$LIVE_RATE" "$DURATION" \
    "$((DURATION + WARMUP + 10))" >"$LOGS/live_load.txt" 2>"$LOGS/live_load.err" &
  load_pid=$!
  track "$load_pid"
  local i
  for i in $(seq 600); do
    grep -q 'posting done' "$LOGS/live_load.err" 2>/dev/null && break
    kill -0 "$load_pid" 2>/dev/null || break
    sleep 0.5
  done
  grep -q 'posting done' "$LOGS/live_load.err" || die "live_load did not post (see $LOGS/live_load.err)"
  local rss_streams
  rss_streams=$(proc_status_kb "$SERVER_PID" VmRSS)
  log "== live: post_message with the $streams streams connected (${DURATION}s)"
  run_wrk live-with post_message "$SERVER_PORT" "$DURATION" "$ROOMS"
  with_rps=$W_RPS with_p99=$W_P99
  TOTAL_ERRORS=$((TOTAL_ERRORS + W_ERRORS))
  log "   $with_rps req/s (p99 $with_p99 ms)"
  wait "$load_pid" || true
  untrack "$load_pid"
  local hwm
  hwm=$(proc_status_kb "$SERVER_PID" VmHWM)
  stop_server
  sql -c 'TRUNCATE notification_outbox'
  line=$(grep '^LIVE_RESULT ' "$LOGS/live_load.txt") || die "no result from live_load (see $LOGS/live_load.err)"
  declare -A L=()
  local kv
  for kv in ${line#LIVE_RESULT }; do L[${kv%%=*}]=${kv#*=}; done
  log "   streams ready ${L[ready]} of $streams in ${L[connect_ms]} ms; events ${L[events]} of ${L[expected]}; latency p50 ${L[p50_ms]} ms, p99 ${L[p99_ms]} ms, max ${L[max_ms]} ms; RSS $rss_idle kB idle, $rss_streams kB with the streams, VmHWM $hwm kB"
  if ((L[ready] != streams || L[events] != L[expected] || L[posts_failed] > 0)); then
    log "   ERROR: streams refused, events missing or posts failed (see $LOGS/live_load.*)"
    TOTAL_ERRORS=$((TOTAL_ERRORS + 1))
  fi
  jq -n --argjson streams "$streams" --argjson ready "${L[ready]}" --argjson connect_ms "${L[connect_ms]}" \
    --argjson rate "$LIVE_RATE" --argjson posts "${L[posts_ok]}" --argjson posts_failed "${L[posts_failed]}" \
    --argjson events "${L[events]}" --argjson expected "${L[expected]}" --argjson early "${L[early]}" \
    --argjson p50_ms "${L[p50_ms]}" --argjson p90_ms "${L[p90_ms]}" --argjson p99_ms "${L[p99_ms]}" \
    --argjson max_ms "${L[max_ms]}" --argjson rss_idle_kb "$rss_idle" --argjson rss_streams_kb "$rss_streams" \
    --argjson rss_peak_kb "$hwm" --argjson post_rps_without "$base_rps" --argjson post_p99_without_ms "$base_p99" \
    --argjson post_rps_with "$with_rps" --argjson post_p99_with_ms "$with_p99" \
    '$ARGS.named + {post_rps_ratio: (if $post_rps_without > 0 then ($post_rps_with / $post_rps_without * 1000 | round / 1000) else null end),
                    note: "latency: from the post'"'"'s 200 to the event on each of the room'"'"'s two streams (0 when the event came first); the load client, wrk, the server and PostgreSQL share the machine"}' \
    >"$WORK/json/live.json"
}
