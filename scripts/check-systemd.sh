#!/usr/bin/env bash
# Verifies scripts/systemd/ganomede-chat.service with systemd-analyze, the
# unit as shipped but pointed at this build's binary and a copy of
# env.example (verify checks that both exist). Usage: scripts/check-systemd.sh BIN
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(readlink -f "${1:?usage: check-systemd.sh BIN}")
if ! command -v systemd-analyze >/dev/null; then
  if [[ $EUID -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q systemd </dev/null >&2
  else
    echo "check-systemd.sh: systemd-analyze is needed: apt-get install -y systemd" >&2
    exit 1
  fi
fi
WORK=$(mktemp -d)
trap 'rm -rf -- "$WORK"' EXIT
cp "$ROOT/scripts/systemd/env.example" "$WORK/env"
sed -e "s#/usr/local/bin/ganomede-chat#$BIN#g" -e "s#/etc/ganomede-chat/env#$WORK/env#" \
  "$ROOT/scripts/systemd/ganomede-chat.service" >"$WORK/ganomede-chat.service"
out=$(systemd-analyze verify "$WORK/ganomede-chat.service" 2>&1) || { echo "$out" >&2; exit 1; }
# verify prints warnings without failing: any line about our unit fails.
if grep -F "ganomede-chat.service" <<<"$out" >&2; then
  exit 1
fi
echo "check-systemd.sh: scripts/systemd/ganomede-chat.service verified"
