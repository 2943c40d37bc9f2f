# scripts/bench/scale.sh: SCALE=full: the main routes at several data sizes, and the expiry
# job under load.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

# run_scale: sets SCALE_JSON (disabled unless SCALE=full).
run_scale() {
  SCALE_JSON='{"enabled": false, "note": "run with SCALE=full"}'
  if [[ $SCALE == full ]]; then
    read -ra SCALES <<<"${BENCH_SCALES:-1000 10000 100000}"
    : >"$WORK/json/scale.tsv"
    for n in "${SCALES[@]}"; do
      reseed "$n"
      for r in get_room post_message; do
        log "== scale $n rooms: $r"
        measure_service "scale-$n-$r" "$r" "$n"
        stop_server
        log "   $S_RPS req/s, p50 $S_P50 ms, p99 $S_P99 ms, errors $S_ERRORS"
        TOTAL_ERRORS=$((TOTAL_ERRORS + S_ERRORS))
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$r" "$S_RPS" "$S_P50" "$S_P99" "$S_ERRORS" "$SEED_SECONDS" \
          >>"$WORK/json/scale.tsv"
      done
    done
    # Expiry under load: ROOMS live rooms take post_message while the job
    # deletes 100,000 expired rooms (with their 10M messages).
    EXPIRED=${BENCH_EXPIRED:-100000}
    reseed "$ROOMS" "$EXPIRED"
    log "== expiry of $EXPIRED rooms under post_message load on $ROOMS live rooms"
    start_server
    run_wrk "expiry-warmup" post_message "$SERVER_PORT" "$WARMUP" "$ROOMS"
    # wrk stops on SIGINT and still prints its results; the 1800 s bound is
    # only there in case the job never ends.
    BENCH_ROOMS=$ROOMS BENCH_ROUTE_PREFIX=$PREFIX wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d1800s --latency \
      -s tests/bench/post_message.lua "http://127.0.0.1:$SERVER_PORT" >"$LOGS/wrk-expiry.txt" 2>&1 &
    wrk_pid=$!
    track "$wrk_pid"
    sleep 0.5
    t0=${EPOCHREALTIME/./}
    deleted=$(DATABASE_URL=$DB_URL LOG_LEVEL=warn "$BIN" expire 2>>"$LOGS/expire.log")
    t1=${EPOCHREALTIME/./}
    kill -INT "$wrk_pid"
    wait "$wrk_pid" || true
    untrack "$wrk_pid"
    stop_server
    parse_wrk "$LOGS/wrk-expiry.txt"
    TOTAL_ERRORS=$((TOTAL_ERRORS + W_ERRORS))
    job_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
    left=$(sql_value "SELECT count(*) FROM rooms WHERE expires_at <= now()")
    log "   deleted $deleted rooms in ${job_s}s ($left left); requests meanwhile: $W_RPS req/s, p50 $W_P50 ms, p99 $W_P99 ms, max $W_MAX ms, errors $W_ERRORS"
    SCALE_JSON=$(jq -n --rawfile tsv "$WORK/json/scale.tsv" \
      --argjson deleted "${deleted:-0}" --argjson job_seconds "$job_s" --argjson left "$left" \
      --argjson rps "$W_RPS" --argjson p50_ms "$W_P50" --argjson p99_ms "$W_P99" --argjson max_ms "$W_MAX" \
      --argjson errors "$W_ERRORS" --argjson expired "$EXPIRED" --argjson live "$ROOMS" '
      ($tsv | split("\n") | map(select(length > 0) | split("\t"))
            | map({rooms: .[0], route: .[1], rps: (.[2] | tonumber), p50_ms: (.[3] | tonumber),
                   p99_ms: (.[4] | tonumber), errors: (.[5] | tonumber), seed_seconds: (.[6] | tonumber)})) as $rows
      | {enabled: true,
         rooms: ($rows | group_by(.rooms) | map({key: .[0].rooms,
                   value: (map({key: .route, value: (del(.rooms, .route))}) | from_entries)}) | from_entries),
         per_request_cost: ($rows | group_by(.route) | map({key: .[0].route, value: (
             (sort_by(.rooms | tonumber)) as $s
             | ($s[0].rps) as $base
             | {relative_to_smallest: ($s | map({key: .rooms, value: (($base / .rps) * 1000 | round / 1000)}) | from_entries),
                within_20pct: ($s | all(($base / .rps) <= 1.2))})}) | from_entries),
         expiry: {expired_rooms: $expired, live_rooms: $live, deleted: $deleted,
                  job_seconds: $job_seconds, expired_left: $left,
                  during_job: {route: "post_message", rps: $rps, p50_ms: $p50_ms, p99_ms: $p99_ms,
                               max_ms: $max_ms, errors: $errors}}}')
  fi

}
