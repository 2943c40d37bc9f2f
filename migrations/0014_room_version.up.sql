-- 0014: a version for what GET room answers, so that a server may keep a
-- room's answer and ask PostgreSQL only whether it still holds (one row)
-- instead of reading its hundred messages again (src/room_cache.c).
--
-- A room's kept messages change only when (a) a post stores one (and trims
-- the oldest): rooms.last_seq moves; (b) a redaction removes one:
-- rooms.edits moves (below); (c) the room is created again after expiring:
-- rooms.created_at moves. So (created_at, last_seq, edits) names one state
-- of a room's answer; users and type change only with (c). Anything that
-- later removes or changes a kept message outside a post must bump
-- rooms.edits in the same transaction (docs/architecture.md, room cache).
ALTER TABLE rooms ADD COLUMN edits bigint NOT NULL DEFAULT 0;

-- The version text of room R: its incarnation, its posts, its edits.
CREATE FUNCTION chat_room_version(p_created_at timestamptz, p_last_seq bigint, p_edits bigint)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT (extract(epoch FROM p_created_at) * 1000000)::bigint::text || '.' || p_last_seq::text
           || '.' || p_edits::text
$fn$;

-- Bumps the edits of rooms P_ROOMS, locked in id order: a redaction locks
-- a room before its messages, as a post does, so the two never deadlock.
CREATE FUNCTION chat_rooms_edited(p_rooms text[])
RETURNS void
LANGUAGE sql AS $fn$
    WITH locked AS (
        SELECT r.id FROM rooms r WHERE r.id = ANY (p_rooms) ORDER BY r.id FOR UPDATE
    )
    UPDATE rooms r SET edits = r.edits + 1 FROM locked l WHERE r.id = l.id
$fn$;

-- chat_get_room for a caller that may hold the room's answer at version
-- P_KNOWN: the header gains the version, and when it is P_KNOWN (or there
-- is no such live room, or the token is not valid) the header is all there
-- is: no users, no messages. One snapshot for all (STABLE), so the version
-- is the one of the messages returned.
CREATE FUNCTION chat_get_room_since(p_room_id text, p_limit integer, p_token_sha256 bytea,
                                    p_known text)
RETURNS TABLE (caller text, type text, users text, version text, json text, ts text,
               ts_is_string boolean, sender text, message_type text, message text)
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
DECLARE
    v_caller text;
    v_type text;
    v_version text;
BEGIN
    IF p_token_sha256 IS NOT NULL THEN
        SELECT a.username INTO v_caller
          FROM auth_tokens a
         WHERE a.token_sha256 = p_token_sha256
           AND (a.expires_at IS NULL OR a.expires_at > now());
    END IF;
    IF p_token_sha256 IS NULL OR v_caller IS NOT NULL THEN
        SELECT r.type, chat_room_version(r.created_at, r.last_seq, r.edits)
          INTO v_type, v_version
          FROM rooms r
         WHERE r.id = p_room_id AND r.expires_at > now();
    END IF;
    IF v_version IS NULL OR v_version = p_known THEN
        RETURN QUERY SELECT v_caller, v_type, NULL::text, v_version, NULL::text, NULL::text,
                            NULL::boolean, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT v_caller, v_type,
           (SELECT json_agg(u.username ORDER BY u.username COLLATE "C")::text
              FROM room_users u WHERE u.room_id = p_room_id),
           v_version, NULL::text, NULL::text, NULL::boolean, NULL::text, NULL::text, NULL::text
    UNION ALL
    (SELECT NULL, NULL, NULL, NULL, m.json_text,
            CASE WHEN m.json_text IS NULL THEN m.ts END,
            CASE WHEN m.json_text IS NULL THEN m.ts_is_string END,
            CASE WHEN m.json_text IS NULL THEN m.sender END,
            CASE WHEN m.json_text IS NULL THEN m.type END,
            CASE WHEN m.json_text IS NULL THEN m.message END
       FROM messages m
      WHERE m.room_id = p_room_id
      ORDER BY m.seq DESC
      LIMIT p_limit);
END;
$fn$;

-- The two redactions of 0008, now bumping the edits of the rooms whose kept
-- messages they remove (the rest as in 0008).
-- Redacts message P_ID: gone at once from its room (messages) and from
-- history; in the record it becomes a tombstone (who, when, why) whose
-- content is wiped unless a hold covers it. Returns 'redacted', 'already'
-- (redacted before: its time) or 'not_found', and whether it was wiped.
CREATE OR REPLACE FUNCTION chat_redact_message(p_id bigint, p_actor text, p_reason text,
                                    p_request_id text)
RETURNS TABLE (status text, redacted_at timestamptz, wiped boolean)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_room text;
    v_sender text;
    v_when timestamptz;
    v_wiped boolean;
    v_held boolean;
BEGIN
    SELECT r.room_id, r.sender, r.redacted_at, r.message IS NULL
      INTO v_room, v_sender, v_when, v_wiped
      FROM message_record r WHERE r.id = p_id;
    IF NOT FOUND THEN
        status := 'not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    v_held := chat_is_held(v_sender, v_room);
    IF v_when IS NULL THEN
        UPDATE message_archive a
           SET redacted_at = now(), redacted_by = p_actor, redaction_reason = p_reason,
               message = CASE WHEN v_held THEN a.message END,
               json_text = CASE WHEN v_held THEN a.json_text END
         WHERE a.id = p_id AND a.redacted_at IS NULL;
        IF NOT FOUND THEN
            UPDATE message_archive_held a
               SET redacted_at = now(), redacted_by = p_actor, redaction_reason = p_reason,
                   message = CASE WHEN v_held THEN a.message END,
                   json_text = CASE WHEN v_held THEN a.json_text END
             WHERE a.id = p_id AND a.redacted_at IS NULL;
        END IF;
        IF FOUND THEN
            IF EXISTS (SELECT 1 FROM messages m WHERE m.room_id = v_room AND m.id = p_id) THEN
                PERFORM chat_rooms_edited(ARRAY[v_room]);
                DELETE FROM messages m WHERE m.room_id = v_room AND m.id = p_id;
            END IF;
            INSERT INTO audit_log (actor, action, subject, reason, details, request_id)
                 VALUES (p_actor, 'redact_message', p_id::text, p_reason,
                         jsonb_build_object('room', v_room, 'sender', v_sender,
                                            'wiped', NOT v_held),
                         p_request_id);
            status := 'redacted';
            redacted_at := now();
            wiped := NOT v_held;
            RETURN NEXT;
            RETURN;
        END IF;
        -- Redacted meanwhile by a concurrent call.
        SELECT r.redacted_at, r.message IS NULL INTO v_when, v_wiped
          FROM message_record r WHERE r.id = p_id;
    END IF;
    status := 'already';
    redacted_at := v_when;
    wiped := v_wiped;
    RETURN NEXT;
END;
$fn$;

-- Redacts at most P_BATCH messages that P_USER sent (stored since P_SINCE
-- when it is not NULL) and that are not redacted yet, as
-- chat_redact_message does, in one transaction with one audit row. Their
-- content is kept for auditors unless P_ERASE; with P_ERASE nothing is done
-- and the status is 'held' when a hold covers any of them. Returns 'ok' and
-- how many were redacted (fewer than P_BATCH: none are left).
CREATE OR REPLACE FUNCTION chat_redact_user(p_user text, p_since timestamptz, p_erase boolean,
                                 p_actor text, p_reason text, p_batch integer,
                                 p_request_id text)
RETURNS TABLE (status text, redacted integer)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_count integer;
    v_more integer := 0;
    v_ids bigint[];
    v_rooms text[];
BEGIN
    IF p_erase AND (
           EXISTS (SELECT 1 FROM legal_holds h
                    WHERE h.lifted_at IS NULL AND h.kind = 'user' AND h.subject = p_user)
        OR EXISTS (SELECT 1 FROM message_record r
                     JOIN legal_holds h ON h.lifted_at IS NULL AND h.kind = 'room'
                                       AND h.subject = r.room_id
                    WHERE r.sender = p_user AND (p_since IS NULL OR r.stored_at >= p_since))
        OR EXISTS (SELECT 1 FROM messages m
                     JOIN legal_holds h ON h.lifted_at IS NULL AND h.kind = 'room'
                                       AND h.subject = m.room_id
                    WHERE m.sender = p_user AND (p_since IS NULL OR m.created_at >= p_since))) THEN
        status := 'held';
        redacted := 0;
        RETURN NEXT;
        RETURN;
    END IF;
    -- Messages a room still shows but the record lacks (stored with
    -- ARCHIVE=off) enter it first, so that they leave the room and leave a
    -- tombstone like the others.
    INSERT INTO message_archive (id, stored_at, room_id, sender, type, ts, ts_is_string,
                                 message, json_text)
    SELECT m.id, m.created_at, m.room_id, m.sender, m.type, m.ts, m.ts_is_string, m.message,
           m.json_text
      FROM messages m
     WHERE m.sender = p_user AND (p_since IS NULL OR m.created_at >= p_since)
       AND NOT EXISTS (SELECT 1 FROM message_record r WHERE r.id = m.id);
    WITH batch AS (
        SELECT a.id, a.stored_at FROM message_archive a
         WHERE a.sender = p_user AND a.redacted_at IS NULL
           AND (p_since IS NULL OR a.stored_at >= p_since)
         ORDER BY a.id
         LIMIT p_batch
           FOR UPDATE
    ), done AS (
        UPDATE message_archive a
           SET redacted_at = now(), redacted_by = p_actor, redaction_reason = p_reason,
               message = CASE WHEN p_erase THEN NULL ELSE a.message END,
               json_text = CASE WHEN p_erase THEN NULL ELSE a.json_text END
          FROM batch b
         WHERE a.id = b.id AND a.stored_at = b.stored_at
        RETURNING a.id, a.room_id
    )
    SELECT count(*), coalesce(array_agg(d.id), '{}'), coalesce(array_agg(d.room_id), '{}')
      INTO v_count, v_ids, v_rooms FROM done d;
    -- The rooms that show any of them: locked (their versions moved) before
    -- their messages go.
    PERFORM chat_rooms_edited(ARRAY(
        SELECT DISTINCT m.room_id
          FROM messages m JOIN unnest(v_ids, v_rooms) AS d (id, room_id)
            ON m.room_id = d.room_id AND m.id = d.id));
    DELETE FROM messages m USING unnest(v_ids, v_rooms) AS d (id, room_id)
     WHERE m.room_id = d.room_id AND m.id = d.id;
    IF v_count < p_batch THEN
        WITH done AS (
            UPDATE message_archive_held a
               SET redacted_at = now(), redacted_by = p_actor, redaction_reason = p_reason,
                   message = CASE WHEN p_erase THEN NULL ELSE a.message END,
                   json_text = CASE WHEN p_erase THEN NULL ELSE a.json_text END
             WHERE a.sender = p_user AND a.redacted_at IS NULL
               AND (p_since IS NULL OR a.stored_at >= p_since)
            RETURNING a.id
        )
        SELECT count(*) INTO v_more FROM done;
    END IF;
    IF v_count + v_more > 0 THEN
        INSERT INTO audit_log (actor, action, subject, reason, details, request_id)
             VALUES (p_actor, 'redact_user', p_user, p_reason,
                     jsonb_build_object('redacted', v_count + v_more, 'since', p_since,
                                        'erase', p_erase),
                     p_request_id);
    END IF;
    status := 'ok';
    redacted := v_count + v_more;
    RETURN NEXT;
END;
$fn$;

-- chat_open_room for a caller that may hold the room's answer at version
-- P_KNOWN (POST rooms answers a room that is there as GET room does). For
-- 'exists' the status row carries the room's version, and the messages
-- follow only when the version is not P_KNOWN; both read by one statement
-- (one snapshot). Other statuses come as chat_open_room gives them, without
-- a version. Rows as chat_open_room's, plus the version.
CREATE FUNCTION chat_open_room_since(p_id text, p_type text, p_users text[], p_user text,
                                     p_ttl_seconds integer, p_policies jsonb, p_limit integer,
                                     p_token_sha256 bytea, p_refresh_slack_seconds integer,
                                     p_known text)
RETURNS TABLE (status text, json text, ts text, ts_is_string boolean, sender text,
               message_type text, message text, version text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_status text;
BEGIN
    -- With no messages asked for, chat_open_room answers its status alone.
    SELECT o.status INTO v_status
      FROM chat_open_room(p_id, p_type, p_users, p_user, p_ttl_seconds, p_policies, 0,
                          p_token_sha256, p_refresh_slack_seconds) o;
    IF v_status IS DISTINCT FROM 'exists' THEN
        status := v_status;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY
    WITH v AS (
        SELECT chat_room_version(r.created_at, r.last_seq, r.edits) AS version
          FROM rooms r WHERE r.id = p_id
    )
    SELECT v_status, NULL::text, NULL::text, NULL::boolean, NULL::text, NULL::text, NULL::text,
           v.version
      FROM v
    UNION ALL
    (SELECT NULL, m.json_text,
            CASE WHEN m.json_text IS NULL THEN m.ts END,
            CASE WHEN m.json_text IS NULL THEN m.ts_is_string END,
            CASE WHEN m.json_text IS NULL THEN m.sender END,
            CASE WHEN m.json_text IS NULL THEN m.type END,
            CASE WHEN m.json_text IS NULL THEN m.message END,
            NULL::text
       FROM messages m, v
      WHERE m.room_id = p_id AND v.version IS DISTINCT FROM p_known
      ORDER BY m.seq DESC
      LIMIT p_limit);
END;
$fn$;
