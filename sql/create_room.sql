-- create_room: $1 id, $2 type, $3 users (text[]), $4 caller (NULL: API
-- secret), $5 ttl seconds, $6 the caller's policies from the usermeta Redis
-- (NULL: the usermeta table). See chat_create_room in docs/schema.sql.
SELECT chat_create_room($1, $2, $3::text[], $4, $5, $6::jsonb);
