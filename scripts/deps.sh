#!/usr/bin/env bash
# Check the Debian packages ganomede-chat needs and, when root, install the
# missing ones; when not root, print the apt-get line and fail (never sudo).
#
# Usage: scripts/deps.sh [GROUP...]     (default: build db)
#   build  compiler, libraries and headers for `make` and the unit tests
#   db     PostgreSQL server (initdb, pg_ctl) and psql for the test/dev cluster
#   test   what the integration groups drive for real besides PostgreSQL
#          (redis-server: the authdb and usermeta links and the import;
#          pgbouncer: requests through a session and a transaction pooler;
#          pgaudit: the group that proves no token reaches PostgreSQL's log)
#   infra  what `make test-infra` adds: pg_cron (the expiry scheduled in
#          PostgreSQL); standbys need only the server (pg_basebackup)
#   bench  wrk, the HTTP load generator, jq, redis-server (import-redis timed),
#          gnuplot-nox (build/bench.svg)
#   check  valgrind, and clang with libFuzzer and the sanitizer runtimes
#   tutorial  curl and jq, which docs/tutorial.md's commands use
#   console   Chromium and curl (the console's browser test; node and npm as
#             for the contract tests: scripts/console-test.sh)
# Add a group by adding one line to PKG_GROUPS.
set -euo pipefail

declare -A PKG_GROUPS=(
  [build]="gcc make pkg-config libmicrohttpd-dev libpq-dev libjson-c-dev libcurl4-openssl-dev libssl-dev libcmocka-dev zlib1g-dev libhiredis-dev"
  [db]="postgresql postgresql-client"
  [test]="postgresql-15-pgaudit redis-server pgbouncer"
  [infra]="postgresql-15-cron"
  [bench]="wrk jq redis-server gnuplot-nox"
  [check]="valgrind clang libclang-rt-14-dev"
  [tutorial]="curl jq"
  [console]="chromium curl"
)

groups=("$@")
[[ ${#groups[@]} -gt 0 ]] || groups=(build db)

wanted=()
for g in "${groups[@]}"; do
  if [[ -z ${PKG_GROUPS[$g]:-} ]]; then
    echo "deps.sh: unknown group '$g' (known: ${!PKG_GROUPS[*]})" >&2
    exit 2
  fi
  read -ra pkgs <<<"${PKG_GROUPS[$g]}"
  wanted+=("${pkgs[@]}")
done

if ! command -v dpkg-query >/dev/null; then
  echo "deps.sh: not a Debian-like system; install the equivalents of: ${wanted[*]}" >&2
  exit 1
fi

# dpkg-query reads the local database only: no network when all is present.
# A package never seen by dpkg makes it fail, hence the 2>/dev/null.
missing=()
for p in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps.sh: all packages present (${groups[*]})" >&2
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "deps.sh: missing Debian packages; install them with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

# Root (CI, containers): install without prompts; works with no stdin.
# Installing postgresql may create and start Debian's default cluster on port
# 5432: harmless, our clusters (scripts/pg.sh) use their own folder and port.
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2
