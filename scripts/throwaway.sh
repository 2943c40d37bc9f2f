# scripts/throwaway.sh: one server on a throwaway PostgreSQL, for the
# scripts that check a page against a running service (tutorial.sh,
# console-test.sh). Sourced, not run; uses $ROOT and say() of its caller.
#
# throwaway_cluster NAME: WORK (a fresh folder), a cluster in it started,
#   DB_URL and a free PORT; on exit the server whose pid is in server_pid
#   (set it once started) is stopped and the cluster and WORK removed.
# throwaway_wait_ping LOG: waits up to 10 s for the server on PORT to answer
#   ping; if it does not, prints LOG (its output) and exits 1.

PG=$ROOT/scripts/pg.sh
server_pid=""

throwaway_cleanup() {
  [[ -z $server_pid ]] || { kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  "$PG" destroy "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf -- "$WORK"
}

throwaway_cluster() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ganomede-chat-$1.XXXXXX")
  chmod 755 "$WORK"   # pg.sh runs PostgreSQL as `postgres` when we are root
  trap throwaway_cleanup EXIT
  "$PG" init "$WORK/pg" >&2
  "$PG" start "$WORK/pg" >&2
  DB_URL=$("$PG" url "$WORK/pg")
  PORT=$("$PG" free-port)
}

throwaway_wait_ping() {
  local _
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/chat/v1/ping/throwaway" >/dev/null && return 0
    sleep 0.1
  done
  cat "$1" >&2
  say "the server did not start"
  exit 1
}
