-- history_after: the messages of live room $1 newer than message $3, oldest
-- first, at most $4, for the caller of the table token whose SHA-256 is $2
-- (NULL for the API secret or SECRET.name): long-poll's answer. The rows
-- are history's (chat_history_after in docs/schema.sql).
SELECT caller, type, users, id, json, ts, ts_is_string, sender, message_type, message
  FROM chat_history_after($1, $2::bytea, $3::bigint, $4::integer);
