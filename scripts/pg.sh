#!/usr/bin/env bash
# Manage a private PostgreSQL cluster that lives in one folder, for `make run`
# and the integration tests: its own port on 127.0.0.1, its own socket folder,
# superuser `postgres` with trust auth, database `chat`.
#
# Usage: scripts/pg.sh init DIR [PORT] | start DIR | stop DIR | destroy DIR
#                      | url DIR | status DIR | free-port | bindir
#                      | standby DIR PRIMARY_DIR [APPLY_DELAY] | promote DIR | crash DIR
# standby: a streaming replica of PRIMARY_DIR's cluster (pg_basebackup -R),
# on its own port, started; APPLY_DELAY (e.g. 3s) delays its replay
# (recovery_min_apply_delay). promote: it becomes a primary. crash: stop
# at once, without a checkpoint (pg_ctl -m immediate), as a crash would.
#
# PostgreSQL refuses to run as root, so as root the server tools run as the
# folder's owner (the `postgres` OS user for a new folder). stdout carries
# only the answer of `url`; everything else goes to DIR/log or stderr.
# Env: PG_BINDIR (where initdb/pg_ctl live), PG_DURABLE=1 (keep PostgreSQL's
# crash-safe defaults; see the settings block in cmd_init), PG_PRELOAD at
# init: extensions to load at start (shared_preload_libraries, e.g.
# "pgaudit"); those not installed are left out with a note.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }
usage() { sed -n '6,8p' "$0" | sed 's/^# //' >&2; exit 2; }

# Highest installed major version (sort -V: 9.6 < 15), then PATH (non-Debian).
find_bindir() {
  if [[ -n ${PG_BINDIR:-} ]]; then echo "$PG_BINDIR"; return; fi
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n1 || true)
  if [[ -n $d && -x $d/pg_ctl ]]; then echo "$d"; return; fi
  d=$(command -v pg_ctl) || die "no PostgreSQL server found; run scripts/deps.sh db"
  dirname "$d"
}

# Who runs the server: ourselves, or as root the owner of an existing
# cluster folder, else `postgres` (made by Debian's postgresql package), else
# a system user that init creates.
pick_user() {
  if [[ $EUID -ne 0 ]]; then PG_USER=$(id -un); return; fi
  if [[ -e $DIR ]] && [[ $(stat -c %u "$DIR") -ne 0 ]]; then
    PG_USER=$(stat -c %U "$DIR"); return
  fi
  PG_USER=postgres
  getent passwd "$PG_USER" >/dev/null || PG_USER=ganomede-pg
}

# Run a PostgreSQL tool as PG_USER. `cd /` because the tools fail or warn
# when they cannot read the caller's working directory (e.g. /root).
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u "$PG_USER" -- "$@")
  else
    "$@"
  fi
}

# Root only: PG_USER must be able to traverse every parent of DIR (a project
# under /root, a 0700 folder...). o+x lets it pass through, not list.
open_path() {
  local path="" part parts
  IFS=/ read -ra parts <<<"${1#/}"
  for part in "${parts[@]}"; do
    [[ -n $part ]] || continue
    path+="/$part"
    [[ -d $path ]] || break
    if ! runuser -u "$PG_USER" -- test -x "$path"; then
      chmod o+x "$path"
      echo "pg.sh: chmod o+x $path so that $PG_USER can reach $1" >&2
    fi
  done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Random, so that concurrent test runs rarely race for the same port; below
# Linux's ephemeral range (32768+) so outgoing connections do not take it.
free_port() {
  local p i
  for i in $(seq 50); do
    p=$((15000 + RANDOM % 17000))
    port_busy "$p" || { echo "$p"; return; }
  done
  die "no free TCP port found on 127.0.0.1 (tried $i)"
}

is_running() { as_pg "$BIN/pg_ctl" status -D "$DIR" >/dev/null 2>&1; }
read_port() { [[ -r $DIR/port ]] || die "$DIR is not a cluster made by pg.sh init"; cat "$DIR/port"; }

cmd_init() {
  local port=${1:-} sockdir out
  [[ ! -e $DIR/PG_VERSION ]] || die "$DIR already holds a cluster"
  if [[ -n $port ]]; then
    if ! [[ $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); then die "bad port '$port'"; fi
    ! port_busy "$port" || die "port $port is in use on 127.0.0.1"
  else
    port=$(free_port)
  fi
  mkdir -p "$DIR"
  if [[ $EUID -eq 0 ]]; then
    getent passwd "$PG_USER" >/dev/null ||
      useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    chown "$PG_USER:" "$DIR"
    open_path "$(dirname "$DIR")"
  fi
  # initdb's chatter is kept for the log (DIR must be empty while it runs).
  local -a nosync=(--no-sync)
  [[ ${PG_DURABLE:-} != 1 ]] || nosync=()
  if ! out=$(as_pg "$BIN/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 \
               --locale=C "${nosync[@]}" 2>&1); then
    printf '%s\n' "$out" >&2
    die "initdb failed"
  fi
  printf '%s\n' "$out" >"$DIR/log"
  # A Unix socket path is limited to 107 bytes; past that, TCP only.
  sockdir=$DIR
  if (( ${#DIR} + 17 > 107 )); then
    sockdir=""
    echo "pg.sh: $DIR is too long for a Unix socket; TCP only" >&2
  fi
  cat >>"$DIR/postgresql.conf" <<EOF

# ---- ganomede-chat private cluster (written by scripts/pg.sh init) ----
port = $port                        # our own port: never clashes with a system cluster
listen_addresses = '127.0.0.1'      # reachable from this machine only
unix_socket_directories = '$sockdir'    # our folder, not /var/run/postgresql (root-owned, shared)
max_connections = 200               # several servers with connection pools in the tests
timezone = 'UTC'
log_timezone = 'UTC'
EOF
  if [[ ${PG_DURABLE:-} != 1 ]]; then
    cat >>"$DIR/postgresql.conf" <<'EOF'
# Development and test data only: trade crash safety for speed. An OS crash
# (not a server crash) can corrupt this cluster. PG_DURABLE=1 at init keeps
# PostgreSQL's safe defaults (use that for benchmarks).
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  preload_libraries
  echo "$port" >"$DIR/port"
  [[ $EUID -ne 0 ]] || chown "$PG_USER:" "$DIR/log" "$DIR/port"
  echo "pg.sh: initialized $DIR (port $port)" >&2
}

# PG_PRELOAD (comma-separated) into shared_preload_libraries, keeping only
# the libraries this server has (a test group that needs a missing one says
# so and skips).
preload_libraries() {
  local lib libs=() want
  IFS=, read -ra want <<<"${PG_PRELOAD:-}"
  for lib in "${want[@]}"; do
    [[ -n $lib ]] || continue
    if [[ -e $BIN/../lib/$lib.so ]]; then
      libs+=("$lib")
    else
      echo "pg.sh: $lib is not installed for this PostgreSQL; not preloaded" >&2
    fi
  done
  [[ ${#libs[@]} -gt 0 ]] || return 0
  local joined
  joined=$(IFS=,; echo "${libs[*]}")
  printf "shared_preload_libraries = '%s'\n" "$joined" >>"$DIR/postgresql.conf"
  if [[ ,$joined, == *,pg_cron,* ]]; then
    # pg_cron's jobs run in database chat, in background workers (no
    # libpq connection back to the server, so no password or host to set).
    printf "cron.database_name = 'chat'\ncron.use_background_workers = on\n" \
      >>"$DIR/postgresql.conf"
  fi
}

cmd_start() {
  local port
  port=$(read_port)
  if is_running; then return 0; fi
  # The port was free at init; something else may hold it now (a .pgdata
  # folder reused days later): move to a free one rather than fail.
  if port_busy "$port"; then
    local old=$port
    port=$(free_port)
    sed -i "s/^port = $old\b/port = $port/" "$DIR/postgresql.conf"
    echo "$port" >"$DIR/port"
    echo "pg.sh: port $old is taken; $DIR now uses port $port" >&2
  fi
  # pg_ctl's progress dots go nowhere; its errors to stderr; the server's to DIR/log.
  if ! as_pg "$BIN/pg_ctl" start -D "$DIR" -l "$DIR/log" -w -t 60 >/dev/null; then
    tail -n 20 "$DIR/log" >&2
    die "could not start the cluster in $DIR (log: $DIR/log)"
  fi
  # Database `chat` is what `url` points at.
  local -a psql=("$BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
  if [[ -z $(PGCONNECT_TIMEOUT=10 "${psql[@]}" -d postgres -tAc \
              "SELECT 1 FROM pg_database WHERE datname = 'chat'") ]]; then
    PGCONNECT_TIMEOUT=10 "${psql[@]}" -d postgres -c 'CREATE DATABASE chat' >&2
  fi
  echo "pg.sh: running $DIR on 127.0.0.1:$port" >&2
}

cmd_stop() {
  [[ -e $DIR/PG_VERSION ]] || return 0
  is_running || return 0
  as_pg "$BIN/pg_ctl" stop -D "$DIR" -m fast -w -t 60 >/dev/null ||
    die "could not stop the cluster in $DIR (log: $DIR/log)"
}

cmd_standby() {
  local primary=$1 delay=${2:-} pport port
  [[ ! -e $DIR/PG_VERSION ]] || die "$DIR already holds a cluster"
  [[ -r $primary/port ]] || die "$primary is not a cluster made by pg.sh init"
  pport=$(cat "$primary/port")
  port=$(free_port)
  mkdir -p "$DIR"
  if [[ $EUID -eq 0 ]]; then
    chown "$PG_USER:" "$DIR"
    chmod 700 "$DIR"
    open_path "$(dirname "$DIR")"
  fi
  as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$DIR" -R -X stream \
    --checkpoint=fast >&2 || die "pg_basebackup from $primary failed"
  # The copy carries the primary's port and socket folder: ours come last.
  {
    echo
    echo "# ---- streaming standby of $primary (written by scripts/pg.sh standby) ----"
    echo "port = $port"
    echo "unix_socket_directories = '$DIR'"
    echo "cluster_name = 'standby_$port'"
    [[ -z $delay ]] || echo "recovery_min_apply_delay = '$delay'"
  } >>"$DIR/postgresql.conf"
  : >"$DIR/log"
  echo "$port" >"$DIR/port"
  [[ $EUID -ne 0 ]] || chown "$PG_USER:" "$DIR/log" "$DIR/port" "$DIR/postgresql.conf"
  if ! as_pg "$BIN/pg_ctl" start -D "$DIR" -l "$DIR/log" -w -t 60 >/dev/null; then
    tail -n 20 "$DIR/log" >&2
    die "could not start the standby in $DIR"
  fi
  echo "pg.sh: standby of $primary running on 127.0.0.1:$port" >&2
}

cmd_destroy() {
  [[ -e $DIR ]] || return 0
  # rm -rf only what is recognisably ours (or an empty folder from a failed
  # init): a typo in DIR must not wipe something else.
  if [[ -e $DIR/PG_VERSION || -e $DIR/port ]]; then
    cmd_stop
    rm -rf -- "$DIR"
  elif [[ -d $DIR && -z $(ls -A "$DIR") ]]; then
    rmdir -- "$DIR"
  else
    die "$DIR does not look like a pg.sh cluster; not removing it"
  fi
}

# free-port: a free TCP port on 127.0.0.1, for the other scripts' servers.
if [[ ${1:-} == free-port && $# -eq 1 ]]; then
  free_port
  exit 0
fi
# bindir: where this server's tools (pg_dump, psql...) are.
if [[ ${1:-} == bindir && $# -eq 1 ]]; then
  find_bindir
  exit 0
fi
[[ $# -ge 2 ]] || usage
cmd=$1
DIR=$(realpath -m -- "$2")   # absolute: the tools run from /
shift 2
BIN=$(find_bindir)
pick_user

case $cmd in
  init)    [[ $# -le 1 ]] || usage; cmd_init "${1:-}" ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  destroy) cmd_destroy ;;
  url)     echo "postgresql://postgres@127.0.0.1:$(read_port)/chat" ;;
  status)  [[ -e $DIR/PG_VERSION ]] && is_running ;;
  standby) [[ $# -ge 1 && $# -le 2 ]] || usage; cmd_standby "$(realpath -m -- "$1")" "${2:-}" ;;
  promote) as_pg "$BIN/pg_ctl" promote -D "$DIR" -w -t 60 >/dev/null ||
             die "could not promote $DIR" ;;
  crash)   as_pg "$BIN/pg_ctl" stop -D "$DIR" -m immediate -w -t 60 >/dev/null ||
             die "could not stop $DIR" ;;
  *)       usage ;;
esac
