-- hold_lift: $1 hold id, $2 actor, $3 reason, $4 request id (see
-- chat_hold_lift in docs/schema.sql).
SELECT status, chat_iso_time(lifted_at) FROM chat_hold_lift($1, $2, $3, $4);
