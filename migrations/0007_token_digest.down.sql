-- 0007 down: tokens looked up by their text again (the post function of
-- 0004), and the digest column dropped.

DROP FUNCTION chat_post_message(text, text, boolean, boolean, text, boolean, text, text, text,
                                integer, integer, text, text, integer, bytea);

-- Appends a message to live room P_ROOM_ID, trims the room to
-- P_MAX_MESSAGES and refreshes its expiry, checking in the original's order:
-- sender's chat disabled, banned, muted, then the room, then membership.
-- P_IS_SECRET skips the sender and membership checks (API secret).
-- P_STORE false runs the checks only (the body was bad; the caller answers
-- 400 if every check passes).
-- P_JSON is the message as the API returns it, serialized by the server.
-- P_TOKEN (NULL: the server has checked the caller itself) is the table
-- token the caller used: unless it is valid and belongs to P_SENDER, the
-- answer is 'bad_token' before any other check.
-- P_NOTIFY_DATA (NULL: notifications off) is the notification's data object
-- as JSON text, P_PUSH the client's push value (JSON text or NULL): the
-- outbox rows are written in this same transaction, leased for P_LEASE_MS
-- (chat_queue_notifications).
-- Returns one row per notification queued, with status 'ok'; otherwise one
-- row with the status and NULL notification columns: 'ok', 'valid' (checks
-- passed, nothing stored), 'chat_disabled', 'banned', 'muted', 'not_found'
-- or 'not_member' (or 'bad_token', above).
CREATE FUNCTION chat_post_message(p_room_id text, p_sender text, p_is_secret boolean,
                                  p_store boolean, p_ts text, p_ts_is_string boolean,
                                  p_type text, p_message text, p_json text,
                                  p_max_messages integer, p_ttl_seconds integer,
                                  p_notify_data text, p_push text, p_lease_ms integer,
                                  p_token text)
RETURNS TABLE (status text, id bigint, to_user text, type text, data text, push text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_disabled boolean;
    v_banned boolean;
    v_muted boolean;
    v_seq bigint;
BEGIN
    IF p_token IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM auth_tokens a
            WHERE a.token = p_token AND a.username = p_sender
              AND (a.expires_at IS NULL OR a.expires_at > now())) THEN
        status := 'bad_token';
        RETURN NEXT;
        RETURN;
    END IF;

    IF NOT p_is_secret THEN
        SELECT coalesce(bool_or(key = '$chatdisabled' AND value = 'true'), false),
               coalesce(bool_or(key = '$banned' AND value ~ '^\s*[-+]?[0-9]'), false),
               coalesce(bool_or(key = '$muted' AND value = 'true'), false)
          INTO v_disabled, v_banned, v_muted
          FROM usermeta
         WHERE username = p_sender AND key IN ('$chatdisabled', '$banned', '$muted');
        status := CASE WHEN v_disabled THEN 'chat_disabled'
                       WHEN v_banned THEN 'banned'
                       WHEN v_muted THEN 'muted' END;
        IF status IS NOT NULL THEN
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    IF p_store THEN
        -- Bumping last_seq locks the room row: concurrent writers of one
        -- room queue here, so seq order is commit order and the trim below
        -- is exact.
        UPDATE rooms r
           SET last_seq = r.last_seq + 1,
               expires_at = now() + make_interval(secs => p_ttl_seconds)
         WHERE r.id = p_room_id AND r.expires_at > now()
           AND (p_is_secret OR EXISTS (SELECT 1 FROM room_users u
                                        WHERE u.room_id = r.id AND u.username = p_sender))
        RETURNING r.last_seq INTO v_seq;
        IF FOUND THEN
            INSERT INTO messages (room_id, seq, ts, ts_is_string, sender, type, message, json_text)
                 VALUES (p_room_id, v_seq, p_ts, p_ts_is_string, p_sender, p_type, p_message,
                         p_json);
            DELETE FROM messages m WHERE m.room_id = p_room_id AND m.seq <= v_seq - p_max_messages;
            IF p_notify_data IS NOT NULL THEN
                RETURN QUERY
                SELECT 'ok'::text, q.id, q.to_user, q.type, q.data, q.push
                  FROM chat_queue_notifications(p_room_id, p_sender, p_notify_data, p_push,
                                                p_lease_ms) q;
                IF FOUND THEN
                    RETURN;
                END IF;
            END IF;
            status := 'ok';
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM rooms r WHERE r.id = p_room_id AND r.expires_at > now()) THEN
        status := 'not_found';
    ELSIF NOT p_is_secret AND NOT EXISTS (SELECT 1 FROM room_users u
                                           WHERE u.room_id = p_room_id
                                             AND u.username = p_sender) THEN
        status := 'not_member';
    ELSE
        status := 'valid';
    END IF;
    RETURN NEXT;
END;
$fn$;

DROP INDEX auth_tokens_token_sha256_key;
ALTER TABLE auth_tokens DROP COLUMN token_sha256;
DROP FUNCTION chat_token_digest(text);
