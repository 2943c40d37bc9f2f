-- history: a page of live room $1 from the record, newest first, for the
-- caller holding the table token whose SHA-256 is $2 (bytea; NULL when the
-- caller used the API secret or SECRET.name): messages with an id below $3
-- (NULL: from the newest), at most $4, not redacted, stored since the room
-- was last created (an expired room's earlier messages are for auditors).
-- The rows (a header as get_room's, then one per message with its id, the
-- cursor) are described at chat_history in docs/schema.sql; a function, so
-- that its plan is kept by the backend even behind a transaction pooler.
SELECT caller, type, users, id, json, ts, ts_is_string, sender, message_type, message
  FROM chat_history($1, $2::bytea, $3::bigint, $4::integer);
