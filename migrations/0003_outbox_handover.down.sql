-- 0003 down: the functions as 0002 made them (every post's rows due at
-- once, claimed by the dispatchers, woken by a NOTIFY when the outbox was idle).

DROP FUNCTION chat_system_message(text, text, text[], text, boolean, text, integer, integer, text,
                                  integer);
DROP FUNCTION chat_post_message(text, text, boolean, boolean, text, boolean, text, text, integer,
                                integer, text, text, integer);
DROP FUNCTION chat_queue_notifications(text, text, text, text, integer);

-- Queues the notifications of a stored message from P_SENDER in room
-- P_ROOM_ID: one to every other user of the room, except receivers who are
-- muted, have chat disabled, or blocked the sender; and for each receiver
-- with chat disabled (and not muted), one 'chat-disabled' to the sender.
-- Wakes the dispatchers with a NOTIFY (delivered at commit) only when the
-- outbox had nothing pending: a NOTIFY holds a database-wide lock through
-- the commit, which serialized every post (measured: 2,660 instead of 5,740
-- transactions/s); while rows are pending, the dispatchers are awake anyway,
-- and the server that wrote the row wakes its own dispatcher in-process.
CREATE FUNCTION chat_queue_notifications(p_room_id text, p_sender text,
                                         p_data text, p_push text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    v_idle boolean := NOT EXISTS (SELECT 1 FROM notification_outbox WHERE failed_at IS NULL);
BEGIN
    WITH receivers AS (
        SELECT u.username,
               coalesce(bool_or(m.key = '$muted' AND m.value = 'true'), false) AS muted,
               coalesce(bool_or(m.key = '$chatdisabled' AND m.value = 'true'), false) AS disabled,
               coalesce(bool_or(m.key = '$blocked'
                                AND p_sender = ANY (string_to_array(m.value, ','))), false) AS blocked
          FROM room_users u
          LEFT JOIN usermeta m
                 ON m.username = u.username
                AND m.key IN ('$muted', '$chatdisabled', '$blocked')
         WHERE u.room_id = p_room_id AND u.username <> p_sender
         GROUP BY u.username
    )
    INSERT INTO notification_outbox (room_id, to_user, type, data, push)
    SELECT p_room_id, r.username, 'message', p_data, p_push
      FROM receivers r
     WHERE NOT r.muted AND NOT r.disabled AND NOT r.blocked
    UNION ALL
    SELECT p_room_id, p_sender, 'chat-disabled',
           json_build_object('receiver', r.username)::text, NULL
      FROM receivers r
     WHERE r.disabled AND NOT r.muted AND p_sender <> '$$';
    IF FOUND AND v_idle THEN
        PERFORM pg_notify('chat_outbox', '');
    END IF;
END;
$fn$;

-- Appends a message to live room P_ROOM_ID, trims the room to
-- P_MAX_MESSAGES and refreshes its expiry, checking in the original's order:
-- sender's chat disabled, banned, muted, then the room, then membership.
-- P_IS_SECRET skips the sender and membership checks (API secret).
-- P_STORE false runs the checks only (the body was bad; the caller answers
-- 400 if every check passes).
-- P_NOTIFY_DATA (NULL: notifications off) is the notification's data object
-- as JSON text, P_PUSH the client's push value (JSON text or NULL): the
-- outbox rows are written in this same transaction (chat_queue_notifications).
-- Returns 'ok', 'valid' (checks passed, nothing stored), 'chat_disabled',
-- 'banned', 'muted', 'not_found' or 'not_member'.
CREATE FUNCTION chat_post_message(p_room_id text, p_sender text, p_is_secret boolean,
                                  p_store boolean, p_ts text, p_ts_is_string boolean,
                                  p_type text, p_message text,
                                  p_max_messages integer, p_ttl_seconds integer,
                                  p_notify_data text, p_push text)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    v_disabled boolean;
    v_banned boolean;
    v_muted boolean;
    v_seq bigint;
BEGIN
    IF NOT p_is_secret THEN
        SELECT coalesce(bool_or(key = '$chatdisabled' AND value = 'true'), false),
               coalesce(bool_or(key = '$banned' AND value ~ '^\s*[-+]?[0-9]'), false),
               coalesce(bool_or(key = '$muted' AND value = 'true'), false)
          INTO v_disabled, v_banned, v_muted
          FROM usermeta
         WHERE username = p_sender AND key IN ('$chatdisabled', '$banned', '$muted');
        IF v_disabled THEN RETURN 'chat_disabled'; END IF;
        IF v_banned THEN RETURN 'banned'; END IF;
        IF v_muted THEN RETURN 'muted'; END IF;
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
            INSERT INTO messages (room_id, seq, ts, ts_is_string, sender, type, message)
                 VALUES (p_room_id, v_seq, p_ts, p_ts_is_string, p_sender, p_type, p_message);
            DELETE FROM messages WHERE room_id = p_room_id AND seq <= v_seq - p_max_messages;
            IF p_notify_data IS NOT NULL THEN
                PERFORM chat_queue_notifications(p_room_id, p_sender, p_notify_data, p_push);
            END IF;
            RETURN 'ok';
        END IF;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM rooms WHERE id = p_room_id AND expires_at > now()) THEN
        RETURN 'not_found';
    END IF;
    IF NOT p_is_secret AND NOT EXISTS (SELECT 1 FROM room_users
                                        WHERE room_id = p_room_id AND username = p_sender) THEN
        RETURN 'not_member';
    END IF;
    RETURN 'valid';
END;
$fn$;

-- A system message: creates the room when missing (or expired), then
-- appends {from: '$$', type: 'event'}. Returns chat_post_message's status.
CREATE FUNCTION chat_system_message(p_id text, p_type text, p_users text[],
                                    p_ts text, p_ts_is_string boolean, p_message text,
                                    p_max_messages integer, p_ttl_seconds integer,
                                    p_notify_data text)
RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM chat_create_room(p_id, p_type, p_users, NULL, p_ttl_seconds);
    RETURN chat_post_message(p_id, '$$', true, true, p_ts, p_ts_is_string, 'event',
                             p_message, p_max_messages, p_ttl_seconds, p_notify_data, NULL);
END;
$fn$;
