-- hold_set: $1 kind ('user' or 'room'), $2 subject, $3 reason, $4 actor, $5
-- request id (see chat_hold_set in docs/schema.sql).
SELECT id, chat_iso_time(created_at) FROM chat_hold_set($1, $2, $3, $4, $5);
