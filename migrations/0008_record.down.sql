-- 0008 down: no record. The archive, holds and audit log are dropped with
-- everything in them; messages lose their ids; the post functions and the
-- pg_cron procedure are those of 0007 and 0002.

DROP PROCEDURE chat_expire(integer, integer, integer);
-- For pg_cron: deletes every expired room, one committed batch at a time,
-- so no transaction holds its locks for long.
--   SELECT cron.schedule('ganomede-chat-expiry', '*/10 * * * *', 'CALL chat_expire(1000)');
CREATE PROCEDURE chat_expire(p_batch_size integer DEFAULT 1000)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_deleted integer;
BEGIN
    -- The lock the servers' in-process job takes: one runner at a time.
    IF NOT pg_try_advisory_lock(7462630402) THEN
        RETURN;
    END IF;
    LOOP
        v_deleted := chat_expire_batch(p_batch_size);
        COMMIT;
        EXIT WHEN v_deleted < p_batch_size;
    END LOOP;
    PERFORM pg_advisory_unlock(7462630402);
END;
$fn$;

DROP FUNCTION chat_system_message(text, text, text[], text, boolean, text, text, integer, integer,
                                  text, integer, boolean, text);
DROP FUNCTION chat_post_message(text, text, boolean, boolean, text, boolean, text, text, text,
                                integer, integer, text, text, integer, bytea, boolean, text);

-- Appends a message to live room P_ROOM_ID, trims the room to
-- P_MAX_MESSAGES and refreshes its expiry, checking in the original's order:
-- sender's chat disabled, banned, muted, then the room, then membership.
-- P_IS_SECRET skips the sender and membership checks (API secret).
-- P_STORE false runs the checks only (the body was bad; the caller answers
-- 400 if every check passes).
-- P_JSON is the message as the API returns it, serialized by the server.
-- P_TOKEN_SHA256 (NULL: the server has checked the caller itself) is the
-- SHA-256 of the table token the caller used: unless that token is valid
-- and belongs to P_SENDER, the answer is 'bad_token' before any other check.
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
                                  p_token_sha256 bytea)
RETURNS TABLE (status text, id bigint, to_user text, type text, data text, push text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_disabled boolean;
    v_banned boolean;
    v_muted boolean;
    v_seq bigint;
BEGIN
    IF p_token_sha256 IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM auth_tokens a
            WHERE a.token_sha256 = p_token_sha256 AND a.username = p_sender
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


-- A system message: creates the room when missing (or expired), then
-- appends {from: '$$', type: 'event'}. Returns chat_post_message's rows, or
-- one row with status 'conflict' (nothing stored) when a live room of that
-- id has another type or other users.
CREATE FUNCTION chat_system_message(p_id text, p_type text, p_users text[],
                                    p_ts text, p_ts_is_string boolean,
                                    p_message text, p_json text,
                                    p_max_messages integer, p_ttl_seconds integer,
                                    p_notify_data text, p_lease_ms integer)
RETURNS TABLE (status text, id bigint, to_user text, type text, data text, push text)
LANGUAGE plpgsql AS $fn$
BEGIN
    IF chat_create_room(p_id, p_type, p_users, NULL, p_ttl_seconds) = 'conflict' THEN
        status := 'conflict';
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT * FROM chat_post_message(p_id, '$$', true, true, p_ts, p_ts_is_string, 'event',
                                    p_message, p_json, p_max_messages, p_ttl_seconds,
                                    p_notify_data, NULL, p_lease_ms, NULL);
END;
$fn$;

DROP FUNCTION chat_audit(text, text, text, text, jsonb, text);
DROP FUNCTION chat_record_search(text, text, timestamptz, timestamptz, bigint, integer);
DROP FUNCTION chat_hold_lift(bigint, text, text, text);
DROP FUNCTION chat_hold_set(text, text, text, text, text);
DROP FUNCTION chat_redact_user(text, timestamptz, boolean, text, text, integer, text);
DROP FUNCTION chat_redact_message(bigint, text, text, text);
DROP FUNCTION chat_archive_maintain(timestamptz, integer, integer, text);
DROP FUNCTION chat_store_message(text, bigint, text, boolean, text, text, text, text, integer,
                                 boolean, text);
DROP FUNCTION chat_archive_extend(timestamptz, timestamptz, integer);
DROP FUNCTION chat_is_held(text, text);
DROP FUNCTION chat_iso_time(timestamptz);
DROP VIEW message_record;
DROP TABLE audit_log, legal_holds, message_archive_held, message_archive;
DROP FUNCTION chat_record_guard();
ALTER TABLE messages DROP COLUMN id;
DROP SEQUENCE message_id_seq;
