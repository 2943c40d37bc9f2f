#!/usr/bin/env bash
# Contract tests: lint docs/openapi.yaml with Redocly, then run
# tests/contract/contract.mjs against a real server on a throwaway
# PostgreSQL, validating every answer against the document.
#
# Usage: scripts/contract-test.sh
# Env: CHAT_BIN (default build/ganomede-chat; built with make when missing).
# Needs node >= 18.17 and npm; as root they are installed from Debian's
# packages when npm is missing. The npm packages (tests/contract/package-lock.json)
# are installed into tests/contract/node_modules when missing or stale.
# Everything it starts (PostgreSQL in a mktemp folder, the server) is
# stopped and removed on exit, whatever happens.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG=$ROOT/scripts/pg.sh
CONTRACT=$ROOT/tests/contract
CHAT_BIN=${CHAT_BIN:-$ROOT/build/ganomede-chat}
# Redocly CLI: no telemetry, no update check (this machine reaches only the
# package registries).
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false

say() { echo "contract-test.sh: $*" >&2; }

# ---- node and npm ----------------------------------------------------------
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  if [[ $EUID -eq 0 ]]; then
    say "installing node and npm from Debian's packages"
    apt-get install -y nodejs npm >&2 || { apt-get update >&2 && apt-get install -y nodejs npm >&2; }
  else
    say "node and npm are needed; run as root: apt-get install -y nodejs npm"
    exit 1
  fi
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>18||(a===18&&b>=17)?0:1)'; then
  say "node >= 18.17 is needed (found $(node --version))"
  exit 1
fi

# ---- npm packages (from the lock file) -------------------------------------
if [[ ! -f $CONTRACT/node_modules/.package-lock.json ||
      $CONTRACT/package-lock.json -nt $CONTRACT/node_modules/.package-lock.json ]]; then
  say "installing the npm packages of tests/contract"
  npm ci --prefix "$CONTRACT" --no-audit --no-fund >&2
fi

# ---- lint ------------------------------------------------------------------
say "redocly lint docs/openapi.yaml"
if ! (cd "$ROOT" && "$CONTRACT/node_modules/.bin/redocly" lint \
        --config "$CONTRACT/redocly.yaml" docs/openapi.yaml); then
  say "docs/openapi.yaml does not pass the lint"
  exit 1
fi

# ---- the server and its database -------------------------------------------
if [[ ! -x $CHAT_BIN ]]; then
  say "building $CHAT_BIN"
  make -C "$ROOT" all >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ganomede-chat-contract.XXXXXX")
PG_DIR=$WORK/pg
server_pid=""
# shellcheck disable=SC2317  # (called by the trap)
cleanup() {
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  "$PG" destroy "$PG_DIR" || say "could not remove $PG_DIR"
  rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$PG" init "$PG_DIR"
"$PG" start "$PG_DIR"
DATABASE_URL=$("$PG" url "$PG_DIR")
export DATABASE_URL

say "migrating"
LOG_LEVEL=warn "$CHAT_BIN" migrate >&2

# Users and tokens that the API cannot make: a banned user, a user with chat
# disabled, a token of auth_tokens.
bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n1 || true)
PSQL=$bindir/psql
[[ -x $PSQL ]] || PSQL=$(command -v psql) || { say "psql not found"; exit 1; }
TABLE_TOKEN="contract-tok-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
"$PSQL" -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" >&2 <<SQL
INSERT INTO usermeta (username, key, value) VALUES
  ('contract-banned', '\$banned', '1429084016939'),
  ('contract-disabled', '\$chatdisabled', 'true');
INSERT INTO auth_tokens (token, username, expires_at) VALUES ('$TABLE_TOKEN', 'alice', NULL);
SQL

PORT=$("$PG" free-port)
API_SECRET="contract-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
say "starting the server on port $PORT (log: $WORK/server.log)"
# A rate limit that only the contract's own flooding user meets (60 a
# minute past a burst of 100: the other users post a few times each).
RATE_BURST=100
PORT=$PORT API_SECRET=$API_SECRET LOG_LEVEL=warn EXPIRY_INTERVAL_SECONDS=0 \
  RATE_LIMIT_POSTS_PER_MINUTE=60 RATE_LIMIT_BURST=$RATE_BURST LIVE_MAX_STREAMS_PER_USER=2 \
  "$CHAT_BIN" serve >"$WORK/server.log" 2>&1 &
server_pid=$!
CHAT_URL=http://127.0.0.1:$PORT
if ! node -e '
  const url = process.argv[1] + "/chat/v1/ping/ready";
  const until = Date.now() + 10000;
  (async () => {
    while (Date.now() < until) {
      try { if ((await fetch(url)).status === 200) process.exit(0); } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    process.exit(1);
  })();' "$CHAT_URL"; then
  say "the server did not answer within 10 s:"
  tail -n 20 "$WORK/server.log" >&2
  exit 1
fi

# ---- the contract ----------------------------------------------------------
status=0
CHAT_URL=$CHAT_URL API_SECRET=$API_SECRET OPENAPI=$ROOT/docs/openapi.yaml \
  CONTRACT_BANNED_USER=contract-banned CONTRACT_DISABLED_USER=contract-disabled \
  CONTRACT_TABLE_TOKEN=$TABLE_TOKEN CONTRACT_RATE_BURST=$RATE_BURST CONTRACT_STREAMS_PER_USER=2 \
  CONTRACT_DB_STOP="$PG stop $PG_DIR" CONTRACT_DB_START="$PG start $PG_DIR" \
  node "$CONTRACT/contract.mjs" || status=$?
if ! kill -0 "$server_pid" 2>/dev/null; then
  say "the server died during the run; its log:"
  tail -n 40 "$WORK/server.log" >&2
  status=1
fi
exit "$status"
