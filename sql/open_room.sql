-- open_room: POST rooms (see chat_open_room and chat_open_room_since in
-- docs/schema.sql): $1 id, $2 type, $3 users (text[]), $4 caller (NULL: API
-- secret), $5 ttl seconds, $6 the caller's policies from the usermeta Redis
-- (NULL: the table), $7 messages to return, $8 the SHA-256 of a remembered
-- table token to check (NULL: none), $9 how much earlier than now + ttl a
-- stored expiry may be before it is written, $10 the room's version whose
-- answer this server holds (NULL: none). Shaped as get_room.sql's rows: the
-- status in the first column of the first row (with the version, for a
-- room that was there), then one row per message, newest first (none when
-- the version is still $10).
SELECT status AS caller, NULL::text AS type, NULL::text AS users, json, ts, ts_is_string,
       sender, message_type, message, version
  FROM chat_open_room_since($1, $2, $3::text[], $4, $5, $6::jsonb, $7, $8::bytea, $9, $10::text);
