# scripts/bench/record.sh: the record's own figures: its size on disk per
# million messages, and a streamed export of HISTORY_ROOMS x 1,000 messages
# (1,000,000 with the default 10,000 rooms) with its time and the server's
# peak RSS.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

# measure_record: writes $WORK/json/record.json.
measure_record() {
  local rows bytes expect url out lines status size secs hwm_before hwm_after sampler
  # Size first, before the export's own audit row: every partition of the
  # record with its indexes and TOAST, per million messages.
  rows=$(sql_value 'SELECT count(*) FROM message_archive')
  bytes=$(sql_value "SELECT sum(pg_total_relation_size(inhrelid))
                       FROM pg_inherits WHERE inhparent = 'message_archive'::regclass")
  expect=$((HISTORY_ROOMS * 1000))
  log "== export of the record stored before $EXPORT_UNTIL ($expect messages expected, NDJSON)"
  start_server
  hwm_before=$(proc_status_kb "$SERVER_PID" VmHWM)
  sample_rss "$SERVER_PID" "$LOGS/rss-export.txt" "$RSS_EVERY" &
  sampler=$!
  track "$sampler"
  cpu_mark
  url="http://127.0.0.1:$SERVER_PORT/$PREFIX/auth/bench-secret/archive/export"
  url+="?until=$EXPORT_UNTIL&format=ndjson&actor=bench&reason=measured%20by%20scripts%2Fbench.sh"
  # The body is counted, not kept: one line per message, then curl's own
  # line (status, bytes, seconds) after the body's last newline.
  out=$(curl -sS --max-time 900 -w '%{http_code} %{size_download} %{time_total}\n' "$url" |
          awk '{ last = $0 } END { print NR - 1, last }')
  local cpu
  cpu=$(cpu_since)
  stop_pid "$sampler"
  hwm_after=$(proc_status_kb "$SERVER_PID" VmHWM)
  stop_server
  read -r lines status size secs <<<"$out"
  [[ $status == 200 ]] || die "the export answered '$status' (log: $LOGS/server.log)"
  if ((lines != expect)); then
    log "   ERROR: the export gave $lines messages, not $expect"
    TOTAL_ERRORS=$((TOTAL_ERRORS + 1))
  fi
  log "   $lines messages, $size bytes in ${secs}s; VmHWM $hwm_before kB before, $hwm_after kB after"
  jq -n --argjson rows "$rows" --argjson bytes "$bytes" \
    --argjson export_messages "$lines" --argjson export_expected "$expect" \
    --argjson export_bytes "$size" --argjson export_seconds "$secs" \
    --argjson export_rss_before_kb "$hwm_before" --argjson export_rss_peak_kb "$hwm_after" \
    --argjson export_cpu "$cpu" \
    '{archive: {rows: $rows, bytes: $bytes,
                mb_per_million: ($bytes / $rows * 1000000 / 1048576 | . * 10 | round / 10),
                note: "every partition of message_archive with its indexes and TOAST, measured after the routes ran (the seed and their posts); bench messages are short (about 25 characters of text)"},
      export: {messages: $export_messages, expected: $export_expected, bytes: $export_bytes,
               seconds: $export_seconds,
               messages_per_s: (if $export_seconds > 0 then ($export_messages / $export_seconds | round) else null end),
               rss_before_kb: $export_rss_before_kb, rss_peak_kb: $export_rss_peak_kb,
               rss_growth_kb: ($export_rss_peak_kb - $export_rss_before_kb), cpu: $export_cpu}}' \
    >"$WORK/json/record.json"
}
