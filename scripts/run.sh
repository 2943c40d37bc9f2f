#!/usr/bin/env bash
# What `make run` calls once build/ganomede-chat is built: find a database,
# migrate it, show how to talk to the server, then become the server.
#
# With DATABASE_URL set, that database is used as is. Without it, a private
# PostgreSQL cluster under .pgdata/ is created on first use and started; it
# keeps running after the server exits (scripts/pg.sh stop .pgdata stops it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=${CHAT_BIN:-$ROOT/build/ganomede-chat}
[[ -x $BIN ]] || { echo "run.sh: $BIN is missing: run 'make run'" >&2; exit 1; }

if [[ -n ${DATABASE_URL:-} ]]; then
  db_note="DATABASE_URL from the environment"
else
  scripts/deps.sh db
  [[ -f .pgdata/port ]] || scripts/pg.sh init .pgdata
  scripts/pg.sh start .pgdata
  DATABASE_URL=$(scripts/pg.sh url .pgdata)
  db_note="$DATABASE_URL (private cluster in .pgdata/; stop it with: scripts/pg.sh stop .pgdata)"
fi
export DATABASE_URL

# The development secret below is public: unless told otherwise, listen on
# this machine only.
export LISTEN_ADDRESS=${LISTEN_ADDRESS-127.0.0.1}
if [[ -n $LISTEN_ADDRESS ]]; then
  listen_note="$LISTEN_ADDRESS only (LISTEN_ADDRESS= serves every interface)"
else
  listen_note="every interface (LISTEN_ADDRESS is empty)"
fi

# A development secret so that the examples below work out of the box; shown
# only when it is ours, never when it came from the environment.
if [[ -z ${API_SECRET:-} ]]; then
  export API_SECRET=dev-secret
  secret=dev-secret
  secret_note="API_SECRET was unset: using the development secret 'dev-secret'"
else
  # shellcheck disable=SC2016  # printed for the reader's shell to expand
  secret='$API_SECRET'
  secret_note="API_SECRET from the environment"
fi

"$BIN" migrate

# Notifications: to the notifications service when its address is set;
# otherwise to the development sink, which prints each one (on stderr,
# beside the server's log). It ends with the server (its parent after exec).
if [[ -z ${NOTIFICATIONS_PORT_8080_TCP_ADDR:-} ]]; then
  sink_port=$(scripts/pg.sh free-port)
  "$BIN" notify-sink --port "$sink_port" ${NOTIFY_SINK_JSON:+--json} &
  export NOTIFICATIONS_PORT_8080_TCP_ADDR=127.0.0.1 NOTIFICATIONS_PORT_8080_TCP_PORT=$sink_port
  notify_note="printed here by the development sink (NOTIFY_SINK_JSON=1: as JSON; set NOTIFICATIONS_PORT_8080_TCP_ADDR to deliver them)"
else
  notify_note="to $NOTIFICATIONS_PORT_8080_TCP_ADDR:${NOTIFICATIONS_PORT_8080_TCP_PORT:-8080}"
fi

base="http://localhost:${PORT:-8000}"
# As the server reads ROUTE_PREFIX: without leading or trailing '/'.
prefix=${ROUTE_PREFIX:-chat/v1}
while [[ $prefix == /* ]]; do prefix=${prefix#/}; done
while [[ $prefix == */ ]]; do prefix=${prefix%/}; done
# To stderr: stdout is the server's JSON log stream.
cat >&2 <<EOF

ganomede-chat on $base/
  database: $db_note
  secret:   $secret_note
  listens:  $listen_note
  notifications: $notify_note
  logs:     JSON lines (bunyan); for people: make run | npx bunyan, or jq -r '.msg'
Try:
  curl $base/$prefix/ping/hello
  curl -X POST -H 'Content-Type: application/json' \\
       -d '{"type":"triominos/v1","users":["alice","bob"]}' \\
       $base/$prefix/auth/$secret/rooms
  curl -X POST -H 'Content-Type: application/json' \\
       -d '{"timestamp":1429084016939,"type":"text","message":"Hey bob!"}' \\
       $base/$prefix/auth/$secret.alice/rooms/triominos%2Fv1%2Falice%2Fbob/messages
  curl $base/$prefix/auth/$secret.bob/rooms/triominos%2Fv1%2Falice%2Fbob
Ctrl-C stops the server.

EOF
exec "$BIN" serve
