-- get_room: live room $1 with its $2 newest messages, read for the caller
-- holding the table token whose SHA-256 is $3 (bytea; NULL when the caller
-- used the API secret or SECRET.name), so that a table token costs no round
-- trip of its own; $4 the room's version this server holds the answer of
-- (NULL: none). The rows (a header with the version, then one per message,
-- none when the version is still $4) are described at chat_get_room_since
-- in docs/schema.sql; a function, so that its plan is kept by the backend
-- even behind a transaction pooler (migration 0010).
SELECT caller, type, users, json, ts, ts_is_string, sender, message_type, message, version
  FROM chat_get_room_since($1, $2::integer, $3::bytea, $4::text);
