#!/usr/bin/env bash
# The ganomede-chat load test, with its two ceilings, on a throwaway
# PostgreSQL cluster that is removed afterwards whatever happens.
#
# Usage: scripts/bench.sh            (or `make bench`)
# Env:   DURATION  seconds per measurement (default 15)
#        SCALE     `full` adds 1k/10k/100k-room runs and the expiry job
#                  under load (several more minutes)
#        BENCH_ROOMS   rooms of the main runs (default 10000)
#        BENCH_WARMUP  seconds of discarded load after each server start (default 2)
#        BENCH_ROUTES  the routes to measure (default "get_room post_message create_room mixed")
#        BENCH_SCALES, BENCH_EXPIRED  room counts of SCALE=full (default
#                  "1000 10000 100000" and 100000; smaller ones to try the script)
# The machine should be otherwise idle: the script measures how busy it was
# just before starting and warns (settings.machine_busy_before_pct).
#
# For each route (get_room, post_message, create_room, mixed = 80 % get_room
# + 20 % post_message) it measures, with wrk -t2 -c32 and the Lua scripts of
# tests/bench/, the requests/s, p50 and p99 latency, errors and the server's
# peak RSS; then the same route's two ceilings:
#   - database: pgbench -M prepared -c 32 -j 2 sending the very statements the
#     service sends for that route, made from the sql/ files at run time;
#   - HTTP: wrk against tests/bench/http_ceiling.c (libmicrohttpd configured
#     as src/http.c, answering a fixed body of the size of the real answer).
# Output: a table on stdout, build/bench.json, raw outputs in build/bench/logs/.
#
# Every process started here (server, notifications receiver, ceiling
# server, wrk, samplers, PostgreSQL) is stopped on exit, by its pid.
# Loopback only. The settings suit any core count (the machine has 2).
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-15}
SCALE=${SCALE:-}
ROOMS=${BENCH_ROOMS:-10000}
WARMUP=${BENCH_WARMUP:-2}
WRK_THREADS=2
WRK_CONNS=32
PREFIX=chat/v1
BIN=$ROOT/build/ganomede-chat
OUT=$ROOT/build/bench          # the ceiling binary and logs/
LOGS=$OUT/logs
JSON_OUT=$ROOT/build/bench.json
PG=$ROOT/scripts/pg.sh

log() { printf 'bench.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for v in DURATION ROOMS WARMUP; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ -z $SCALE || $SCALE == full ]] || die "SCALE must be empty or 'full' (got '$SCALE')"

# ---------------------------------------------------------------- packages
# Build and database packages (and wrk, deps.sh's `bench` group) through
# deps.sh: as root it installs what is missing, otherwise it prints the
# apt-get line and fails. jq (which writes build/bench.json) the same way.
"$ROOT/scripts/deps.sh" build db bench
if ! command -v jq >/dev/null; then
  if [[ $EUID -ne 0 ]]; then
    log "missing Debian packages; install them with:"
    log "  sudo apt-get install -y --no-install-recommends jq"
    exit 1
  fi
  log "installing jq"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends jq </dev/null >&2 ||
    { apt-get update -q >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends jq </dev/null >&2; }
fi
# pgbench and psql of the newest installed PostgreSQL (as scripts/pg.sh picks its server).
PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n1 || true)
if [[ -z $PG_BIN || ! -x $PG_BIN/pgbench ]]; then
  log "pgbench not found (/usr/lib/postgresql/*/bin/pgbench); install it with:"
  log "  sudo apt-get install -y --no-install-recommends postgresql"
  exit 1
fi
PGBENCH=$PG_BIN/pgbench
PSQL=$PG_BIN/psql

# ------------------------------------------------------------------- build
"${MAKE:-make}" -s all
mkdir -p "$OUT"
rm -rf "$LOGS"
mkdir -p "$LOGS"
# shellcheck disable=SC2046  # pkg-config's words are meant to split
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$OUT/http_ceiling" \
  tests/bench/http_ceiling.c $(pkg-config --cflags --libs libmicrohttpd)

# ----------------------------------------------------------------- cleanup
PIDS=()       # what we started and have not stopped yet
WORK=""
track() { PIDS+=("$1"); }
untrack() {
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}
# Stop one of our children: TERM, up to 10 s, then KILL; then reap it.
stop_pid() {
  local pid=$1 i
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
  untrack "$pid"
}
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  local rc=$? i
  set +e
  trap - INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [[ -n $WORK ]]; then
    [[ ! -e $WORK/pg/log ]] || cp "$WORK/pg/log" "$LOGS/postgresql.log" 2>/dev/null
    "$PG" destroy "$WORK/pg" || log "could not remove the cluster in $WORK/pg"
    rm -rf -- "$WORK"
  fi
  release_huge_pages
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ----------------------------------------------------------------- helpers
# Below Linux's ephemeral range, so wrk's and pgbench's outgoing connections never take it.
free_port() { "$PG" free-port; }
# wait_http PORT PATH PID LOGFILE: until GET answers 200, or PID dies, or 15 s.
wait_http() {
  local i
  for i in $(seq 150); do
    if curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$1$2"; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then
      tail -n 20 "$4" >&2 || true
      die "process $3 died before answering on port $1 (log: $4)"
    fi
    sleep 0.1
  done
  die "nothing answered on 127.0.0.1:$1$2 within 15 s (log: $4)"
}
fmt() { awk -v x="$1" -v d="$2" 'BEGIN { printf "%.*f", d, x }'; }
div() { awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN { if (b == 0) print "null"; else printf "%.*f", d, a / b }'; }

sql() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB_URL" "$@"; }
sql_value() { sql -tA -c "$1"; }

# ---------------------------------------------------------- CPU accounting
# Ticks (utime + stime) of one process, of PostgreSQL (the postmaster and
# every child: backends, walwriter, checkpointer...), and of the machine.
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
pid_ticks() {
  local line rest f
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || { echo 0; return; }
  rest=${line##*) }
  read -ra f <<<"$rest"
  echo $((f[11] + f[12]))
}
pg_ticks() {
  local sum=0 d line rest f
  for d in /proc/[0-9]*; do
    { read -r line <"$d/stat"; } 2>/dev/null || continue
    rest=${line##*) }
    read -ra f <<<"$rest"
    if [[ ${d#/proc/} == "$POSTMASTER_PID" || ${f[1]} == "$POSTMASTER_PID" ]]; then
      sum=$((sum + f[11] + f[12]))
    fi
  done
  echo "$sum"
}
# busy and idle (idle + iowait) ticks of all CPUs together
machine_ticks() {
  local _cpu u n s idle iow irq sirq steal
  read -r _cpu u n s idle iow irq sirq steal _ </proc/stat
  echo "$((u + n + s + irq + sirq + steal)) $((idle + iow)) $iow"
}
# cpu_mark: remember the counters; cpu_since: percentages of ONE core (as
# top shows them; the machine has NCPU*100 %) since cpu_mark, as JSON.
cpu_mark() {
  CPU_T0=${EPOCHREALTIME/./}
  CPU_SRV0=$(pid_ticks "$SERVER_PID")
  CPU_RECV0=$(pid_ticks "$RECV_PID")
  CPU_PG0=$(pg_ticks)
  read -r CPU_BUSY0 CPU_IDLE0 CPU_IOW0 < <(machine_ticks)
}
cpu_since() {
  local t1 srv recv pg busy idle iow secs
  t1=${EPOCHREALTIME/./}
  srv=$(($(pid_ticks "$SERVER_PID") - CPU_SRV0))
  recv=$(($(pid_ticks "$RECV_PID") - CPU_RECV0))
  pg=$(($(pg_ticks) - CPU_PG0))
  read -r busy idle iow < <(machine_ticks)
  busy=$((busy - CPU_BUSY0)); idle=$((idle - CPU_IDLE0)); iow=$((iow - CPU_IOW0))
  secs=$(awk -v a="$CPU_T0" -v b="$t1" 'BEGIN { print (b - a) / 1e6 }')
  awk -v srv="$srv" -v recv="$recv" -v pg="$pg" -v busy="$busy" -v idle="$idle" -v iow="$iow" \
      -v hz="$CLK_TCK" -v s="$secs" 'BEGIN {
        k = 100 / hz / s
        printf "{\"server_pct\":%.0f,\"postgres_pct\":%.0f,\"receiver_pct\":%.0f,\"other_pct\":%.0f,\"idle_pct\":%.0f,\"iowait_pct\":%.0f}",
               srv * k, pg * k, recv * k, (busy - srv - pg - recv) * k, idle * k, iow * k }'
}

# ------------------------------------------------------------- RSS samples
# sample_rss PID FILE INTERVAL: "<ms since start> <VmRSS kB>" lines until PID ends
# (or until stopped). In the background.
sample_rss() {
  local pid=$1 file=$2 every=$3 t0 now k v _rest
  t0=${EPOCHREALTIME/./}
  : >"$file"
  while [[ -r /proc/$pid/status ]]; do
    now=${EPOCHREALTIME/./}
    { while read -r k v _rest; do
        if [[ $k == VmRSS: ]]; then
          echo "$(((now - t0) / 1000)) $v" >>"$file"
          break
        fi
      done <"/proc/$pid/status"; } 2>/dev/null || break
    sleep "$every"
  done
}
proc_status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# --------------------------------------------------------------- the data
# Rooms bench/<L><i>a/<L><i>b (i = 1..N) of type bench, users <L><i>a and
# <L><i>b, live for 60 days, each with 100 messages (numeric timestamps,
# last_seq 100); with TOKENS=1 one auth_tokens row per user, token
# tok-<user>, never expiring. Set-based (generate_series): ~1 s per 1,000 rooms.
# Messages go in seq-major order (message 1 of every room, then message 2...)
# as a live service writes them, so a room's messages are spread over many
# pages rather than packed together, which would flatter get_room. Each has
# its json_text, as the server stores it.
seed() { # LETTER N TOKENS
  sql -v l="$1" -v n="$2" -v tokens="$3" <<'SQL'
BEGIN;
INSERT INTO rooms (id, type, last_seq, expires_at)
SELECT 'bench/' || :'l' || i || 'a/' || :'l' || i || 'b', 'bench', 100, now() + interval '60 days'
  FROM generate_series(1, :n) AS i;
INSERT INTO room_users (room_id, username)
SELECT 'bench/' || :'l' || i || 'a/' || :'l' || i || 'b', :'l' || i || s
  FROM generate_series(1, :n) AS i, (VALUES ('a'), ('b')) AS v(s);
INSERT INTO messages (room_id, seq, ts, ts_is_string, sender, type, message, json_text)
SELECT room, k, ts, false, sender, 'text', message,
       '{"timestamp":' || ts || ',"from":' || to_json(sender) || ',"type":"text","message":'
         || to_json(message) || '}'
  FROM generate_series(0, :n * 100 - 1) AS g,
       LATERAL (SELECT g / :n + 1 AS k, g % :n + 1 AS i) AS x,
       LATERAL (SELECT 'bench/' || :'l' || i || 'a/' || :'l' || i || 'b' AS room,
                       (1700000000000 + k * 1000)::text AS ts,
                       :'l' || i || CASE WHEN k % 2 = 0 THEN 'a' ELSE 'b' END AS sender,
                       'bench message number ' || k AS message) AS v;
\if :tokens
INSERT INTO auth_tokens (token, username, expires_at)
SELECT 'tok-' || :'l' || i || s, :'l' || i || s, NULL
  FROM generate_series(1, :n) AS i, (VALUES ('a'), ('b')) AS v(s);
\endif
COMMIT;
SQL
}
settle() { sql -c 'VACUUM ANALYZE' && sql -c 'CHECKPOINT'; }
# reseed N [EXPIRED_N]: empty every table, seed N live rooms with tokens and,
# when EXPIRED_N, that many more rooms (users e<i>a/e<i>b) already expired.
reseed() {
  local t0=$SECONDS
  sql -c 'TRUNCATE rooms, room_users, messages, auth_tokens, notification_outbox'
  log "seeding $1 rooms of 100 messages${2:+ and $2 expired ones}"
  seed u "$1" 1
  if [[ -n ${2:-} ]]; then
    seed e "$2" 0
    sql -c "UPDATE rooms SET expires_at = now() - interval '1 s' WHERE id LIKE 'bench/e%'"
  fi
  settle
  SEED_SECONDS=$((SECONDS - t0))
  log "seeded in ${SEED_SECONDS}s"
}

# ------------------------------------------------------ the servers we run
start_server() {
  SERVER_PORT=$(free_port)
  # LOG_LEVEL=warn: with the default (info) every request writes a JSON log
  # line, which would be measured along with the service.
  PORT=$SERVER_PORT DATABASE_URL=$DB_URL API_SECRET=bench-secret \
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
# Accept-Encoding), for the HTTP ceiling; room ROOMS/2 with its own token.
answer_bytes() { # get|post|create
  local n=$((ROOMS / 2))
  local base="http://127.0.0.1:$SERVER_PORT/$PREFIX/auth/tok-u${n}a"
  local room="bench%2Fu${n}a%2Fu${n}b" out
  case $1 in
    get) out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "$base/rooms/$room") ;;
    post) out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' -H 'Content-Type: application/json' \
                  -d '{"timestamp":1700000000000,"type":"text","message":"bench"}' "$base/rooms/$room/messages") ;;
    create) out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' -H 'Content-Type: application/json' \
                    -d "{\"type\":\"bench\",\"users\":[\"u${n}a\",\"u${n}b\"]}" "$base/rooms") ;;
  esac
  [[ ${out%% *} == 200 ]] || die "the $1 answer was '$out', not 200 (log: $LOGS/server.log)"
  echo "${out#* }"
}

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
    # get_room looks the table token up itself: one statement
    pgb_statement get_room.sql "$ROOM_X" 100 "$TOKEN_X"
  } >"$d/get_room.sql"
  {
    echo '\set r random(1, :rooms)'
    echo '\set ts random(1600000000000, 1700000000000)'
    # A returning user's post: the server knows the token's user (token
    # cache) and the post checks the token itself, one statement. (A token
    # the server has not seen yet costs an auth_lookup first.)
    # room, sender, is_secret, store, ts, ts_is_string, type, message, json,
    # max_messages, ttl, notify_data, push, lease_ms (the server's default:
    # NOTIFICATIONS_TIMEOUT_MS 10 s + 5 s; the rows stay queued, pgbench
    # delivers nothing), token
    pgb_statement post_message.sql "$ROOM_X" "$USER_X" false true ":ts" false "'text'" "'bench'" \
      "$MESSAGE_X" 100 5184000 "$NOTIFY_X" NULL 15000 "$TOKEN_X"
  } >"$d/post_message.sql"
  {
    echo '\set r random(1, :rooms)'
    pgb_statement auth_lookup.sql "$TOKEN_X"
    # id, type, users, caller, ttl; the room exists, so the service then reads it
    pgb_statement create_room.sql "$ROOM_X" "'bench'" "$USERS_X" "$USER_X" 5184000
    pgb_statement get_room.sql "$ROOM_X" 100 NULL
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
    *) scripts=(-f "$d/$1.sql") ;;
  esac
  "$PGBENCH" -M prepared -c "$2" -j "$WRK_THREADS" -T "$((WARMUP + DURATION))" -P 1 -n \
    -D rooms="$ROOMS" "${scripts[@]}" "$DB_URL" >"$file" 2>&1 ||
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
  run_wrk "ceiling-$1" "$2" "$port" "$DURATION" "$ROOMS"
  H_RPS=$W_RPS
  H_ERRORS=$W_ERRORS
  stop_pid "$pid"
}

# ------------------------------------------------- one route, end to end
# Server restarted per route, so VmHWM (read just before it stops) is that
# route's own peak RSS (the warmup included). VmRSS is also sampled in the
# background (every 0.5 s; every 1 s when DURATION >= 120) during the
# measured run, for growth: the first and the last minute of long runs.
RSS_EVERY=0.5
OUTBOX_DRAIN_MAX=120
((DURATION < 120)) || RSS_EVERY=1
measure_service() { # TAG SCRIPT ROOMS -> S_* and logs
  local tag=$1 script=$2 rooms=$3 sampler top_pid rss_file=$LOGS/rss-$1.txt
  start_server
  run_wrk "warmup-$tag" "$script" "$SERVER_PORT" "$WARMUP" "$rooms"
  sample_rss "$SERVER_PID" "$rss_file" "$RSS_EVERY" &
  sampler=$!
  track "$sampler"
  # One top snapshot per run, half-way (second frame: a 1 s average).
  (sleep $((DURATION / 2)) && command -v top >/dev/null &&
     top -b -n 2 -d 1 -w 200 | awk '/^top -/ { n++ } n == 2' | head -n 30 >"$LOGS/top-$tag.txt") &
  top_pid=$!
  track "$top_pid"
  cpu_mark
  run_wrk "$tag" "$script" "$SERVER_PORT" "$DURATION" "$rooms"
  S_CPU=$(cpu_since)
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

declare -A ROUTE_SCRIPT=([get_room]=get_room [post_message]=post_message [create_room]=create_room [mixed]=mixed)
read -ra ROUTES <<<"${BENCH_ROUTES:-get_room post_message create_room mixed}"
TOTAL_ERRORS=0

measure_route() { # ROUTE -> $WORK/json/route-ROUTE.json
  local r=$1
  log "== $r: service (${DURATION}s after ${WARMUP}s warmup)"
  start_server_sizes "$r"
  stop_server
  measure_service "$r" "${ROUTE_SCRIPT[$r]}" "$ROOMS"
  stop_server
  log "   $S_RPS req/s, p50 $S_P50 ms, p99 $S_P99 ms, errors $S_ERRORS, VmHWM $S_HWM kB, cpu $S_CPU"
  [[ $S_OUTBOX == 0 ]] || log "   notifications queued at the end: $S_OUTBOX, delivered in ${S_OUTBOX_DRAIN}s"
  local pool_tps="" pool_failed=0
  if ((BENCH_HTTP_THREADS != WRK_CONNS)); then
    log "== $r: database ceiling (pgbench, $BENCH_HTTP_THREADS clients as the server's pool)"
    db_ceiling "$r" "$BENCH_HTTP_THREADS"
    log "   $P_TPS tx/s"
    pool_tps=$P_TPS pool_failed=$P_FAILED
  fi
  log "== $r: database ceiling (pgbench, $WRK_CONNS clients as wrk's connections)"
  db_ceiling "$r" "$WRK_CONNS"
  log "   $P_TPS tx/s"
  pool_tps=${pool_tps:-$P_TPS}
  log "== $r: HTTP ceiling (http_ceiling, GET $SIZE_GET B, POST $SIZE_POST B)"
  http_ceiling "$r" "${ROUTE_SCRIPT[$r]}" "$SIZE_GET" "$SIZE_POST"
  log "   $H_RPS req/s"
  TOTAL_ERRORS=$((TOTAL_ERRORS + S_ERRORS + H_ERRORS + P_FAILED + pool_failed))
  jq -n --argjson rps "$S_RPS" --argjson p50_ms "$S_P50" --argjson p99_ms "$S_P99" \
    --argjson max_ms "$S_MAX" --argjson requests "$S_REQUESTS" \
    --argjson errors "$S_ERRORS" --argjson non_2xx "$S_NON2XX" --argjson socket_errors "$S_SOCKET" \
    --argjson rss_kb "$S_HWM" --argjson rss_end_kb "$S_RSS_END" --argjson rss_sampled_max_kb "$S_RSS_SAMPLED" \
    --argjson rss_first_min_kb "$S_RSS_FIRST" --argjson rss_last_min_kb "$S_RSS_LAST" \
    --argjson db_ceiling_rps "$P_TPS" --argjson db_ceiling_failed "$P_FAILED" \
    --argjson db_ceiling_pool_rps "$pool_tps" --argjson ratio_db_pool "$(div "$S_RPS" "$pool_tps" 3)" \
    --argjson http_ceiling_rps "$H_RPS" --argjson http_ceiling_errors "$H_ERRORS" \
    --argjson answer_bytes "$SIZE_GET" --argjson answer_bytes_post "$SIZE_POST" \
    --argjson ratio_db "$(div "$S_RPS" "$P_TPS" 3)" --argjson ratio_http "$(div "$S_RPS" "$H_RPS" 3)" \
    --argjson cpu "$S_CPU" \
    --argjson outbox_pending_at_end "$S_OUTBOX" --argjson outbox_drain_s "$S_OUTBOX_DRAIN" \
    --argjson outbox_failed "$S_OUTBOX_FAILED" \
    '$ARGS.named
     | .cpu += {server_us_per_req: (if .rps > 0 then (.cpu.server_pct * 10000 / .rps | round) else null end),
                postgres_us_per_req: (if .rps > 0 then (.cpu.postgres_pct * 10000 / .rps | round) else null end)}' \
    >"$WORK/json/route-$r.json"
}
# The answer sizes of the route (for its HTTP ceiling), on a fresh server.
start_server_sizes() {
  start_server
  case $1 in
    get_room) SIZE_GET=$(answer_bytes get); SIZE_POST=$SIZE_GET ;;
    post_message) SIZE_GET=$(answer_bytes post); SIZE_POST=$SIZE_GET ;;
    create_room) SIZE_GET=$(answer_bytes create); SIZE_POST=$SIZE_GET ;;
    mixed) SIZE_GET=$(answer_bytes get); SIZE_POST=$(answer_bytes post) ;;
  esac
}

# --------------------------------------------------------------- huge pages
# With 4 GB of shared_buffers in 4 kB pages, every new PostgreSQL backend
# takes a page fault for each shared page it touches first: measured on this
# kind of VM, a fresh pgbench at 32 clients ramped from 570 to 3,100 get_room
# transactions/s over 20 s, so a 15 s ceiling measured mostly the faults.
# With 2 MB huge pages (what a production server with large shared_buffers
# uses anyway) the same run starts at full speed. As root we reserve exactly
# what PostgreSQL asks for (shared_memory_size_in_huge_pages) and give the
# pages back on exit; otherwise huge_pages=try and a warning.
HUGE_PAGES_OLD=""
HUGE_PAGES=off
reserve_huge_pages() { # CLUSTER_DIR
  local want have owner
  if [[ $EUID -eq 0 && -w /proc/sys/vm/nr_hugepages ]]; then
    owner=$(stat -c %U "$1")
    want=$(cd / && runuser -u "$owner" -- "$PG_BIN/postgres" -D "$1" -C shared_memory_size_in_huge_pages 2>/dev/null || true)
    if [[ $want =~ ^[0-9]+$ ]]; then
      HUGE_PAGES_OLD=$(cat /proc/sys/vm/nr_hugepages)
      echo $((HUGE_PAGES_OLD + want)) >/proc/sys/vm/nr_hugepages 2>/dev/null || true
      have=$(cat /proc/sys/vm/nr_hugepages)
      if ((have >= HUGE_PAGES_OLD + want)); then
        HUGE_PAGES=on
      else
        echo "$HUGE_PAGES_OLD" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
        HUGE_PAGES_OLD=""
      fi
    fi
  fi
  if [[ $HUGE_PAGES == on ]]; then
    log "reserved $want huge pages of 2 MB for shared_buffers"
    echo "huge_pages = on                 # reserved by scripts/bench.sh" >>"$1/postgresql.conf"
  else
    log "WARNING: no huge pages (needs root and vm.nr_hugepages): every new PostgreSQL connection"
    log "         warms up slowly, which lowers the ceilings and the first seconds of each run"
    echo "huge_pages = try" >>"$1/postgresql.conf"
  fi
}
release_huge_pages() {
  [[ -z $HUGE_PAGES_OLD ]] || echo "$HUGE_PAGES_OLD" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
}

# ==================================================================== run
T_START=$SECONDS
# How busy the machine is without us (1 s), in % of one core: anything else
# running (a build, a test suite) takes CPU from the server and PostgreSQL.
read -r b0 i0 _ < <(machine_ticks)
sleep 1
read -r b1 i1 _ < <(machine_ticks)
BUSY_BEFORE=$(awk -v b=$((b1 - b0)) -v i=$((i1 - i0)) -v n="$NCPU" 'BEGIN { printf "%.0f", (b + i) ? 100 * n * b / (b + i) : 0 }')
if ((BUSY_BEFORE > 25)); then
  log "WARNING: the machine is already ${BUSY_BEFORE}% busy (of $((NCPU * 100))%) before the benchmark: results will be low and noisy"
fi
# The server's worker threads (and so its PostgreSQL connections).
BENCH_HTTP_THREADS=${BENCH_HTTP_THREADS:-8}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ganomede-chat-bench.XXXXXX")
mkdir -p "$WORK/json"
chmod 755 "$WORK"   # pg.sh runs PostgreSQL as `postgres` when we are root

# The cluster. PG_DURABLE=1: PostgreSQL's crash-safe defaults (pg.sh would
# otherwise turn fsync and synchronous_commit off for test clusters).
PG_DURABLE=1 "$PG" init "$WORK/pg"
cat >>"$WORK/pg/postgresql.conf" <<'EOF'

# ---- scripts/bench.sh ----
shared_buffers = 4GB            # every data set fits, up to SCALE=full's 100,000 rooms (10M messages, ~3 GB):
                                # size it to the working set in production too (docs/performance.md)
effective_cache_size = 4GB      # planner hint: the OS page cache holds the rest
fsync = on                      # durable, as in production (the default; stated for the reader)
synchronous_commit = on         # every post_message waits for its WAL flush (the default)
full_page_writes = on           # the default
max_connections = 200           # server pool (8) + outbox + pgbench's 32 + psql, with room to spare
max_wal_size = 4GB              # no checkpoint forced by WAL volume during a run...
checkpoint_timeout = 30min      # ...nor by time: we CHECKPOINT after seeding instead, so no
                                # route is measured across a checkpoint and another not
EOF
reserve_huge_pages "$WORK/pg"
"$PG" start "$WORK/pg"
DB_URL=$("$PG" url "$WORK/pg")
POSTMASTER_PID=$(head -n1 "$WORK/pg/postmaster.pid")
DATABASE_URL=$DB_URL LOG_LEVEL=warn "$BIN" migrate
make_pgbench_scripts

# The notifications receiver: http_ceiling answering 200 with no body.
RECV_PORT=$(free_port)
"$OUT/http_ceiling" "$RECV_PORT" 0 2>>"$LOGS/receiver.log" &
RECV_PID=$!
track "$RECV_PID"
wait_http "$RECV_PORT" / "$RECV_PID" "$LOGS/receiver.log"
SERVER_PID=0

reseed "$ROOMS"
MAIN_SEED_SECONDS=$SEED_SECONDS
for r in "${ROUTES[@]}"; do measure_route "$r"; done

# ------------------------------------------------------- SCALE=full runs
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

# ----------------------------------------------------------------- output
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
  '{routes: ($routes | add), scale: $scale, settings: $settings}' >"$JSON_OUT"

echo
echo "ganomede-chat benchmark: $ROOMS rooms x 100 messages, wrk -t$WRK_THREADS -c$WRK_CONNS, ${DURATION}s per measurement, $NCPU cores (${BUSY_BEFORE}% busy before), server LOG_LEVEL=warn"
printf '%-13s %9s %8s %8s %6s %9s %10s %6s %10s %6s %10s %6s\n' \
  route req/s p50_ms p99_ms errors rss_kb db_ceiling "%db" db_pool "%pool" http_ceil "%http"
for r in "${ROUTES[@]}"; do
  jq -r --arg r "$r" '[$r, (.rps | tostring), (.p50_ms | tostring), (.p99_ms | tostring),
      (.errors | tostring), (.rss_kb | tostring), (.db_ceiling_rps | tostring),
      ((.ratio_db * 100 | round | tostring) + "%"), (.db_ceiling_pool_rps | tostring),
      ((.ratio_db_pool * 100 | round | tostring) + "%"), (.http_ceiling_rps | tostring),
      ((.ratio_http * 100 * 10 | round / 10 | tostring) + "%")] | @tsv' "$WORK/json/route-$r.json" |
    awk -F'\t' '{ printf "%-13s %9.0f %8.2f %8.2f %6d %9d %10.0f %6s %10.0f %6s %10.0f %6s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
done
echo "(db_ceiling: pgbench with $WRK_CONNS clients, as the issue defines it; db_pool: with $BENCH_HTTP_THREADS, the server's connections)"
echo
echo "CPU over each measured run, % of one core (machine: $((NCPU * 100))%):"
for r in "${ROUTES[@]}"; do
  jq -r --arg r "$r" '.cpu | "  \($r): server \(.server_pct)  postgres \(.postgres_pct)  receiver \(.receiver_pct)  other (wrk, kernel) \(.other_pct)  idle \(.idle_pct) (iowait \(.iowait_pct)); CPU per request: server \(.server_us_per_req) us, postgres \(.postgres_us_per_req) us"' \
    "$WORK/json/route-$r.json"
done
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
echo
echo "JSON: $JSON_OUT; raw outputs: $LOGS/ ($((SECONDS - T_START)) s)"
if ((TOTAL_ERRORS > 0)); then
  log "ERRORS: $TOTAL_ERRORS failed requests or transactions (see $LOGS/)"
  exit 1
fi
