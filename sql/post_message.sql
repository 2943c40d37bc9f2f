-- post_message: see chat_post_message in docs/schema.sql (the live schema) for
-- $1 to $18; $19 the Idempotency-Key (NULL: none), $20 the SHA-256 of the
-- request body, $21 how long the key is kept (chat_post_message_once).
-- One row per notification queued (leased to this server for $14 ms, which
-- delivers them), or one row with the status alone ('duplicate' and
-- 'key_mismatch' included).
SELECT status, id, to_user, type, data, push
  FROM chat_post_message_once($19, $20::bytea, $21::integer, $1, $2, $3, $4, $5, $6, $7, $8,
                              $9, $10, $11, $12, $13, $14, $15, $16, $17, $18::jsonb);
