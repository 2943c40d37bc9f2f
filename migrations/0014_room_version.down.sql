-- 0014 down: the redactions of 0008, without the room versions.
DROP FUNCTION chat_get_room_since(text, integer, bytea, text);
DROP FUNCTION chat_open_room_since(text, text, text[], text, integer, jsonb, integer, bytea,
                                   integer, text);
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
            DELETE FROM messages m WHERE m.room_id = v_room AND m.id = p_id;
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
    ), gone AS (
        DELETE FROM messages m USING done d WHERE m.room_id = d.room_id AND m.id = d.id
    )
    SELECT count(*) INTO v_count FROM done;
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

DROP FUNCTION chat_rooms_edited(text[]);
DROP FUNCTION chat_room_version(timestamptz, bigint, bigint);
ALTER TABLE rooms DROP COLUMN edits;
