# scripts/bench/report.sh: build/bench.json and the table on stdout.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

# report: writes $JSON_OUT and prints the summary; exits 1 when any request
# or transaction failed.
report() {
  SETTINGS_JSON=$(jq -n \
    --argjson duration_s "$DURATION" --argjson warmup_s "$WARMUP" --argjson rooms "$ROOMS" \
    --argjson messages_per_room 100 --argjson seed_seconds "$MAIN_SEED_SECONDS" \
    --argjson wrk_threads "$WRK_THREADS" --argjson wrk_connections "$WRK_CONNS" \
    --argjson nproc "$NCPU" --arg postgres "$(sql_value 'SHOW server_version')" \
    --arg shared_buffers "$(sql_value 'SHOW shared_buffers')" --arg huge_pages "$HUGE_PAGES" \
    --arg synchronous_commit "$(sql_value 'SHOW synchronous_commit')" \
    --arg http_threads "$BENCH_HTTP_THREADS" --arg fsync "$(sql_value 'SHOW fsync')" --arg max_connections "$(sql_value 'SHOW max_connections')" \
    --arg max_wal_size "$(sql_value 'SHOW max_wal_size')" \
    --arg checkpoint_timeout "$(sql_value 'SHOW checkpoint_timeout')" \
    --argjson total_seconds "$((SECONDS - T_START))" --argjson machine_busy_before_pct "$BUSY_BEFORE" \
    --argjson point_ceiling_rps "$POINT_RPS" --argjson point_ceiling_pool_rps "$POINT_POOL_RPS" \
    --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src sql migrations 2>/dev/null || echo '+dirty')" \
    '$ARGS.named + {
       server: {HTTP_THREADS: ($http_threads | tonumber), DB_POOL_SIZE: "0 (one per HTTP thread)", LOG_LEVEL: "warn",
                EXPIRY_INTERVAL_SECONDS: 0, notifications: "on, to a local http_ceiling answering 200"},
       rss: "rss_kb is VmHWM read after each route; the server is restarted between routes, so each peak is its own (warmup included). rss_sampled_max_kb: highest VmRSS sampled during the measured run; rss_first_min_kb / rss_last_min_kb: highest VmRSS in the first / last minute (DURATION >= 120 only)",
       cpu: "percent of one core over the measured run (the machine has nproc * 100 %): server process, PostgreSQL (postmaster and children), notifications receiver, other (wrk, kernel), idle (with iowait)",
       latency: "wrk 4.1 histogram (tests/bench/common.lua done()), no coordinated-omission correction",
       errors: "status > 399 (wrk: Non-2xx or 3xx responses) + socket errors (connect, read, write, timeout > 2 s)",
       db_ceiling: "pgbench -M prepared -c 32 -j 2 -n, scripts made from sql/ (copies in build/bench/logs/pgbench-*.sql), mean tps of the seconds after the warm-up",
       db_ceiling_pool: "the same with as many clients as the server has PostgreSQL connections (HTTP_THREADS); ratio_db_pool is the service against it",
       http_ceiling: "wrk, same script, against tests/bench/http_ceiling.c answering a body of the real answer size",
       json_written_with: "jq"}')
  jq -n --slurpfile routes <(for r in "${ROUTES[@]}"; do jq --arg name "$r" '{($name): .}' "$WORK/json/route-$r.json"; done) \
    --argjson scale "$SCALE_JSON" --argjson settings "$SETTINGS_JSON" \
    --slurpfile record "$WORK/json/record.json" --slurpfile imported "$WORK/json/import.json" \
    --slurpfile live <(cat "$WORK/json/live.json" 2>/dev/null || echo null) \
    '{routes: ($routes | add), record: ($record[0]
        + {archive_cost: (if $routes | add | has("post_message") and has("post_message_noarchive")
                          then ($routes | add) as $r
                               | {post_message_on_vs_off: ($r.post_message.rps / $r.post_message_noarchive.rps * 1000 | round / 1000),
                                  note: "post_message req/s with ARCHIVE=on over the same with ARCHIVE=off, same run"}
                          else null end)}),
      "import": $imported[0], live: $live[0], scale: $scale, settings: $settings}' >"$JSON_OUT"

  echo
  echo "ganomede-chat benchmark: $ROOMS rooms x 100 messages, wrk -t$WRK_THREADS -c$WRK_CONNS, ${DURATION}s per measurement, $NCPU cores (${BUSY_BEFORE}% busy before), server LOG_LEVEL=warn"
  printf '%-23s %9s %8s %8s %6s %9s %10s %6s %10s %6s %10s %6s %10s %6s\n' \
    route req/s p50_ms p99_ms errors rss_kb db_ceiling "%db" db_pool "%pool" point "%pt" http_ceil "%http"
  for r in "${ROUTES[@]}"; do
    # pct(k): a ratio as a percentage to 1/k; "-" when its ceiling was not
    # measured (BENCH_CEILINGS=0).
    jq -r --arg r "$r" 'def pct(k): if . == null then "-" else ((. * 100 * k | round) / k | tostring) + "%" end;
      [$r, (.rps | tostring), (.p50_ms | tostring), (.p99_ms | tostring),
        (.errors | tostring), (.rss_kb | tostring), (.db_ceiling_rps | tostring),
        (.ratio_db | pct(1)), (.db_ceiling_pool_rps | tostring),
        (.ratio_db_pool | pct(1)), (.point_ceiling_rps | tostring),
        (.ratio_point | pct(1)), (.http_ceiling_rps | tostring),
        (.ratio_http | pct(10))] | @tsv' "$WORK/json/route-$r.json" |
      awk -F'\t' '{ printf "%-23s %9.0f %8.2f %8.2f %6d %9d %10.0f %6s %10.0f %6s %10.0f %6s %10.0f %6s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }'
  done
  echo "(db_ceiling: pgbench of the route's own statements with $WRK_CONNS clients; db_pool: with $BENCH_HTTP_THREADS, the server's connections;"
  echo " point: pgbench -S, one primary-key lookup, with $WRK_CONNS clients ($POINT_POOL_RPS with $BENCH_HTTP_THREADS): the most a request that asks PostgreSQL once can reach)"
  echo
  echo "CPU over each measured run, % of one core (machine: $((NCPU * 100))%):"
  for r in "${ROUTES[@]}"; do
    jq -r --arg r "$r" '.cpu | "  \($r): server \(.server_pct)  postgres \(.postgres_pct)  receiver \(.receiver_pct)  other (wrk, kernel) \(.other_pct)  idle \(.idle_pct) (iowait \(.iowait_pct)); CPU per request: server \(.server_us_per_req) us, postgres \(.postgres_us_per_req) us"' \
      "$WORK/json/route-$r.json"
  done
  echo
  jq -r '.record | "The record: \(.archive.rows) messages, \(.archive.mb_per_million) MB per million (indexes included).",
      "  export of \(.export.messages) messages (NDJSON, \(.export.bytes / 1048576 | round) MB): \(.export.seconds) s, \(.export.messages_per_s) messages/s; server VmHWM \(.export.rss_before_kb) kB before, \(.export.rss_peak_kb) kB after (+\(.export.rss_growth_kb) kB)",
      (if .archive_cost then "  post_message with ARCHIVE=on: \(.archive_cost.post_message_on_vs_off * 100 | round) % of its req/s with ARCHIVE=off" else empty end)' "$JSON_OUT"
  jq -r '.live // empty | "live: \(.ready) of \(.streams) event streams connected in \(.connect_ms) ms; \(.rate) posts/s: \(.events) of \(.expected) events, post 200 -> event p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, max \(.max_ms) ms",
      "  server RSS \(.rss_idle_kb) kB idle, \(.rss_streams_kb) kB with the streams; post_message \(.post_rps_with) req/s with them connected vs \(.post_rps_without) without (x\(.post_rps_ratio))"' "$JSON_OUT"
  jq -r '.import | "import-redis: \(.rooms) rooms, \(.messages) messages in \(.seconds) s (\(.rooms_per_s) rooms/s, \(.messages_per_s) messages/s)"' "$JSON_OUT"
  echo
  echo "Notifications queued but not yet delivered when the load stopped (the dispatcher's backlog):"
  for r in "${ROUTES[@]}"; do
    jq -r --arg r "$r" 'select(.outbox_pending_at_end > 0)
      | "  \($r): \(.outbox_pending_at_end) for \(.requests) requests, delivered \(.outbox_drain_s // "not") s after the load stopped"' \
      "$WORK/json/route-$r.json"
  done
  if ((DURATION >= 120)); then
    echo
    echo "RSS growth (highest VmRSS in the first / last minute of the run):"
    for r in "${ROUTES[@]}"; do
      jq -r --arg r "$r" '"  \($r): \(.rss_first_min_kb) kB -> \(.rss_last_min_kb) kB (\(.rss_last_min_kb - .rss_first_min_kb) kB)"' \
        "$WORK/json/route-$r.json"
    done
  fi
  if [[ $SCALE == full ]]; then
    echo
    echo "Scale (req/s; per-request cost relative to the smallest scale):"
    jq -r '.scale as $s | ["get_room", "post_message"][] as $r
           | "  \($r): " + ([$s.rooms | to_entries | sort_by(.key | tonumber)[] | "\(.key) rooms \(.value[$r].rps) req/s (p99 \(.value[$r].p99_ms) ms, x\($s.per_request_cost[$r].relative_to_smallest[.key]))"] | join(", "))
             + "; within 20 %: \($s.per_request_cost[$r].within_20pct)"' "$JSON_OUT"
    jq -r '.scale.expiry | "  expiry: \(.deleted) of \(.expired_rooms) expired rooms deleted in \(.job_seconds) s (\(.expired_left) left); post_message meanwhile: \(.during_job.rps) req/s, p50 \(.during_job.p50_ms) ms, p99 \(.during_job.p99_ms) ms, max \(.during_job.max_ms) ms, errors \(.during_job.errors)"' "$JSON_OUT"
  fi
  chart
  echo
  echo "JSON: $JSON_OUT; chart: $SVG_OUT; raw outputs: $LOGS/ ($((SECONDS - T_START)) s)"
  if ((TOTAL_ERRORS > 0)); then
    log "ERRORS: $TOTAL_ERRORS failed requests or transactions (see $LOGS/)"
    exit 1
  fi
}
