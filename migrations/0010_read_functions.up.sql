-- 0010: the two reads with a query of their own (get_room, history) become
-- plpgsql functions. PostgreSQL keeps a function's plans for the life of
-- the backend, whoever calls it: behind a transaction pooler, where the
-- server cannot keep prepared statements (each transaction may land on
-- another backend) and sends every statement unnamed, the statement is a
-- bare function call, cheap to plan, and the real query is planned once
-- per backend, not once per request (docs/operations.md, pgbouncer).

-- The live room P_ROOM_ID with its P_LIMIT newest messages, read for the
-- caller holding the table token whose SHA-256 is P_TOKEN_SHA256 (NULL: the
-- API secret or SECRET.name). The first row is the header: caller (the
-- token's user; NULL when no token, or unknown or expired), type (NULL when
-- there is no such live room, or the token is not valid: the room is then
-- not read at all), users (a JSON array sorted bytewise); then one row per
-- message, newest first, header columns NULL: json (messages.json_text), or
-- for a message stored before migration 0004 NULL and ts, ts_is_string,
-- sender, message_type, message for the server to render.
CREATE FUNCTION chat_get_room(p_room_id text, p_limit integer, p_token_sha256 bytea)
RETURNS TABLE (caller text, type text, users text, json text, ts text, ts_is_string boolean,
               sender text, message_type text, message text)
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH head AS (
        SELECT a.username AS caller, r.id, r.type,
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
    SELECT h.caller, h.type, h.users, NULL::text, NULL::text, NULL::boolean, NULL::text,
           NULL::text, NULL::text
      FROM head h
    UNION ALL
    (SELECT NULL, NULL, NULL, m.json_text,
            CASE WHEN m.json_text IS NULL THEN m.ts END,
            CASE WHEN m.json_text IS NULL THEN m.ts_is_string END,
            CASE WHEN m.json_text IS NULL THEN m.sender END,
            CASE WHEN m.json_text IS NULL THEN m.type END,
            CASE WHEN m.json_text IS NULL THEN m.message END
       FROM messages m
      WHERE m.room_id = p_room_id AND (SELECT h.id IS NOT NULL FROM head h)
      ORDER BY m.seq DESC
      LIMIT p_limit);
END;
$fn$;

-- A page of live room P_ROOM_ID from the record, newest first, for the
-- caller holding the table token whose SHA-256 is P_TOKEN_SHA256 (NULL: the
-- API secret or SECRET.name): messages with an id below P_BEFORE (NULL:
-- from the newest), at most P_LIMIT, not redacted, stored since the room was
-- last created. The first row is the header (caller, type, users as in
-- chat_get_room), then one row per message: id (the cursor), json, or for a
-- message stored before migration 0004 NULL and its columns.
CREATE FUNCTION chat_history(p_room_id text, p_token_sha256 bytea, p_before bigint,
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
        AND m.id < coalesce(p_before, 9223372036854775807)
        AND (SELECT h.id IS NOT NULL FROM head h)
      ORDER BY m.id DESC
      LIMIT p_limit);
END;
$fn$;
