-- post_message_keyed: post_message with an Idempotency-Key: $1 to $18 as
-- chat_post_message's (docs/schema.sql), $19 the key, $20 the SHA-256 of
-- the request body, $21 how long the key is kept (chat_post_message_once).
-- Rows as post_message's, or one row 'duplicate' or 'key_mismatch'. A post
-- without a key runs post_message itself: through the wrapper, plain posts
-- lost about 15 % of their throughput (docs/performance.md).
SELECT status, id, to_user, type, data, push
  FROM chat_post_message_once($19, $20::bytea, $21::integer, $1, $2, $3, $4, $5, $6, $7, $8,
                              $9, $10, $11, $12, $13, $14, $15, $16, $17, $18::jsonb);
