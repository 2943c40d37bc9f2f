-- 0011 down.
DROP FUNCTION chat_idempotency_expire(integer);
DROP FUNCTION chat_system_message_once(text, bytea, integer, text, text, text[], text, boolean,
                                       text, text, integer, integer, text, integer, boolean,
                                       text, jsonb);
DROP FUNCTION chat_post_message_once(text, bytea, integer, text, text, boolean, boolean, text,
                                     boolean, text, text, text, integer, integer, text, text,
                                     integer, bytea, boolean, text, jsonb);
DROP FUNCTION chat_idempotency_claim(text, text, text, bytea, integer);
DROP TABLE idempotency_keys;
DROP TABLE room_reads;
DROP INDEX room_users_username_idx;
