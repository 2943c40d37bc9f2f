#!/usr/bin/env bash
# Runs docs/tutorial.md: every ```sh block in order, in one shell (so its
# variables carry over), against a server started by scripts/run.sh (as
# `make run` does) on a throwaway PostgreSQL and a free port. After a block,
# each line of the ```output block that follows it must appear in what the
# block printed, and each line of a ```make-run-output block in what the
# server's terminal showed (its stderr: the banner and the notification
# sink). The `make run` block is the server itself; `localhost:8000` and
# the private cluster's URL are replaced by the throwaway ones.
#
# Usage: scripts/tutorial.sh   (make tutorial; CI runs it)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DOC=docs/tutorial.md
say() { echo "tutorial.sh: $*" >&2; }

"$ROOT/scripts/deps.sh" tutorial   # the page's commands use curl and jq

# shellcheck source=throwaway.sh
source "$ROOT/scripts/throwaway.sh"
throwaway_cluster tutorial

# The blocks: sh/N, output/N (after sh block N), run-output/N.
awk -v dir="$WORK" '
  /^```/ && !inblock { kind = substr($0, 4); inblock = 1
                       if (kind == "sh") { n++; file = dir "/sh." n }
                       else if (kind == "output") file = dir "/output." n
                       else if (kind == "make-run-output") file = dir "/runout." n
                       else file = "/dev/null"
                       printf "" > file; next }
  /^```/ && inblock { inblock = 0; close(file); next }
  inblock { print >> file }' "$DOC"

DATABASE_URL=$DB_URL PORT=$PORT LISTEN_ADDRESS=127.0.0.1 API_SECRET=dev-secret \
  scripts/run.sh >"$WORK/server.out" 2>"$WORK/server.err" &
server_pid=$!
throwaway_wait_ping "$WORK/server.err"

# One script of every block, each with its output in a file of its own.
script=$WORK/all.sh
{
  echo 'set -euo pipefail'
  for f in "$WORK"/sh.*; do
    n=${f##*.}
    [[ $(tr -d '[:space:]' <"$f") == makerun ]] && continue   # the server, already up
    echo "exec >\"$WORK/got.$n\" 2>&1"
    sed -e "s#localhost:8000#127.0.0.1:$PORT#g" \
        -e "s#\$(scripts/pg.sh url .pgdata)#$DB_URL#g" "$f"
  done
} >"$script"
failed=0
if ! (cd "$ROOT" && bash "$script"); then
  say "a block failed (set -e); its output:"
  last=$(ls "$WORK"/got.* 2>/dev/null | sort -t. -k2 -n | tail -n1)
  [[ -z $last ]] || cat "$last" >&2
  exit 1
fi

check() { # WANTED_FILE GOT_FILE WHAT
  local line
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    if ! grep -qF -- "$line" "$2"; then
      say "$3: expected a line with: $line"
      say "got:"; sed 's/^/  /' "$2" >&2
      failed=1
    fi
  done <"$1"
}
for f in "$WORK"/output.*; do
  [[ -e $f ]] || continue
  check "$f" "$WORK/got.${f##*.}" "block ${f##*.}"
done
sleep 0.5   # the last notification's line
for f in "$WORK"/runout.*; do
  [[ -e $f ]] || continue
  check "$f" "$WORK/server.err" "the make run terminal (after block ${f##*.})"
done
((failed == 0)) || exit 1
say "every command of $DOC ran as written ($(ls "$WORK"/sh.* | wc -l) blocks)"
