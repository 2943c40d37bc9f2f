# scripts/bench/seed.sh: the data set: seeding (seed.sql) and reseeding between runs.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

# --------------------------------------------------------------- the data
# The rooms, messages and tokens of scripts/bench/seed.sql (read it for the
# shape of the data): set LETTER of N rooms, with tokens when TOKENS is 1.
seed() { # LETTER N TOKENS
  sql -v l="$1" -v n="$2" -v tokens="$3" -f "$ROOT/scripts/bench/seed.sql"
}
settle() { sql -c 'VACUUM ANALYZE' && sql -c 'CHECKPOINT'; }
# reseed N [EXPIRED_N]: empty every table, seed N live rooms with tokens and,
# when EXPIRED_N, that many more rooms (users e<i>a/e<i>b) already expired.
reseed() {
  local t0=$SECONDS
  sql -c 'TRUNCATE rooms, room_users, messages, auth_tokens, notification_outbox'
  log "seeding $1 rooms of 100 messages${2:+ and $2 expired ones}"
  seed u "$1" 1
  if [[ -n ${2:-} ]]; then
    seed e "$2" 0
    sql -c "UPDATE rooms SET expires_at = now() - interval '1 s' WHERE id LIKE 'bench/e%'"
  fi
  settle
  SEED_SECONDS=$((SECONDS - t0))
  log "seeded in ${SEED_SECONDS}s"
}

