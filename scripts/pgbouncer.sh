#!/usr/bin/env bash
# A private pgbouncer (Debian's package) in front of a cluster made by
# scripts/pg.sh, for the integration tests: one folder, its own port on
# 127.0.0.1, two pools to the same database:
#   chat_session      pool_mode = session
#   chat_transaction  pool_mode = transaction
# No `ignore_startup_parameters = options`: the service must connect without
# startup options, as it would to a stock pgbouncer.
#
# Usage: scripts/pgbouncer.sh start DIR PG_PORT | stop DIR | url DIR session|transaction
# As root, pgbouncer (which refuses to run as root) runs as `postgres`.
# stdout carries only the answer of `url`.
set -euo pipefail

die() { echo "pgbouncer.sh: $*" >&2; exit 1; }
usage() { sed -n '10p' "$0" | sed 's/^# //' >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -ge 2 ]] || usage
CMD=$1
DIR=$2

as_bouncer() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

cmd_start() {
  local pg_port=$1 port i
  command -v pgbouncer >/dev/null || PATH=$PATH:/usr/sbin
  command -v pgbouncer >/dev/null ||
    die "pgbouncer is not installed: scripts/deps.sh test (apt-get install pgbouncer)"
  port=$("$ROOT/scripts/pg.sh" free-port)
  mkdir -p "$DIR"
  cat >"$DIR/pgbouncer.ini" <<EOF
[databases]
chat_session = host=127.0.0.1 port=$pg_port dbname=chat pool_mode=session
chat_transaction = host=127.0.0.1 port=$pg_port dbname=chat pool_mode=transaction

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
admin_users = postgres
pool_mode = session
max_client_conn = 1000
default_pool_size = 100
max_db_connections = 150
server_reset_query = DISCARD ALL
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
EOF
  echo '"postgres" ""' >"$DIR/userlist.txt"
  echo "$port" >"$DIR/port"
  if [[ $EUID -eq 0 ]]; then
    chown -R postgres: "$DIR"
  fi
  as_bouncer pgbouncer -d "$DIR/pgbouncer.ini" >/dev/null 2>>"$DIR/start.err" ||
    { cat "$DIR/start.err" >&2; die "pgbouncer did not start"; }
  for i in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "pgbouncer.sh: running on 127.0.0.1:$port" >&2; return; }
    sleep 0.05
  done
  die "pgbouncer does not listen on $port (log: $DIR/pgbouncer.log)"
}

cmd_stop() {
  local pid
  [[ -r $DIR/pgbouncer.pid ]] || return 0
  pid=$(cat "$DIR/pgbouncer.pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case $CMD in
  start) [[ $# -eq 3 ]] || usage; cmd_start "$3" ;;
  stop)  cmd_stop ;;
  url)   [[ $# -eq 3 && ( $3 == session || $3 == transaction ) ]] || usage
         echo "postgresql://postgres@127.0.0.1:$(cat "$DIR/port")/chat_$3" ;;
  *)     usage ;;
esac
