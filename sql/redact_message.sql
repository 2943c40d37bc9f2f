-- redact_message: $1 message id, $2 actor, $3 reason, $4 request id (see
-- chat_redact_message in docs/schema.sql).
SELECT status, chat_iso_time(redacted_at), wiped FROM chat_redact_message($1, $2, $3, $4);
