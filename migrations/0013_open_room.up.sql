-- 0013: POST rooms for a room that is there, in one statement and, most of
-- the time, without a write. chat_open_room checks a remembered table token
-- itself (as chat_post_message does), finds the live room of this type and
-- users, moves its expiry only when the new one is more than
-- P_REFRESH_SLACK_SECONDS later than the stored one (so a room opened again
-- and again is written once per slack, not once per call: no WAL flush to
-- wait for), and returns the room's newest messages in the same call. Any
-- other case (a new or expired room, another type or users, a banned
-- caller, a room expiring under it) goes through chat_create_room as
-- before. Rows: the status first ('created', 'exists', 'banned',
-- 'conflict', 'bad_token'), then for 'exists' one row per message, newest
-- first, as chat_get_room's.
CREATE FUNCTION chat_open_room(p_id text, p_type text, p_users text[], p_user text,
                               p_ttl_seconds integer, p_policies jsonb, p_limit integer,
                               p_token_sha256 bytea, p_refresh_slack_seconds integer)
RETURNS TABLE (status text, json text, ts text, ts_is_string boolean, sender text,
               message_type text, message text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_expires timestamptz := now() + make_interval(secs => p_ttl_seconds);
    v_stored timestamptz;
    v_status text;
BEGIN
    IF p_token_sha256 IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM auth_tokens a
            WHERE a.token_sha256 = p_token_sha256 AND a.username = p_user
              AND (a.expires_at IS NULL OR a.expires_at > now())) THEN
        status := 'bad_token';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT r.expires_at INTO v_stored
      FROM rooms r
     WHERE r.id = p_id AND r.type = p_type AND r.expires_at > now()
       AND (SELECT count(*) = cardinality(p_users) AND bool_and(u.username = ANY (p_users))
              FROM room_users u WHERE u.room_id = r.id);
    IF FOUND AND NOT (p_user IS NOT NULL AND chat_is_banned(p_user, p_policies)) THEN
        v_status := 'exists';
        IF v_stored < v_expires - make_interval(secs => p_refresh_slack_seconds) THEN
            UPDATE rooms SET expires_at = v_expires WHERE id = p_id AND expires_at > now();
            IF NOT FOUND THEN   -- expired meanwhile: as a new room
                v_status := chat_create_room(p_id, p_type, p_users, p_user, p_ttl_seconds,
                                             p_policies);
            END IF;
        END IF;
    ELSE
        v_status := chat_create_room(p_id, p_type, p_users, p_user, p_ttl_seconds, p_policies);
    END IF;
    status := v_status;
    RETURN NEXT;
    IF v_status = 'exists' THEN
        RETURN QUERY
        SELECT NULL::text, m.json_text,
               CASE WHEN m.json_text IS NULL THEN m.ts END,
               CASE WHEN m.json_text IS NULL THEN m.ts_is_string END,
               CASE WHEN m.json_text IS NULL THEN m.sender END,
               CASE WHEN m.json_text IS NULL THEN m.type END,
               CASE WHEN m.json_text IS NULL THEN m.message END
          FROM messages m
         WHERE m.room_id = p_id
         ORDER BY m.seq DESC
         LIMIT p_limit;
    END IF;
END;
$fn$;
