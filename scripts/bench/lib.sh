# scripts/bench/lib.sh: process tracking and cleanup, small helpers, CPU and RSS sampling.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

# ----------------------------------------------------------------- cleanup
PIDS=()       # what we started and have not stopped yet
WORK=""
track() { PIDS+=("$1"); }
untrack() {
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}
# Stop one of our children: TERM, up to 10 s, then KILL; then reap it.
stop_pid() {
  local pid=$1 i
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
  untrack "$pid"
}
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  local rc=$? i
  set +e
  trap - INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [[ -n $WORK ]]; then
    [[ ! -e $WORK/pg/log ]] || cp "$WORK/pg/log" "$LOGS/postgresql.log" 2>/dev/null
    "$PG" destroy "$WORK/pg" || log "could not remove the cluster in $WORK/pg"
    rm -rf -- "$WORK"
  fi
  release_huge_pages
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# ----------------------------------------------------------------- helpers
# Below Linux's ephemeral range, so wrk's and pgbench's outgoing connections never take it.
free_port() { "$PG" free-port; }
# wait_http PORT PATH PID LOGFILE: until GET answers 200, or PID dies, or 15 s.
wait_http() {
  local i
  for i in $(seq 150); do
    if curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$1$2"; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then
      tail -n 20 "$4" >&2 || true
      die "process $3 died before answering on port $1 (log: $4)"
    fi
    sleep 0.1
  done
  die "nothing answered on 127.0.0.1:$1$2 within 15 s (log: $4)"
}
fmt() { awk -v x="$1" -v d="$2" 'BEGIN { printf "%.*f", d, x }'; }
div() { awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN { if (b == 0) print "null"; else printf "%.*f", d, a / b }'; }

sql() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB_URL" "$@"; }
sql_value() { sql -tA -c "$1"; }

# ---------------------------------------------------------- CPU accounting
# Ticks (utime + stime) of one process, of PostgreSQL (the postmaster and
# every child: backends, walwriter, checkpointer...), and of the machine.
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
pid_ticks() {
  local line rest f
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || { echo 0; return; }
  rest=${line##*) }
  read -ra f <<<"$rest"
  echo $((f[11] + f[12]))
}
pg_ticks() {
  local sum=0 d line rest f
  for d in /proc/[0-9]*; do
    { read -r line <"$d/stat"; } 2>/dev/null || continue
    rest=${line##*) }
    read -ra f <<<"$rest"
    if [[ ${d#/proc/} == "$POSTMASTER_PID" || ${f[1]} == "$POSTMASTER_PID" ]]; then
      sum=$((sum + f[11] + f[12]))
    fi
  done
  echo "$sum"
}
# busy and idle (idle + iowait) ticks of all CPUs together
machine_ticks() {
  local _cpu u n s idle iow irq sirq steal
  read -r _cpu u n s idle iow irq sirq steal _ </proc/stat
  echo "$((u + n + s + irq + sirq + steal)) $((idle + iow)) $iow"
}
# cpu_mark: remember the counters; cpu_since: percentages of ONE core (as
# top shows them; the machine has NCPU*100 %) since cpu_mark, as JSON.
cpu_mark() {
  CPU_T0=${EPOCHREALTIME/./}
  CPU_SRV0=$(pid_ticks "$SERVER_PID")
  CPU_RECV0=$(pid_ticks "$RECV_PID")
  CPU_PG0=$(pg_ticks)
  read -r CPU_BUSY0 CPU_IDLE0 CPU_IOW0 < <(machine_ticks)
}
cpu_since() {
  local t1 srv recv pg busy idle iow secs
  t1=${EPOCHREALTIME/./}
  srv=$(($(pid_ticks "$SERVER_PID") - CPU_SRV0))
  recv=$(($(pid_ticks "$RECV_PID") - CPU_RECV0))
  pg=$(($(pg_ticks) - CPU_PG0))
  read -r busy idle iow < <(machine_ticks)
  busy=$((busy - CPU_BUSY0)); idle=$((idle - CPU_IDLE0)); iow=$((iow - CPU_IOW0))
  secs=$(awk -v a="$CPU_T0" -v b="$t1" 'BEGIN { print (b - a) / 1e6 }')
  awk -v srv="$srv" -v recv="$recv" -v pg="$pg" -v busy="$busy" -v idle="$idle" -v iow="$iow" \
      -v hz="$CLK_TCK" -v s="$secs" 'BEGIN {
        k = 100 / hz / s
        printf "{\"server_pct\":%.0f,\"postgres_pct\":%.0f,\"receiver_pct\":%.0f,\"other_pct\":%.0f,\"idle_pct\":%.0f,\"iowait_pct\":%.0f}",
               srv * k, pg * k, recv * k, (busy - srv - pg - recv) * k, idle * k, iow * k }'
}

# ------------------------------------------------------------- RSS samples
# sample_rss PID FILE INTERVAL: "<ms since start> <VmRSS kB>" lines until PID ends
# (or until stopped). In the background.
sample_rss() {
  local pid=$1 file=$2 every=$3 t0 now k v _rest
  t0=${EPOCHREALTIME/./}
  : >"$file"
  while [[ -r /proc/$pid/status ]]; do
    now=${EPOCHREALTIME/./}
    { while read -r k v _rest; do
        if [[ $k == VmRSS: ]]; then
          echo "$(((now - t0) / 1000)) $v" >>"$file"
          break
        fi
      done <"/proc/$pid/status"; } 2>/dev/null || break
    sleep "$every"
  done
}
proc_status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

