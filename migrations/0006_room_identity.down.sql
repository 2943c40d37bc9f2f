-- 0006 down: create-room and system messages take any live room of the id
-- again, whatever its type and users (the functions of 0002 and 0004).

CREATE OR REPLACE FUNCTION chat_create_room(p_id text, p_type text, p_users text[],
                                            p_user text, p_ttl_seconds integer)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    v_expires timestamptz := now() + make_interval(secs => p_ttl_seconds);
    v_live boolean;
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
    SELECT expires_at > now() INTO v_live FROM rooms WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN chat_create_room(p_id, p_type, p_users, NULL, p_ttl_seconds);
    END IF;
    UPDATE rooms SET expires_at = v_expires WHERE id = p_id;
    IF v_live THEN
        RETURN 'exists';
    END IF;
    DELETE FROM messages WHERE room_id = p_id;
    DELETE FROM room_users WHERE room_id = p_id;
    UPDATE rooms SET type = p_type, created_at = now() WHERE id = p_id;
    INSERT INTO room_users (room_id, username) SELECT p_id, unnest(p_users);
    RETURN 'created';
END;
$fn$;

CREATE OR REPLACE FUNCTION chat_system_message(p_id text, p_type text, p_users text[],
                                               p_ts text, p_ts_is_string boolean,
                                               p_message text, p_json text,
                                               p_max_messages integer, p_ttl_seconds integer,
                                               p_notify_data text, p_lease_ms integer)
RETURNS TABLE (status text, id bigint, to_user text, type text, data text, push text)
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM chat_create_room(p_id, p_type, p_users, NULL, p_ttl_seconds);
    RETURN QUERY
    SELECT * FROM chat_post_message(p_id, '$$', true, true, p_ts, p_ts_is_string, 'event',
                                    p_message, p_json, p_max_messages, p_ttl_seconds,
                                    p_notify_data, NULL, p_lease_ms, NULL);
END;
$fn$;
