-- 0009: one set of policy rules for two sources. The original reads ban,
-- mute, block and chat-disabled policies from the usermeta Redis; this
-- service reads the usermeta table, or, when REDIS_USERMETA_PORT_6379_TCP_ADDR
-- is set, the values the server read from that Redis in one MGET, passed
-- as p_policies (jsonb). The rules themselves are in chat_user_policies
-- only; the functions that apply them take the values as a last argument.

DROP FUNCTION chat_system_message(text, text, text[], text, boolean, text, text, integer, integer,
                                  text, integer, boolean, text);
DROP FUNCTION chat_post_message(text, text, boolean, boolean, text, boolean, text, text, text,
                                integer, integer, text, text, integer, bytea, boolean, text);
DROP FUNCTION chat_queue_notifications(text, text, text, text, integer);
DROP FUNCTION chat_create_room(text, text, text[], text, integer);
DROP FUNCTION chat_is_banned(text);

-- The policies of P_USERS, by the original's rules, from one of two
-- sources: the usermeta table, or (P_GIVEN not NULL) the values the server
-- read from the usermeta Redis, {"<user>": {"<key>": "<value>"}}. One row
-- per user with any policy. The rules live here only:
--   banned         $banned starts with an integer, as parseInt reads it
--                  (ganomede-users writes a time to ban, "<no>" to unban)
--   muted          $muted = 'true'
--   chat_disabled  $chatdisabled = 'true'
--   blocked        $blocked, a comma-separated list of user names
CREATE FUNCTION chat_user_policies(p_users text[], p_given jsonb)
RETURNS TABLE (username text, banned boolean, muted boolean, chat_disabled boolean,
               blocked text[])
LANGUAGE sql STABLE AS $fn$
    SELECT s.username,
           coalesce(bool_or(s.key = '$banned' AND s.value ~ '^\s*[-+]?[0-9]'), false),
           coalesce(bool_or(s.key = '$muted' AND s.value = 'true'), false),
           coalesce(bool_or(s.key = '$chatdisabled' AND s.value = 'true'), false),
           coalesce(string_to_array(max(s.value) FILTER (WHERE s.key = '$blocked'), ','),
                    '{}')
      FROM (SELECT m.username, m.key, m.value
              FROM usermeta m
             WHERE p_given IS NULL AND m.username = ANY (p_users)
               AND m.key IN ('$banned', '$muted', '$chatdisabled', '$blocked')
            UNION ALL
            SELECT u.key, k.key, k.value
              FROM jsonb_each(p_given) u, jsonb_each_text(u.value) k
             WHERE u.key = ANY (p_users)) s
     GROUP BY s.username;
$fn$;

-- True when USERNAME is banned (chat_user_policies, from the table or P_GIVEN).
CREATE FUNCTION chat_is_banned(p_username text, p_given jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT coalesce((SELECT p.banned FROM chat_user_policies(ARRAY[p_username], p_given) p),
                    false);
$fn$;

-- Creates room P_ID, or refreshes the expiry of the live room of that id
-- when it has P_TYPE and P_USERS ('conflict' when it has not). An expired
-- room still on disk is emptied and started again, as if the expiry job
-- had already deleted it. P_USER is the caller (NULL for the API secret),
-- checked for a ban first. P_POLICIES: see chat_user_policies (NULL: the
-- usermeta table).
-- Returns 'banned', 'created', 'exists' or 'conflict'.
CREATE FUNCTION chat_create_room(p_id text, p_type text, p_users text[], p_user text,
                                 p_ttl_seconds integer, p_policies jsonb)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    v_expires timestamptz := now() + make_interval(secs => p_ttl_seconds);
    v_live boolean;
    v_same_type boolean;
    v_same_users boolean;
BEGIN
    IF p_user IS NOT NULL AND chat_is_banned(p_user, p_policies) THEN
        RETURN 'banned';
    END IF;
    INSERT INTO rooms (id, type, expires_at) VALUES (p_id, p_type, v_expires)
        ON CONFLICT (id) DO NOTHING;
    IF FOUND THEN
        INSERT INTO room_users (room_id, username) SELECT p_id, unnest(p_users);
        RETURN 'created';
    END IF;
    -- The row exists (maybe inserted by a concurrent create that has now
    -- committed): lock it and decide on its expiry, then on its identity.
    SELECT expires_at > now(), type = p_type INTO v_live, v_same_type
      FROM rooms WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        -- Deleted by the expiry job between our two statements.
        RETURN chat_create_room(p_id, p_type, p_users, NULL, p_ttl_seconds, NULL);
    END IF;
    IF v_live THEN
        -- The same users: as many, and each stored one among P_USERS (both
        -- lists are free of repeats: P_USERS by the server's check,
        -- room_users by its key).
        SELECT count(*) = cardinality(p_users) AND bool_and(username = ANY (p_users))
          INTO v_same_users
          FROM room_users WHERE room_id = p_id;
        IF NOT (v_same_type AND v_same_users) THEN
            RETURN 'conflict';
        END IF;
        UPDATE rooms SET expires_at = v_expires WHERE id = p_id;
        RETURN 'exists';
    END IF;
    DELETE FROM messages WHERE room_id = p_id;
    DELETE FROM room_users WHERE room_id = p_id;
    UPDATE rooms SET type = p_type, created_at = now(), expires_at = v_expires WHERE id = p_id;
    INSERT INTO room_users (room_id, username) SELECT p_id, unnest(p_users);
    RETURN 'created';
END;
$fn$;

-- Queues the notifications of a stored message from P_SENDER in room
-- P_ROOM_ID: one to every other user of the room, except receivers who are
-- muted, have chat disabled, or blocked the sender; and for each receiver
-- with chat disabled (and not muted), one 'chat-disabled' to the sender.
-- Returns the rows queued, leased for P_LEASE_MS to the caller.
-- P_POLICIES: see chat_user_policies (NULL: the usermeta table).
CREATE FUNCTION chat_queue_notifications(p_room_id text, p_sender text, p_data text,
                                         p_push text, p_lease_ms integer, p_policies jsonb)
RETURNS TABLE (id bigint, to_user text, type text, data text, push text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH receivers AS (
        SELECT u.username,
               coalesce(p.muted, false) AS muted,
               coalesce(p.chat_disabled, false) AS disabled,
               coalesce(p_sender = ANY (p.blocked), false) AS blocked
          FROM room_users u
          LEFT JOIN LATERAL chat_user_policies(ARRAY[u.username], p_policies) p ON true
         WHERE u.room_id = p_room_id AND u.username <> p_sender
    ), notes (to_user, type, data, push) AS (
        SELECT r.username, 'message', p_data, p_push
          FROM receivers r
         WHERE NOT r.muted AND NOT r.disabled AND NOT r.blocked
        UNION ALL
        SELECT p_sender, 'chat-disabled', json_build_object('receiver', r.username)::text, NULL
          FROM receivers r
         WHERE r.disabled AND NOT r.muted AND p_sender <> '$$'
    ), queued AS (
        INSERT INTO notification_outbox AS o
               (room_id, to_user, type, data, push, attempts, next_attempt_at)
        SELECT p_room_id, n.to_user, n.type, n.data, n.push,
               CASE WHEN p_lease_ms IS NULL THEN 0 ELSE 1 END,
               now() + make_interval(secs => coalesce(p_lease_ms, 0) / 1000.0)
          FROM notes n
        RETURNING o.id, o.to_user, o.type, o.data, o.push
    )
    SELECT q.id, q.to_user, q.type, q.data, q.push FROM queued q;
    IF FOUND AND p_lease_ms IS NULL THEN
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
-- P_JSON is the message as the API returns it, serialized by the server.
-- P_TOKEN_SHA256 (NULL: the server has checked the caller itself) is the
-- SHA-256 of the table token the caller used: unless that token is valid
-- and belongs to P_SENDER, the answer is 'bad_token' before any other check.
-- P_ARCHIVE: the message also goes to the record (chat_store_message), with
-- P_REQUEST_ID.
-- P_POLICIES: the sender's and receivers' policies (chat_user_policies; NULL:
-- the usermeta table).
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
                                  p_token_sha256 bytea, p_archive boolean, p_request_id text,
                                  p_policies jsonb)
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
        SELECT p.chat_disabled, p.banned, p.muted INTO v_disabled, v_banned, v_muted
          FROM chat_user_policies(ARRAY[p_sender], p_policies) p;
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
            PERFORM chat_store_message(p_room_id, v_seq, p_ts, p_ts_is_string, p_sender, p_type,
                                       p_message, p_json, p_max_messages, p_archive,
                                       p_request_id);
            IF p_notify_data IS NOT NULL THEN
                RETURN QUERY
                SELECT 'ok'::text, q.id, q.to_user, q.type, q.data, q.push
                  FROM chat_queue_notifications(p_room_id, p_sender, p_notify_data, p_push,
                                                p_lease_ms, p_policies) q;
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
-- id has another type or other users. P_POLICIES: the receivers' policies
-- (chat_user_policies; NULL: the usermeta table).
CREATE FUNCTION chat_system_message(p_id text, p_type text, p_users text[],
                                    p_ts text, p_ts_is_string boolean, p_message text,
                                    p_json text, p_max_messages integer, p_ttl_seconds integer,
                                    p_notify_data text, p_lease_ms integer, p_archive boolean,
                                    p_request_id text, p_policies jsonb)
RETURNS TABLE (status text, id bigint, to_user text, type text, data text, push text)
LANGUAGE plpgsql AS $fn$
BEGIN
    IF chat_create_room(p_id, p_type, p_users, NULL, p_ttl_seconds, NULL) = 'conflict' THEN
        status := 'conflict';
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT * FROM chat_post_message(p_id, '$$', true, true, p_ts, p_ts_is_string, 'event',
                                    p_message, p_json, p_max_messages, p_ttl_seconds,
                                    p_notify_data, NULL, p_lease_ms, NULL, p_archive,
                                    p_request_id, p_policies);
END;
$fn$;
