# scripts/bench/cluster.sh: the throwaway durable PostgreSQL cluster, its settings, and the
# huge pages it runs on.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

# --------------------------------------------------------------- huge pages
# With 4 GB of shared_buffers in 4 kB pages, every new PostgreSQL backend
# takes a page fault for each shared page it touches first: measured on this
# kind of VM, a fresh pgbench at 32 clients ramped from 570 to 3,100 get_room
# transactions/s over 20 s, so a 15 s ceiling measured mostly the faults.
# With 2 MB huge pages (what a production server with large shared_buffers
# uses anyway) the same run starts at full speed. As root we reserve exactly
# what PostgreSQL asks for (shared_memory_size_in_huge_pages) and give the
# pages back on exit; otherwise huge_pages=try and a warning.
HUGE_PAGES_OLD=""
HUGE_PAGES=off
reserve_huge_pages() { # CLUSTER_DIR
  local want have owner
  if [[ $EUID -eq 0 && -w /proc/sys/vm/nr_hugepages ]]; then
    owner=$(stat -c %U "$1")
    want=$(cd / && runuser -u "$owner" -- "$PG_BIN/postgres" -D "$1" -C shared_memory_size_in_huge_pages 2>/dev/null || true)
    if [[ $want =~ ^[0-9]+$ ]]; then
      HUGE_PAGES_OLD=$(cat /proc/sys/vm/nr_hugepages)
      echo $((HUGE_PAGES_OLD + want)) >/proc/sys/vm/nr_hugepages 2>/dev/null || true
      have=$(cat /proc/sys/vm/nr_hugepages)
      if ((have >= HUGE_PAGES_OLD + want)); then
        HUGE_PAGES=on
      else
        echo "$HUGE_PAGES_OLD" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
        HUGE_PAGES_OLD=""
      fi
    fi
  fi
  if [[ $HUGE_PAGES == on ]]; then
    log "reserved $want huge pages of 2 MB for shared_buffers"
    echo "huge_pages = on                 # reserved by scripts/bench.sh" >>"$1/postgresql.conf"
  else
    log "WARNING: no huge pages (needs root and vm.nr_hugepages): every new PostgreSQL connection"
    log "         warms up slowly, which lowers the ceilings and the first seconds of each run"
    echo "huge_pages = try" >>"$1/postgresql.conf"
  fi
}
release_huge_pages() {
  [[ -z $HUGE_PAGES_OLD ]] || echo "$HUGE_PAGES_OLD" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
}

# start_cluster: the cluster in $WORK/pg, started, migrated, with the
# pgbench scripts made; sets DB_URL and POSTMASTER_PID.
start_cluster() {
  # The cluster. PG_DURABLE=1: PostgreSQL's crash-safe defaults (pg.sh would
  # otherwise turn fsync and synchronous_commit off for test clusters).
  PG_DURABLE=1 "$PG" init "$WORK/pg"
  cat >>"$WORK/pg/postgresql.conf" <<'EOF'

# ---- scripts/bench.sh ----
shared_buffers = 4GB            # every data set fits, up to SCALE=full's 100,000 rooms (10M messages, ~3 GB):
                                # size it to the working set in production too (docs/performance.md)
effective_cache_size = 4GB      # planner hint: the OS page cache holds the rest
fsync = on                      # durable, as in production (the default; stated for the reader)
synchronous_commit = on         # every post_message waits for its WAL flush (the default)
full_page_writes = on           # the default
max_connections = 200           # server pool (8) + outbox + pgbench's 32 + psql, with room to spare
max_wal_size = 4GB              # no checkpoint forced by WAL volume during a run...
checkpoint_timeout = 30min      # ...nor by time: we CHECKPOINT after seeding instead, so no
                                # route is measured across a checkpoint and another not
EOF
  reserve_huge_pages "$WORK/pg"
  "$PG" start "$WORK/pg"
  DB_URL=$("$PG" url "$WORK/pg")
  POSTMASTER_PID=$(head -n1 "$WORK/pg/postmaster.pid")
  DATABASE_URL=$DB_URL LOG_LEVEL=warn "$BIN" migrate
  make_pgbench_scripts
}
