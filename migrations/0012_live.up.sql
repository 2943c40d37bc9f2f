-- 0012: live updates (GET events, long-poll). Each message row carries the
-- id of the transaction that stored it (xid8: 64 bits, no wraparound). A
-- server reads new messages in (xid, id) order, and only those of
-- transactions older than every transaction still running (the snapshot's
-- xmin): those can no longer be joined by an older one committing late, so
-- a cursor (xid, id) leaves no gap and repeats nothing, across server
-- copies. Rows stored before 0012 have no xid: they are never sent live.
ALTER TABLE messages ADD COLUMN xid xid8;
ALTER TABLE messages ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX messages_xid_idx ON messages (xid, id);

-- The messages of live room P_ROOM_ID newer than message P_AFTER, oldest
-- first, at most P_LIMIT, from the record (as chat_history reads it: not
-- redacted, stored since the room was last created), for the caller of the
-- table token whose SHA-256 is P_TOKEN_SHA256 (NULL: the API secret or
-- SECRET.name). The rows are chat_history's: a header, then the messages.
-- Message ids grow in commit order within a room (taken under the room's
-- row lock), so "newer than" leaves no gap.
CREATE FUNCTION chat_history_after(p_room_id text, p_token_sha256 bytea, p_after bigint,
                                   p_limit integer)
RETURNS TABLE (caller text, type text, users text, id bigint, json text, ts text,
               ts_is_string boolean, sender text, message_type text, message text)
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH head AS (
        SELECT a.username AS caller, r.id, r.type, r.created_at,
               (SELECT json_agg(u.username ORDER BY u.username COLLATE "C")::text
                  FROM room_users u
                 WHERE u.room_id = r.id) AS users
          FROM (VALUES (1)) AS one (x)
          LEFT JOIN auth_tokens a
                 ON a.token_sha256 = p_token_sha256
                AND (a.expires_at IS NULL OR a.expires_at > now())
          LEFT JOIN rooms r
                 ON r.id = p_room_id AND r.expires_at > now()
                AND (p_token_sha256 IS NULL OR a.username IS NOT NULL)
    )
    SELECT h.caller, h.type, h.users, NULL::bigint, NULL::text, NULL::text, NULL::boolean,
           NULL::text, NULL::text, NULL::text
      FROM head h
    UNION ALL
    (SELECT NULL, NULL, NULL, m.id, m.json_text,
            CASE WHEN m.json_text IS NULL THEN m.ts END,
            CASE WHEN m.json_text IS NULL THEN m.ts_is_string END,
            CASE WHEN m.json_text IS NULL THEN m.sender END,
            CASE WHEN m.json_text IS NULL THEN m.type END,
            CASE WHEN m.json_text IS NULL THEN m.message END
       FROM message_archive m
      WHERE m.room_id = p_room_id AND m.redacted_at IS NULL
        AND m.stored_at >= (SELECT h.created_at FROM head h)
        AND m.id > p_after
        AND (SELECT h.id IS NOT NULL FROM head h)
      ORDER BY m.id
      LIMIT p_limit);
END;
$fn$;
