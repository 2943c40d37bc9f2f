-- 0006: a room id names one room only.
-- A room id is "<type>/<users sorted, joined by '/'>", and types may hold
-- '/', so two different rooms can make the same id: {"type":"col/alice",
-- "users":["bob"]} and {"type":"col","users":["alice","bob"]} are both
-- "col/alice/bob". The server now refuses user names holding '/', and
-- creating (or posting a system message to) a live room whose stored type
-- or users differ from the request's answers 'conflict' (409): nothing is
-- changed, the expiry is not refreshed, nothing of the stored room is read
-- back to the caller. Rooms stored before 0006 keep working for their own
-- members; a request that collides with one of them gets the same 409.

-- Creates room P_ID, or refreshes the expiry of the live room of that id
-- when it has P_TYPE and P_USERS ('conflict' when it has not). An expired
-- room still on disk is emptied and started again, as if the expiry job
-- had already deleted it. P_USER is the caller (NULL for the API secret),
-- checked for a ban first.
-- Returns 'banned', 'created', 'exists' or 'conflict'.
CREATE OR REPLACE FUNCTION chat_create_room(p_id text, p_type text, p_users text[],
                                            p_user text, p_ttl_seconds integer)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    v_expires timestamptz := now() + make_interval(secs => p_ttl_seconds);
    v_live boolean;
    v_same_type boolean;
    v_same_users boolean;
BEGIN
    IF p_user IS NOT NULL AND chat_is_banned(p_user) THEN
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
        RETURN chat_create_room(p_id, p_type, p_users, NULL, p_ttl_seconds);
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

-- A system message: creates the room when missing (or expired), then
-- appends {from: '$$', type: 'event'}. Returns chat_post_message's rows, or
-- one row with status 'conflict' (nothing stored) when a live room of that
-- id has another type or other users.
CREATE OR REPLACE FUNCTION chat_system_message(p_id text, p_type text, p_users text[],
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
