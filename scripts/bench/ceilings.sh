# scripts/bench/ceilings.sh: the two ceilings of each route: pgbench on the very statements the
# service sends (made from sql/ at run time), and wrk against the bare
# libmicrohttpd server of tests/bench/http_ceiling.c.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

# --------------------------------------------- pgbench scripts from sql/
# Each pgbench script is the statements the service sends for one request
# of the route, taken from the sql/ files at run time so they cannot drift:
# `--` comment lines dropped, and each $n replaced by a pgbench expression.
# pgbench variables are numbers only, so a room id is built in SQL from the
# random room number :r, e.g. $1 -> ('bench/u' || :r || 'a/u' || :r || 'b');
# with -M prepared, pgbench turns every :var into a parameter, so the
# statements are prepared once per connection, as the service's are. The
# number of replacements must equal the file's parameter count, or we stop.
ROOM_X="('bench/u' || :r || 'a/u' || :r || 'b')"
USER_X="('u' || :r || 'a')"
# The service sends a token's SHA-256 (computed in C); pgbench has only
# numbers, so here PostgreSQL hashes the token text (a microsecond more
# than the service costs it).
TOKEN_X="sha256(convert_to('tok-u' || :r || 'a', 'UTF8'))"
USERS_X="('{u' || :r || 'a,u' || :r || 'b}')"
# The notification data of the message, as the service builds it (a small JSON
# text; notifications are on). A space after each ':' keeps pgbench from
# reading ":1700..." as a variable.
NOTIFY_X="('{\"roomId\": \"bench/u' || :r || 'a/u' || :r || 'b\", \"timestamp\": ' || :ts || ', \"from\": \"u' || :r || 'a\", \"type\": \"text\", \"message\": \"bench\"}')"
# The message's own JSON (messages.json_text), likewise.
MESSAGE_X="('{\"timestamp\": ' || :ts || ', \"from\": \"u' || :r || 'a\", \"type\": \"text\", \"message\": \"bench\"}')"
pgb_statement() { # SQL_FILE REPLACEMENT...
  local file=$ROOT/sql/$1 n i=1 r
  shift
  local -a subst=()
  n=$(grep -v '^[[:space:]]*--' "$file" | grep -oE '\$[0-9]+' | tr -d '$' | sort -n | tail -n1 || true)
  [[ ${n:-0} -eq $# ]] ||
    die "sql/${file##*/} takes ${n:-0} parameters, scripts/bench.sh gives $#: update its pgbench scripts"
  for r in "$@"; do
    subst+=(-e "s#\\\$$i\\b#$r#g")
    i=$((i + 1))
  done
  grep -v '^[[:space:]]*--' "$file" | sed -E "${subst[@]}"
}
make_pgbench_scripts() {
  local d=$WORK/pgbench
  mkdir -p "$d"
  {
    echo '\set r random(1, :rooms)'
    # get_room looks the table token up itself: one statement. After the
    # warm-up the server holds every room's answer (room cache), so what
    # it sends is a read of the version it holds; pgbench has no strings,
    # so the version comes from a subquery here (one more index lookup
    # than the service pays).
    pgb_statement get_room.sql "$ROOM_X" 100 "$TOKEN_X" \
      "(SELECT chat_room_version(created_at, last_seq, edits) FROM rooms WHERE id = $ROOM_X)"
  } >"$d/get_room.sql"
  {
    # The same with no answer held (ROOM_CACHE_BYTES=0, or a room's first
    # read after a post): the room's hundred messages every time.
    echo '\set r random(1, :rooms)'
    pgb_statement get_room.sql "$ROOM_X" 100 "$TOKEN_X" NULL
  } >"$d/get_room_nocache.sql"
  # A returning user's post: the server knows the token's user (token
  # cache) and the post checks the token itself, one statement. (A token
  # the server has not seen yet costs an auth_lookup first.)
  # room, sender, is_secret, store, ts, ts_is_string, type, message, json,
  # max_messages, ttl, notify_data, push, lease_ms (the server's default:
  # NOTIFICATIONS_TIMEOUT_MS 10 s + 5 s; the rows stay queued, pgbench
  # delivers nothing), token, archive (the server's ARCHIVE: on for
  # post_message, off for post_message_noarchive), request id, policies
  # (NULL: the usermeta table, as the benchmark's server has no Redis link)
  local archive name
  for archive in true false; do
    name=post_message
    [[ $archive == true ]] || name=post_message_noarchive
    {
      echo '\set r random(1, :rooms)'
      echo '\set ts random(1600000000000, 1700000000000)'
      pgb_statement post_message.sql "$ROOM_X" "$USER_X" false true ":ts" false "'text'" "'bench'" \
        "$MESSAGE_X" 100 5184000 "$NOTIFY_X" NULL 15000 "$TOKEN_X" "$archive" "'bench'" NULL
    } >"$d/$name.sql"
  done
  {
    # With an Idempotency-Key (a new one per post) and the body's digest.
    echo '\set r random(1, :rooms)'
    echo '\set ts random(1600000000000, 1700000000000)'
    echo '\set k random(1, 1000000000000)'
    pgb_statement post_message_keyed.sql "$ROOM_X" "$USER_X" false true ":ts" false "'text'" \
      "'bench'" "$MESSAGE_X" 100 5184000 "$NOTIFY_X" NULL 15000 "$TOKEN_X" true "'bench'" NULL \
      "('k' || :k)" "sha256(convert_to($MESSAGE_X, 'UTF8'))" 86400
  } >"$d/post_message_idem.sql"
  {
    # The first page of an inbox user's rooms (:rooms is INBOX_USERS here):
    # user, limit, no cursor (activity, id, page time)
    echo '\set r random(1, :rooms)'
    pgb_statement my_rooms.sql "('ib' || :r)" 50 NULL NULL NULL
  } >"$d/my_rooms.sql"
  {
    echo '\set r random(1, :rooms)'
    # The first page of 50 of a history room (:rooms is HISTORY_ROOMS here):
    # room, token, before (none), limit
    pgb_statement history.sql "$ROOM_X" "$TOKEN_X" NULL 50
  } >"$d/history.sql"
  {
    echo '\set r random(1, :rooms)'
    # A returning user (token cache): one statement that checks the token,
    # finds the room and, as the server holds the room's answer after the
    # warm-up (room cache), reads its version instead of its messages; the
    # expiry is written once per 1 % of the TTL only. id, type, users,
    # caller, ttl, policies (the table), messages, token, slack, the version
    # held (a subquery here, as for get_room)
    pgb_statement open_room.sql "$ROOM_X" "'bench'" "$USERS_X" "$USER_X" 5184000 NULL 100 \
      "$TOKEN_X" 51840 \
      "(SELECT chat_room_version(created_at, last_seq, edits) FROM rooms WHERE id = $ROOM_X)"
  } >"$d/create_room.sql"
  local f
  for f in "$d"/*.sql; do cp "$f" "$LOGS/pgbench-${f##*/}"; done
}
# db_ceiling ROUTE CLIENTS: transactions/s of pgbench with CLIENTS
# connections; also P_FAILED. Like the service, pgbench gets WARMUP seconds
# first (new backends fill their caches): it runs WARMUP + DURATION seconds
# reporting every second, and the ceiling is the mean of the reports after
# the warm-up.
db_ceiling() {
  local d=$WORK/pgbench file=$LOGS/pgbench-$1-c$2.txt
  local -a scripts
  case $1 in
    mixed) scripts=(-f "$d/get_room.sql@80" -f "$d/post_message.sql@20") ;;
    *_txpool) scripts=(-f "$d/${1%_txpool}.sql") ;;
    get_room_nocache) scripts=(-f "$d/get_room_nocache.sql") ;;
    mixed_nocache) scripts=(-f "$d/get_room_nocache.sql@80" -f "$d/post_message.sql@20") ;;
    post_message_ratelimit) scripts=(-f "$d/post_message.sql") ;;
    *) scripts=(-f "$d/$1.sql") ;;
  esac
  "$PGBENCH" -M prepared -c "$2" -j "$WRK_THREADS" -T "$((WARMUP + DURATION))" -P 1 -n \
    -D rooms="$(route_rooms "$1")" "${scripts[@]}" "$DB_URL" >"$file" 2>&1 ||
    { tail -n 20 "$file" >&2; die "pgbench failed (see $file)"; }
  P_TPS=$(awk -v w="$WARMUP" '$1 == "progress:" && $2 + 0 > w { sum += $4; n++ }
                             END { if (n) printf "%.1f", sum / n }' "$file")
  P_FAILED=$(awk -F'[: ]+' '/^number of failed transactions/ { print $5; exit }' "$file")
  P_FAILED=${P_FAILED:-0}
  [[ -n $P_TPS ]] || die "no progress reports in $file"
  # pgbench has no dispatcher: drop the notifications it queued, or the next
  # server start would deliver them all during its measurement.
  sql -c 'TRUNCATE notification_outbox'
}
# http_ceiling ROUTE SCRIPT GET_BYTES POST_BYTES: requests/s of wrk against
# http_ceiling, with the route's own wrk script (same requests, same bodies).
http_ceiling() {
  local port pid
  port=$(free_port)
  "$OUT/http_ceiling" "$port" "$3" "$4" 2>>"$LOGS/http_ceiling.log" &
  pid=$!
  track "$pid"
  wait_http "$port" / "$pid" "$LOGS/http_ceiling.log"
  run_wrk "ceiling-$1" "$2" "$port" "$DURATION" "$(route_rooms "$1")"
  H_RPS=$W_RPS
  H_ERRORS=$W_ERRORS
  stop_pid "$pid"
}


# point_ceiling: pgbench -S (one primary-key lookup per transaction on
# pgbench's own 100,000-row table, prepared) with wrk's clients and with the
# server's pool: the most any request that must ask PostgreSQL once can
# reach on this machine, measured once per run and set next to every route
# (POINT_RPS, POINT_POOL_RPS). Its tables are dropped afterwards.
point_ceiling() {
  local c file tps=()
  "$PGBENCH" -i -s 1 -q -n "$DB_URL" >"$LOGS/pgbench-point-init.txt" 2>&1 ||
    { tail -n 20 "$LOGS/pgbench-point-init.txt" >&2; die "pgbench -i failed"; }
  for c in "$WRK_CONNS" "$BENCH_HTTP_THREADS"; do
    file=$LOGS/pgbench-point-c$c.txt
    "$PGBENCH" -S -M prepared -c "$c" -j "$WRK_THREADS" -T "$((WARMUP + DURATION))" -P 1 -n \
      "$DB_URL" >"$file" 2>&1 || { tail -n 20 "$file" >&2; die "pgbench -S failed (see $file)"; }
    tps+=("$(awk -v w="$WARMUP" '$1 == "progress:" && $2 + 0 > w { sum += $4; n++ }
                                END { if (n) printf "%.1f", sum / n }' "$file")")
  done
  POINT_RPS=${tps[0]}
  POINT_POOL_RPS=${tps[1]}
  [[ -n $POINT_RPS && -n $POINT_POOL_RPS ]] || die "no progress reports from pgbench -S"
  sql -c 'DROP TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history'
}
