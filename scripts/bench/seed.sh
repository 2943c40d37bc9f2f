# scripts/bench/seed.sh: the data set: seeding (seed.sql) and reseeding between runs.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

# --------------------------------------------------------------- the data
# The rooms, messages and tokens of scripts/bench/seed.sql (read it for the
# shape of the data): set LETTER of N rooms, with tokens when TOKENS is 1,
# the first HISTORY of them with 1,000 messages on record.
seed() { # LETTER N TOKENS HISTORY
  sql -v l="$1" -v n="$2" -v tokens="$3" -v history="$4" -f "$ROOT/scripts/bench/seed.sql"
}
settle() { sql -c 'VACUUM ANALYZE' && sql -c 'CHECKPOINT'; }
# reseed N [EXPIRED_N]: empty every table, seed N live rooms with tokens and,
# when EXPIRED_N, that many more rooms (users e<i>a/e<i>b) already expired.
# The first HISTORY_ROOMS rooms have 1,000 messages on record (the history
# route and the export); EXPORT_UNTIL is a time after their storage and
# before everything else's.
reseed() {
  local t0=$SECONDS
  # The record refuses TRUNCATE (its triggers): as superuser, in replica
  # mode, which fires no ordinary trigger.
  sql -c 'SET session_replication_role = replica' \
      -c 'TRUNCATE rooms, room_users, room_reads, idempotency_keys, messages, auth_tokens, notification_outbox,
                   message_archive, message_archive_held, audit_log, legal_holds'
  HISTORY_ROOMS=$((${BENCH_HISTORY_ROOMS:-1000} < $1 ? ${BENCH_HISTORY_ROOMS:-1000} : $1))
  log "seeding $1 rooms of 100 messages, $HISTORY_ROOMS of them with 1,000 on record${2:+, and $2 expired ones}"
  EXPORT_UNTIL=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
  seed u "$1" 1 "$HISTORY_ROOMS"
  if [[ -n ${2:-} ]]; then
    seed e "$2" 0 0
    sql -c "UPDATE rooms SET expires_at = now() - interval '1 s' WHERE id LIKE 'bench/e%'"
  fi
  settle
  SEED_SECONDS=$((SECONDS - t0))
  log "seeded in ${SEED_SECONDS}s"
}


# seed_inbox / unseed_inbox: the data of route my_rooms (seed_inbox.sql):
# INBOX_USERS users in INBOX_ROOMS_PER_USER rooms each, among INBOX_TOTAL
# rooms (the main set included), added before the route and removed after
# it, so the other routes measure the same data as before.
INBOX_USERS=${BENCH_INBOX_USERS:-100}
INBOX_ROOMS_PER_USER=${BENCH_INBOX_ROOMS_PER_USER:-200}
INBOX_TOTAL=${BENCH_INBOX_TOTAL:-100000}
seed_inbox() {
  local t0=$SECONDS
  log "seeding $INBOX_USERS users in $INBOX_ROOMS_PER_USER rooms each (20 messages, half read), $INBOX_TOTAL rooms in all"
  sql -v users="$INBOX_USERS" -v per_user="$INBOX_ROOMS_PER_USER" -v total="$INBOX_TOTAL" \
    -f "$ROOT/scripts/bench/seed_inbox.sql"
  settle
  log "seeded in $((SECONDS - t0))s ($(sql_value 'SELECT count(*) FROM rooms') rooms)"
}
unseed_inbox() {
  sql -c "DELETE FROM room_reads WHERE room_id LIKE 'inbox%'" \
      -c "DELETE FROM messages WHERE room_id LIKE 'inbox%'" \
      -c "DELETE FROM room_users WHERE room_id LIKE 'inbox%'" \
      -c "DELETE FROM rooms WHERE id LIKE 'inbox%'" \
      -c "DELETE FROM auth_tokens WHERE token LIKE 'tok-ib%'"
  settle
}
