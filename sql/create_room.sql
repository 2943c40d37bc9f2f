-- create_room: $1 id, $2 type, $3 users (text[]), $4 caller (NULL: API
-- secret), $5 ttl seconds. See chat_create_room in docs/schema.sql.
SELECT chat_create_room($1, $2, $3::text[], $4, $5);
