#!/usr/bin/env bash
# The moderation console in Debian's headless Chromium: a server with
# CONSOLE=on on a throwaway PostgreSQL, then tests/console/console.mjs
# (puppeteer-core from tests/console/package-lock.json). Screenshots in
# build/console/. Installs chromium, node and npm as root when missing
# (scripts/deps.sh console).
# Usage: scripts/console-test.sh   (make test-console; CI runs it)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$ROOT/tests/console
CHAT_BIN=${CHAT_BIN:-$ROOT/build/ganomede-chat}
export NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false
say() { echo "console-test.sh: $*" >&2; }

"$ROOT/scripts/deps.sh" console
# node and npm may come from Debian's packages or with another nodejs
# package (npm bundled): asked of the shell, as scripts/contract-test.sh does.
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  if [[ $EUID -eq 0 ]]; then
    apt-get install -y nodejs npm >&2 || { apt-get update >&2 && apt-get install -y nodejs npm >&2; }
  else
    say "node and npm are needed; run as root: apt-get install -y nodejs npm"
    exit 1
  fi
fi
if [[ ! -f $DIR/node_modules/.package-lock.json || $DIR/package-lock.json -nt $DIR/node_modules/.package-lock.json ]]; then
  # puppeteer-core downloads no browser: Debian's chromium is used.
  npm ci --prefix "$DIR" --no-audit --no-fund >&2
fi
[[ -x $CHAT_BIN ]] || make -C "$ROOT" all >&2

# shellcheck source=throwaway.sh
source "$ROOT/scripts/throwaway.sh"
throwaway_cluster console
export DATABASE_URL=$DB_URL
LOG_LEVEL=warn "$CHAT_BIN" migrate >&2
SECRET="console-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
PORT=$PORT API_SECRET=$SECRET CONSOLE=on LOG_LEVEL=warn LISTEN_ADDRESS=127.0.0.1 \
  "$CHAT_BIN" serve >"$WORK/server.log" 2>&1 &
server_pid=$!
throwaway_wait_ping "$WORK/server.log"
mkdir -p "$ROOT/build/console"
CHAT_URL=http://127.0.0.1:$PORT API_SECRET=$SECRET SHOTS=$ROOT/build/console \
  node "$DIR/console.mjs"
if grep -qF "$SECRET" "$WORK/server.log"; then
  say "the API secret appears in the server's log"
  exit 1
fi
