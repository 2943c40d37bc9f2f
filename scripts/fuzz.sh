#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time, starting from its seed
# corpus under tests/fuzz/corpus/<name>/. New inputs go to a scratch folder;
# a crashing input is copied into the seed corpus (a regression test from
# then on) and the run fails.
# usage: scripts/fuzz.sh BUILD_DIR SECONDS TARGET...
set -euo pipefail
dir=$1; seconds=$2; shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for t in "$@"; do
  scratch=$(mktemp -d)
  seeds="$root/tests/fuzz/corpus/$t"
  log="$dir/fuzz_$t.log"
  echo "== fuzz_$t for ${seconds}s"
  if "$dir/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$dir/crash-$t-" "$scratch" "$seeds" >"$log" 2>&1; then
    grep -E '^Done [0-9]+ runs' "$log" || tail -n 2 "$log"
  else
    echo "fuzz_$t FAILED; see $log"
    tail -n 30 "$log"
    for crash in "$dir"/crash-"$t"-*; do
      [ -e "$crash" ] || continue
      cp "$crash" "$seeds/regression-$(sha1sum "$crash" | cut -c1-12)"
      echo "crashing input kept as a regression test in $seeds/"
    done
    status=1
  fi
  rm -rf "$scratch"
done
exit "$status"
