-- system_message: see chat_system_message in docs/schema.sql for $1 to
-- $14; $15 the Idempotency-Key (NULL: none), $16 the SHA-256 of the body,
-- $17 how long the key is kept (chat_system_message_once). Rows as
-- post_message's.
SELECT status, id, to_user, type, data, push
  FROM chat_system_message_once($15, $16::bytea, $17::integer, $1, $2, $3::text[], $4, $5, $6,
                                $7, $8, $9, $10, $11, $12, $13, $14::jsonb);
