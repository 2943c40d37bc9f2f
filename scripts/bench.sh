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
#        BENCH_ROUTES  the routes to measure (default: all of routes.sh's
#                  ROUTES, get_room_nocache and mixed_nocache included)
#        BENCH_CEILINGS  0 skips the ceilings (pgbench, http_ceiling) of each
#                  route: quick A/B runs (a route ROUTE_inline is ROUTE with
#                  HTTP_IO_THREADS=0, the old request model, and ROUTE_ioN
#                  ROUTE with N socket threads, in the same run)
#        BENCH_HISTORY_ROOMS  rooms with 1,000 messages on record (default 1000):
#                  the history route's rooms, and the export's size (x 1,000)
#        BENCH_SCALES, BENCH_EXPIRED  room counts of SCALE=full (default
#                  "1000 10000 100000" and 100000; smaller ones to try the script)
# The machine should be otherwise idle: the script measures how busy it was
# just before starting and warns (settings.machine_busy_before_pct).
#
# For each route (get_room, post_message, post_message_noarchive (the same
# with ARCHIVE=off), create_room, mixed = 80 % get_room + 20 % post_message,
# history = the newest page of 50 of a room with 1,000 messages on record)
# it measures, with wrk -t2 -c32 and the Lua scripts of
# tests/bench/, the requests/s, p50 and p99 latency, errors and the server's
# peak RSS; then the same route's two ceilings:
#   - database: pgbench -M prepared -c 32 -j 2 sending the very statements the
#     service sends for that route, made from the sql/ files at run time;
#   - HTTP: wrk against tests/bench/http_ceiling.c (libmicrohttpd configured
#     as src/http.c, answering a fixed body of the size of the real answer).
# Then the record: its size per million messages, and a streamed export of
# the 1,000,000 messages of the history rooms (time, the server's peak RSS);
# and import-redis of 10,000 rooms of 100 messages from a redis-server in
# the original's formats (BENCH_IMPORT_ROOMS).
# Output: a table on stdout, build/bench.json, raw outputs in build/bench/logs/.
#
# Every process started here (server, notifications receiver, ceiling
# server, wrk, samplers, PostgreSQL) is stopped on exit, by its pid.
#
# This file is the run, in order; its parts are in scripts/bench/: lib.sh
# (processes and cleanup, helpers, CPU and RSS sampling), cluster.sh (the
# durable cluster, huge pages), seed.sh and seed.sql (the data), ceilings.sh
# (pgbench scripts from sql/, the HTTP ceiling), routes.sh (the server, wrk,
# one route end to end), record.sh (the record's size, an export),
# import.sh (import-redis timed),
# scale.sh (SCALE=full), report.sh (JSON, table).
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

BENCH=$ROOT/scripts/bench
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
# shellcheck source=bench/seed.sh
source "$BENCH/seed.sh"
# shellcheck source=bench/ceilings.sh
source "$BENCH/ceilings.sh"
# shellcheck source=bench/routes.sh
source "$BENCH/routes.sh"
# shellcheck source=bench/cluster.sh
source "$BENCH/cluster.sh"
# shellcheck source=bench/scale.sh
source "$BENCH/scale.sh"
# shellcheck source=bench/record.sh
source "$BENCH/record.sh"
# shellcheck source=bench/import.sh
source "$BENCH/import.sh"
source "$BENCH/live.sh"
# shellcheck source=bench/report.sh
source "$BENCH/report.sh"
source "$BENCH/chart.sh"

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
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$OUT/live_load" tests/bench/live_load.c


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

start_cluster

# The notifications receiver: http_ceiling answering 200 with no body.
RECV_PORT=$(free_port)
"$OUT/http_ceiling" "$RECV_PORT" 0 2>>"$LOGS/receiver.log" &
RECV_PID=$!
track "$RECV_PID"
wait_http "$RECV_PORT" / "$RECV_PID" "$LOGS/receiver.log"
SERVER_PID=0

reseed "$ROOMS"
MAIN_SEED_SECONDS=$SEED_SECONDS
log "== point-lookup ceiling (pgbench -S, $WRK_CONNS and $BENCH_HTTP_THREADS clients)"
point_ceiling
log "   $POINT_RPS tx/s with $WRK_CONNS clients, $POINT_POOL_RPS with $BENCH_HTTP_THREADS"
for r in "${ROUTES[@]}"; do measure_route "$r"; done
measure_record
measure_import
measure_live

run_scale
report
