-- 0008: the record. Every stored message, user or system, is also written
-- in the same transaction to message_archive, an append-only table
-- partitioned by storage time: trimming past MAX_MESSAGES and room expiry
-- change what members see (messages), never the record. Only redaction
-- (chat_redact_message, chat_redact_user) and retention
-- (chat_archive_maintain, which drops whole partitions and keeps what is
-- under a legal hold) change it, and every such action, holds and exports
-- included, is appended to audit_log in the same transaction.
-- Messages already stored enter the record here, with ids in the order
-- they were stored. See docs/operations.md (the record) and
-- docs/security.md (who can read it).

-- A message's stable id, shared by messages (what a room shows) and the
-- record; within a room, id order is commit order (posts to one room are
-- serialized by the room row's lock before they take an id).
CREATE SEQUENCE message_id_seq;
ALTER TABLE messages ADD COLUMN id bigint;
UPDATE messages m SET id = o.id
  FROM (SELECT room_id, seq, nextval('message_id_seq') AS id
          FROM (SELECT room_id, seq FROM messages ORDER BY created_at, room_id, seq) s) o
 WHERE m.room_id = o.room_id AND m.seq = o.seq;
ALTER TABLE messages ALTER COLUMN id SET DEFAULT nextval('message_id_seq');
ALTER TABLE messages ALTER COLUMN id SET NOT NULL;

-- The record. message and json_text are NULL once a redaction wiped them.
CREATE TABLE message_archive (
    id                bigint      NOT NULL,
    stored_at         timestamptz NOT NULL,
    room_id           text        NOT NULL,
    sender            text        NOT NULL,
    type              text        NOT NULL,
    ts                text        NOT NULL,
    ts_is_string      boolean     NOT NULL,
    message           text,
    json_text         text,
    request_id        text,
    redacted_at       timestamptz,
    redacted_by       text,
    redaction_reason  text,
    PRIMARY KEY (id, stored_at)
) PARTITION BY RANGE (stored_at);
CREATE INDEX message_archive_room_idx ON message_archive (room_id, id);
CREATE INDEX message_archive_sender_idx ON message_archive (sender, id);
-- Catches rows past the last partition if the job that creates them ahead
-- fell behind; chat_archive_maintain moves them into their partition.
CREATE TABLE message_archive_default PARTITION OF message_archive DEFAULT;

-- Held messages whose partition retention dropped: kept here until their
-- hold is lifted and they are past retention too.
CREATE TABLE message_archive_held (
    id                bigint      PRIMARY KEY,
    stored_at         timestamptz NOT NULL,
    room_id           text        NOT NULL,
    sender            text        NOT NULL,
    type              text        NOT NULL,
    ts                text        NOT NULL,
    ts_is_string      boolean     NOT NULL,
    message           text,
    json_text         text,
    request_id        text,
    redacted_at       timestamptz,
    redacted_by       text,
    redaction_reason  text
);
CREATE INDEX message_archive_held_room_idx ON message_archive_held (room_id, id);
CREATE INDEX message_archive_held_sender_idx ON message_archive_held (sender, id);

-- Everything on record, for searches, exports and redactions.
CREATE VIEW message_record AS
    SELECT * FROM message_archive
    UNION ALL
    SELECT * FROM message_archive_held;

-- Legal holds: a user's messages (those they sent) or a room's. An active
-- hold (lifted_at NULL) keeps its messages through retention and keeps
-- their content through redaction.
CREATE TABLE legal_holds (
    id           bigserial   PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('user', 'room')),
    subject      text        NOT NULL,
    reason       text        NOT NULL,
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    lifted_at    timestamptz,
    lifted_by    text,
    lift_reason  text
);
CREATE INDEX legal_holds_active_idx ON legal_holds (kind, subject) WHERE lifted_at IS NULL;

-- Every moderation action, in the transaction of the action.
CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    action      text        NOT NULL,
    subject     text,
    reason      text,
    details     jsonb       NOT NULL DEFAULT '{}',
    request_id  text
);

-- Append-only, enforced by the database for every role that is not a
-- superuser and does not own the tables (an owner could disable the
-- trigger, which is DDL: pgaudit's ddl class records it): an UPDATE, DELETE
-- or TRUNCATE of the record is refused unless it runs inside the functions
-- that may change it, as the PL/pgSQL call stack shows; the audit log is
-- never changed at all.
CREATE FUNCTION chat_record_guard() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_stack text;
BEGIN
    GET DIAGNOSTICS v_stack = PG_CONTEXT;
    IF TG_TABLE_NAME <> 'audit_log' AND TG_LEVEL = 'ROW' AND
       v_stack ~ 'PL/pgSQL function (chat_redact_message|chat_redact_user|chat_archive_maintain|chat_archive_extend)\(' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'the record changes only through chat_redact_message, chat_redact_user and retention';
END;
$fn$;
CREATE TRIGGER message_archive_append_only BEFORE UPDATE OR DELETE ON message_archive
    FOR EACH ROW EXECUTE FUNCTION chat_record_guard();
CREATE TRIGGER message_archive_no_truncate BEFORE TRUNCATE ON message_archive
    FOR EACH STATEMENT EXECUTE FUNCTION chat_record_guard();
CREATE TRIGGER message_archive_held_append_only BEFORE UPDATE OR DELETE ON message_archive_held
    FOR EACH ROW EXECUTE FUNCTION chat_record_guard();
CREATE TRIGGER message_archive_held_no_truncate BEFORE TRUNCATE ON message_archive_held
    FOR EACH STATEMENT EXECUTE FUNCTION chat_record_guard();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION chat_record_guard();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION chat_record_guard();
-- And the privileges say the same to anyone who reads them.
REVOKE UPDATE, DELETE, TRUNCATE ON message_archive, message_archive_held, audit_log FROM PUBLIC;

-- A time as the API writes it: ISO 8601 in UTC, milliseconds, "Z".
CREATE FUNCTION chat_iso_time(p_time timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
    SELECT to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
$fn$;

-- True when an active hold covers a message of P_SENDER in P_ROOM_ID.
CREATE FUNCTION chat_is_held(p_sender text, p_room_id text) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT EXISTS (SELECT 1 FROM legal_holds
                    WHERE lifted_at IS NULL
                      AND ((kind = 'user' AND subject = p_sender)
                        OR (kind = 'room' AND subject = p_room_id)));
$fn$;

-- The partitions of the record: P_SPAN_SECONDS each, aligned on multiples
-- of the span since the epoch, created from the last one's end (or from
-- P_FROM's span when there is none) until P_UNTIL is covered. Rows the
-- default partition caught in a new range move into it. Returns how many
-- were created. Called by chat_archive_maintain (the expiry job) and here.
CREATE FUNCTION chat_archive_extend(p_from timestamptz, p_until timestamptz,
                                    p_span_seconds integer) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    v_start timestamptz;
    v_end timestamptz;
    v_name text;
    v_created integer := 0;
BEGIN
    SELECT max((regexp_match(pg_get_expr(c.relpartbound, c.oid),
                             'TO \(''([^'']+)''\)'))[1]::timestamptz)
      INTO v_start
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'message_archive'::regclass;
    IF v_start IS NULL THEN
        v_start := to_timestamp(floor(extract(epoch FROM p_from) / p_span_seconds)
                                * p_span_seconds);
    END IF;
    WHILE v_start <= p_until LOOP
        v_end := v_start + make_interval(secs => p_span_seconds);
        v_name := 'message_archive_' || to_char(v_start AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS');
        EXECUTE format('CREATE TABLE %I (LIKE message_archive INCLUDING DEFAULTS)', v_name);
        EXECUTE format('INSERT INTO %I SELECT * FROM message_archive_default
                         WHERE stored_at >= $1 AND stored_at < $2', v_name)
          USING v_start, v_end;
        IF FOUND THEN
            DELETE FROM message_archive_default WHERE stored_at >= v_start AND stored_at < v_end;
        END IF;
        EXECUTE format('ALTER TABLE message_archive ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       v_name, v_start, v_end);
        v_created := v_created + 1;
        v_start := v_end;
    END LOOP;
    RETURN v_created;
END;
$fn$;

-- Stores one message of room P_ROOM_ID at sequence P_SEQ: in messages,
-- trimmed to P_MAX_MESSAGES, and, when P_ARCHIVE, in the record. Returns
-- its id.
CREATE FUNCTION chat_store_message(p_room_id text, p_seq bigint, p_ts text,
                                   p_ts_is_string boolean, p_sender text, p_type text,
                                   p_message text, p_json text, p_max_messages integer,
                                   p_archive boolean, p_request_id text) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO messages (room_id, seq, ts, ts_is_string, sender, type, message, json_text)
         VALUES (p_room_id, p_seq, p_ts, p_ts_is_string, p_sender, p_type, p_message, p_json)
      RETURNING messages.id INTO v_id;
    DELETE FROM messages m WHERE m.room_id = p_room_id AND m.seq <= p_seq - p_max_messages;
    IF p_archive THEN
        INSERT INTO message_archive (id, stored_at, room_id, sender, type, ts, ts_is_string,
                                     message, json_text, request_id)
             VALUES (v_id, now(), p_room_id, p_sender, p_type, p_ts, p_ts_is_string,
                     p_message, p_json, p_request_id);
    END IF;
    RETURN v_id;
END;
$fn$;

DROP FUNCTION chat_system_message(text, text, text[], text, boolean, text, text, integer, integer,
                                  text, integer);
DROP FUNCTION chat_post_message(text, text, boolean, boolean, text, boolean, text, text, text,
                                integer, integer, text, text, integer, bytea);

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
                                  p_token_sha256 bytea, p_archive boolean, p_request_id text)
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
            PERFORM chat_store_message(p_room_id, v_seq, p_ts, p_ts_is_string, p_sender, p_type,
                                       p_message, p_json, p_max_messages, p_archive,
                                       p_request_id);
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
                                    p_ts text, p_ts_is_string boolean, p_message text,
                                    p_json text, p_max_messages integer, p_ttl_seconds integer,
                                    p_notify_data text, p_lease_ms integer, p_archive boolean,
                                    p_request_id text)
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
                                    p_notify_data, NULL, p_lease_ms, NULL, p_archive,
                                    p_request_id);
END;
$fn$;

-- The messages already stored enter the record, with their storage time;
-- partitions of 30 days cover them and the next 60 days (the expiry job
-- takes over with ARCHIVE_PARTITION_SECONDS).
SELECT chat_archive_extend(coalesce((SELECT min(created_at) FROM messages), now()),
                           now() + interval '60 days', 2592000);
INSERT INTO message_archive (id, stored_at, room_id, sender, type, ts, ts_is_string, message,
                             json_text)
SELECT id, created_at, room_id, sender, type, ts, ts_is_string, message, json_text
  FROM messages;

-- Partitions and retention, for the expiry job (under its lock) and pg_cron:
-- partitions are created until P_NOW plus two spans; when P_RETENTION_DAYS
-- is above 0, every partition that ended before P_NOW - P_RETENTION_DAYS is
-- dropped whole (never row by row), after its held rows are copied to
-- message_archive_held, with an audit row per partition; rows of
-- message_archive_held whose hold was lifted and which are past retention
-- go too. Returns what it did.
CREATE FUNCTION chat_archive_maintain(p_now timestamptz, p_span_seconds integer,
                                      p_retention_days integer, p_request_id text DEFAULT NULL)
RETURNS TABLE (created integer, dropped integer, rows_dropped bigint, rows_kept bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_cutoff timestamptz := p_now - make_interval(days => p_retention_days);
    v_part record;
    v_rows bigint;
    v_kept bigint;
    v_released bigint;
BEGIN
    created := chat_archive_extend(p_now, p_now + make_interval(secs => 2 * p_span_seconds),
                                   p_span_seconds);
    dropped := 0;
    rows_dropped := 0;
    rows_kept := 0;
    IF p_retention_days <= 0 THEN
        RETURN NEXT;
        RETURN;
    END IF;
    FOR v_part IN
        SELECT c.relname AS name,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                             'TO \(''([^'']+)''\)'))[1]::timestamptz AS ends
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'message_archive'::regclass
         ORDER BY 2
    LOOP
        CONTINUE WHEN v_part.ends IS NULL OR v_part.ends > v_cutoff;
        EXECUTE format(
            'INSERT INTO message_archive_held SELECT * FROM %I a
              WHERE a.sender IN (SELECT subject FROM legal_holds
                                  WHERE lifted_at IS NULL AND kind = ''user'')
                 OR a.room_id IN (SELECT subject FROM legal_holds
                                   WHERE lifted_at IS NULL AND kind = ''room'')
             ON CONFLICT (id) DO NOTHING', v_part.name);
        GET DIAGNOSTICS v_kept = ROW_COUNT;
        EXECUTE format('SELECT count(*) FROM %I', v_part.name) INTO v_rows;
        EXECUTE format('ALTER TABLE message_archive DETACH PARTITION %I', v_part.name);
        EXECUTE format('DROP TABLE %I', v_part.name);
        INSERT INTO audit_log (actor, action, subject, details, request_id)
             VALUES ('retention', 'retention_drop', v_part.name,
                     jsonb_build_object('rows', v_rows, 'kept_under_hold', v_kept,
                                        'partition_end', v_part.ends, 'cutoff', v_cutoff,
                                        'retention_days', p_retention_days),
                     p_request_id);
        dropped := dropped + 1;
        rows_dropped := rows_dropped + v_rows - v_kept;
        rows_kept := rows_kept + v_kept;
    END LOOP;
    DELETE FROM message_archive_held h
     WHERE h.stored_at < v_cutoff AND NOT chat_is_held(h.sender, h.room_id);
    GET DIAGNOSTICS v_released = ROW_COUNT;
    IF v_released > 0 THEN
        INSERT INTO audit_log (actor, action, subject, details, request_id)
             VALUES ('retention', 'retention_release', 'message_archive_held',
                     jsonb_build_object('rows', v_released, 'cutoff', v_cutoff), p_request_id);
        rows_dropped := rows_dropped + v_released;
    END IF;
    RETURN NEXT;
END;
$fn$;

-- Redacts message P_ID: gone at once from its room (messages) and from
-- history; in the record it becomes a tombstone (who, when, why) whose
-- content is wiped unless a hold covers it. Returns 'redacted', 'already'
-- (redacted before: its time) or 'not_found', and whether it was wiped.
CREATE FUNCTION chat_redact_message(p_id bigint, p_actor text, p_reason text,
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
CREATE FUNCTION chat_redact_user(p_user text, p_since timestamptz, p_erase boolean,
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

-- Puts a hold on user or room P_SUBJECT (P_KIND), with an audit row.
CREATE FUNCTION chat_hold_set(p_kind text, p_subject text, p_reason text, p_actor text,
                              p_request_id text)
RETURNS TABLE (id bigint, created_at timestamptz)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    INSERT INTO legal_holds (kind, subject, reason, created_by)
         VALUES (p_kind, p_subject, p_reason, p_actor)
      RETURNING legal_holds.id, legal_holds.created_at INTO id, created_at;
    INSERT INTO audit_log (actor, action, subject, reason, details, request_id)
         VALUES (p_actor, 'hold_set', p_kind || ':' || p_subject, p_reason,
                 jsonb_build_object('hold', id), p_request_id);
    RETURN NEXT;
END;
$fn$;

-- Lifts hold P_ID, with an audit row. Returns 'lifted', 'already' or
-- 'not_found'.
CREATE FUNCTION chat_hold_lift(p_id bigint, p_actor text, p_reason text, p_request_id text)
RETURNS TABLE (status text, lifted_at timestamptz)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_kind text;
    v_subject text;
BEGIN
    UPDATE legal_holds h
       SET lifted_at = now(), lifted_by = p_actor, lift_reason = p_reason
     WHERE h.id = p_id AND h.lifted_at IS NULL
    RETURNING h.kind, h.subject INTO v_kind, v_subject;
    IF NOT FOUND THEN
        SELECT h.lifted_at INTO lifted_at FROM legal_holds h WHERE h.id = p_id;
        status := CASE WHEN FOUND THEN 'already' ELSE 'not_found' END;
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO audit_log (actor, action, subject, reason, details, request_id)
         VALUES (p_actor, 'hold_lift', v_kind || ':' || v_subject, p_reason,
                 jsonb_build_object('hold', p_id), p_request_id);
    status := 'lifted';
    lifted_at := now();
    RETURN NEXT;
END;
$fn$;

-- Messages on record, newest first, for moderation: those P_USER sent, in
-- P_ROOM, stored in [P_SINCE, P_UNTIL) (each when not NULL), with an id
-- below P_BEFORE, at most P_LIMIT; redacted ones included as tombstones.
-- Planned for the filters actually given (EXECUTE), so each search uses
-- the index that fits it.
CREATE FUNCTION chat_record_search(p_user text, p_room text, p_since timestamptz,
                                   p_until timestamptz, p_before bigint, p_limit integer)
RETURNS SETOF message_record
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT * FROM message_record
          WHERE ($1::text IS NULL OR sender = $1) AND ($2::text IS NULL OR room_id = $2)
            AND ($3::timestamptz IS NULL OR stored_at >= $3)
            AND ($4::timestamptz IS NULL OR stored_at < $4)
            AND ($5::bigint IS NULL OR id < $5)
          ORDER BY id DESC
          LIMIT $6'
        USING p_user, p_room, p_since, p_until, p_before, p_limit;
END;
$fn$;

-- An audit row for an action that changes nothing (an export).
CREATE FUNCTION chat_audit(p_actor text, p_action text, p_subject text, p_reason text,
                           p_details jsonb, p_request_id text) RETURNS bigint
LANGUAGE sql AS $fn$
    INSERT INTO audit_log (actor, action, subject, reason, details, request_id)
         VALUES (p_actor, p_action, p_subject, p_reason, p_details, p_request_id)
      RETURNING id;
$fn$;

-- For pg_cron, as before, and now the record's partitions and retention
-- too, under the same lock (the defaults are the service's).
DROP PROCEDURE chat_expire(integer);
CREATE PROCEDURE chat_expire(p_batch_size integer DEFAULT 1000,
                             p_span_seconds integer DEFAULT 2592000,
                             p_retention_days integer DEFAULT 365)
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
    PERFORM chat_archive_maintain(now(), p_span_seconds, p_retention_days);
    COMMIT;
    PERFORM pg_advisory_unlock(7462630402);
END;
$fn$;
