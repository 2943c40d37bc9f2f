-- redact_user: one batch of $6 messages user $1 sent since $2 (epoch
-- seconds, NULL: all), content wiped when $3, by actor $4 for reason $5,
-- request id $7 (see chat_redact_user in docs/schema.sql).
SELECT status, redacted
  FROM chat_redact_user($1, to_timestamp($2::double precision), $3, $4, $5, $6, $7);
