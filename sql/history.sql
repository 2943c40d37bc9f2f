-- history: a page of live room $1 from the record, newest first, for the
-- caller holding the table token whose SHA-256 is $2 (bytea; NULL when the
-- caller used the API secret or SECRET.name): messages with an id below $3
-- (NULL: from the newest), at most $4, not redacted, stored since the room
-- was last created (an expired room's earlier messages are for auditors).
-- The first row is the header, as get_room's:
--   caller  the user of token $2; NULL when $2 is NULL, unknown or expired
--   type    the room's type; NULL when there is no such live room, or when
--           the token is not valid (the record is then not read at all)
--   users   the room's users, a JSON array sorted bytewise
-- then one row per message, header columns NULL:
--   id      the message id (the cursor)
--   json    its JSON as stored, or NULL for a message stored before
--           migration 0004, which comes as ts, ts_is_string, sender, type,
--           message for the server to render.
WITH head AS (
    SELECT a.username AS caller, r.id, r.type, r.created_at,
           (SELECT json_agg(username ORDER BY username COLLATE "C")::text
              FROM room_users
             WHERE room_id = r.id) AS users
      FROM (VALUES (1)) AS one (x)
      LEFT JOIN auth_tokens a
             ON a.token_sha256 = $2 AND (a.expires_at IS NULL OR a.expires_at > now())
      LEFT JOIN rooms r
             ON r.id = $1 AND r.expires_at > now()
            AND ($2::bytea IS NULL OR a.username IS NOT NULL)
)
SELECT caller, type, users, NULL::bigint AS id, NULL AS json, NULL AS ts,
       NULL::boolean AS ts_is_string, NULL AS sender, NULL AS message_type, NULL AS message
  FROM head
UNION ALL
(SELECT NULL, NULL, NULL, m.id, m.json_text,
        CASE WHEN m.json_text IS NULL THEN m.ts END,
        CASE WHEN m.json_text IS NULL THEN m.ts_is_string END,
        CASE WHEN m.json_text IS NULL THEN m.sender END,
        CASE WHEN m.json_text IS NULL THEN m.type END,
        CASE WHEN m.json_text IS NULL THEN m.message END
   FROM message_archive m
  WHERE m.room_id = $1 AND m.redacted_at IS NULL
    AND m.stored_at >= (SELECT created_at FROM head)
    AND m.id < coalesce($3::bigint, 9223372036854775807)
    AND (SELECT id IS NOT NULL FROM head)
  ORDER BY m.id DESC
  LIMIT $4);
