#!/usr/bin/env bash
# Run one integration test binary against a throwaway PostgreSQL cluster,
# removed afterwards whatever happens (pass, failure, Ctrl-C, kill).
#
# Usage: scripts/test-integration.sh TEST_BINARY [ARGS...]
# The test gets DATABASE_URL, CHAT_BIN (the server to start; default
# build/ganomede-chat, an absolute CHAT_BIN from the caller wins, e.g. a
# sanitizer build), PG_SCRIPT and PG_DIR (to stop/start the cluster, e.g. to
# test reconnection), MIGRATIONS_DIR (the .down.sql files the migrations
# group applies), and PGBOUNCER_SESSION_URL / PGBOUNCER_TRANSACTION_URL: a
# pgbouncer (scripts/pgbouncer.sh) in front of the same database, with a
# session pool and a transaction pool (empty when pgbouncer is missing).
# TEST_WRAPPER="valgrind --error-exitcode=1 ..." is put in front of the test.
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: $0 TEST_BINARY [ARGS...]" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG=$ROOT/scripts/pg.sh

PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ganomede-chat-pg.XXXXXX")
BOUNCER_DIR=$PG_DIR/pgbouncer
child=""

# shellcheck disable=SC2317  # (trap handlers are called indirectly)
cleanup() {
  "$ROOT/scripts/pgbouncer.sh" stop "$BOUNCER_DIR" || true
  "$PG" destroy "$PG_DIR" || echo "test-integration.sh: could not remove $PG_DIR" >&2
}
# The test runs in its own session (setsid), so a signal to us reaches it and
# the servers it started through its whole process group.
# shellcheck disable=SC2317
on_signal() {
  trap - INT TERM
  if [[ -n $child ]]; then
    kill -TERM -- "-$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# Extensions some groups need loaded at start (pgaudit: the token audit);
# a group whose extension is missing skips with a message.
PG_PRELOAD=${PG_PRELOAD:-pgaudit} "$PG" init "$PG_DIR"
"$PG" start "$PG_DIR"

DATABASE_URL=$("$PG" url "$PG_DIR")
CHAT_BIN=${CHAT_BIN:-$ROOT/build/ganomede-chat}
PG_SCRIPT=$PG
MIGRATIONS_DIR=$ROOT/migrations
PGBOUNCER_SESSION_URL="" PGBOUNCER_TRANSACTION_URL=""
if "$ROOT/scripts/pgbouncer.sh" start "$BOUNCER_DIR" "$(cat "$PG_DIR/port")"; then
  PGBOUNCER_SESSION_URL=$("$ROOT/scripts/pgbouncer.sh" url "$BOUNCER_DIR" session)
  PGBOUNCER_TRANSACTION_URL=$("$ROOT/scripts/pgbouncer.sh" url "$BOUNCER_DIR" transaction)
fi
export DATABASE_URL CHAT_BIN PG_SCRIPT PG_DIR MIGRATIONS_DIR PGBOUNCER_SESSION_URL \
  PGBOUNCER_TRANSACTION_URL

read -ra wrapper <<<"${TEST_WRAPPER:-}"
# In the background so that `wait` (unlike a foreground command) returns at
# once when a signal arrives and our traps run while the test still lives.
# Bash starts background commands with SIGINT ignored, which the test and the
# servers it starts would inherit: env gives them the default back.
setsid --wait env --default-signal=INT,QUIT "${wrapper[@]}" "$@" &
child=$!
status=0
wait "$child" || status=$?
# Servers the test left behind would hold ports and connections: end them.
kill -TERM -- "-$child" 2>/dev/null || true
child=""
exit "$status"
