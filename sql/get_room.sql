-- get_room: live room $1 with its $2 newest messages, read for the caller
-- holding the table token whose SHA-256 is $3 (bytea; NULL when the caller
-- used the API secret or SECRET.name), so that a table token costs no round
-- trip of its own.
-- The first row is the header:
--   caller  the user of token $3; NULL when $3 is NULL, unknown or expired
--   type    the room's type; NULL when there is no such live room, or when
--           the token is not valid (the room is then not read at all)
--   users   the room's users, a JSON array sorted bytewise
-- then one row per message, newest first, header columns NULL:
--   json    the message as the API returns it (messages.json_text), or NULL
--           for a message stored before migration 0004, which comes as
--           ts, ts_is_string, sender, type, message for the server to render.
WITH head AS (
    SELECT a.username AS caller, r.id, r.type,
           (SELECT json_agg(username ORDER BY username COLLATE "C")::text
              FROM room_users
             WHERE room_id = r.id) AS users
      FROM (VALUES (1)) AS one (x)
      LEFT JOIN auth_tokens a
             ON a.token_sha256 = $3 AND (a.expires_at IS NULL OR a.expires_at > now())
      LEFT JOIN rooms r
             ON r.id = $1 AND r.expires_at > now()
            AND ($3::bytea IS NULL OR a.username IS NOT NULL)
)
SELECT caller, type, users, NULL AS json, NULL AS ts, NULL AS ts_is_string, NULL AS sender,
       NULL AS message_type, NULL AS message
  FROM head
UNION ALL
(SELECT NULL, NULL, NULL, m.json_text,
        CASE WHEN m.json_text IS NULL THEN m.ts END,
        CASE WHEN m.json_text IS NULL THEN m.ts_is_string END,
        CASE WHEN m.json_text IS NULL THEN m.sender END,
        CASE WHEN m.json_text IS NULL THEN m.type END,
        CASE WHEN m.json_text IS NULL THEN m.message END
   FROM messages m
  WHERE m.room_id = $1 AND (SELECT id IS NOT NULL FROM head)
  ORDER BY m.seq DESC
  LIMIT $2);
