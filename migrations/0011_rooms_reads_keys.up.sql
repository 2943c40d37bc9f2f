-- 0011: what REST clients expect next: the caller's rooms (an index by
-- user), read markers for unread counts, and idempotency keys that make a
-- post safe to retry. docs/api.md has the routes.

-- "My rooms": a user's rooms in one index range, however many rooms exist.
CREATE INDEX room_users_username_idx ON room_users (username, room_id);

-- The newest message id a user has read in a room. Goes with the room
-- (expiry deletes it); a marker older than the room's creation (an expired
-- room created again under the same id) is ignored by the readers.
CREATE TABLE room_reads (
    room_id       text        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    username      text        NOT NULL,
    last_read_id  bigint      NOT NULL,
    read_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, username)
);

-- Idempotency keys (the Idempotency-Key header): the first post with a key
-- from a caller to a room is stored with the key in its transaction; the
-- same key again within its life answers as the first did and stores
-- nothing. request_sha256 is the SHA-256 of the request body, so a reused
-- key with another body is refused.
CREATE TABLE idempotency_keys (
    caller          text        NOT NULL,
    room_id         text        NOT NULL,
    key             text        NOT NULL,
    request_sha256  bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (caller, room_id, key)
);
-- Keys are inserted in about the order they expire (now() + one TTL), so a
-- BRIN index finds the expired ones at almost no cost to each post, where
-- a btree would cost every keyed post one more index insertion.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys USING brin (expires_at);

-- Claims key P_KEY of P_CALLER in P_ROOM_ID for P_TTL_SECONDS: 'new' (the
-- key is taken, in this transaction: it stays only if the transaction
-- commits), 'duplicate' (the same key and the same body were stored before:
-- answer as the first time), or 'mismatch' (the same key with another
-- body). A key past its life is taken again. A concurrent claim of the same
-- key waits for the first transaction and then sees its outcome.
CREATE FUNCTION chat_idempotency_claim(p_caller text, p_room_id text, p_key text,
                                       p_sha256 bytea, p_ttl_seconds integer) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    v_sha256 bytea;
BEGIN
    INSERT INTO idempotency_keys AS k (caller, room_id, key, request_sha256, expires_at)
         VALUES (p_caller, p_room_id, p_key, p_sha256,
                 now() + make_interval(secs => p_ttl_seconds))
    ON CONFLICT (caller, room_id, key) DO UPDATE
           SET request_sha256 = EXCLUDED.request_sha256, created_at = now(),
               expires_at = EXCLUDED.expires_at
         WHERE k.expires_at <= now()
    RETURNING NULL INTO v_sha256;
    IF FOUND THEN
        RETURN 'new';
    END IF;
    SELECT k.request_sha256 INTO v_sha256
      FROM idempotency_keys k
     WHERE k.caller = p_caller AND k.room_id = p_room_id AND k.key = p_key;
    RETURN CASE WHEN v_sha256 = p_sha256 THEN 'duplicate' ELSE 'mismatch' END;
END;
$fn$;

-- chat_post_message behind an idempotency key P_KEY (NULL: none, exactly
-- chat_post_message) of the body's digest P_SHA256, kept P_KEY_TTL_SECONDS:
-- a duplicate answers one row 'duplicate', a reused key with another body
-- 'key_mismatch', both storing nothing. The key stays only when the post
-- was answered 200 ('ok', or 'muted', whose answer is 200 too): a post
-- refused for a reason that may change (a ban lifted, a room created) is
-- decided again when retried.
CREATE FUNCTION chat_post_message_once(p_key text, p_sha256 bytea, p_key_ttl_seconds integer,
                                       p_room_id text, p_sender text, p_is_secret boolean,
                                       p_store boolean, p_ts text, p_ts_is_string boolean,
                                       p_type text, p_message text, p_json text,
                                       p_max_messages integer, p_ttl_seconds integer,
                                       p_notify_data text, p_push text, p_lease_ms integer,
                                       p_token_sha256 bytea, p_archive boolean,
                                       p_request_id text, p_policies jsonb)
RETURNS TABLE (status text, id bigint, to_user text, type text, data text, push text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_claim text;
    v_row record;
    v_kept boolean := false;
BEGIN
    IF p_key IS NOT NULL AND p_store THEN
        v_claim := chat_idempotency_claim(p_sender, p_room_id, p_key, p_sha256,
                                          p_key_ttl_seconds);
        IF v_claim <> 'new' THEN
            status := CASE WHEN v_claim = 'duplicate' THEN 'duplicate' ELSE 'key_mismatch' END;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    FOR v_row IN
        SELECT * FROM chat_post_message(p_room_id, p_sender, p_is_secret, p_store, p_ts,
                                        p_ts_is_string, p_type, p_message, p_json,
                                        p_max_messages, p_ttl_seconds, p_notify_data, p_push,
                                        p_lease_ms, p_token_sha256, p_archive, p_request_id,
                                        p_policies)
    LOOP
        v_kept := v_kept OR v_row.status IN ('ok', 'muted');
        status := v_row.status;
        id := v_row.id;
        to_user := v_row.to_user;
        type := v_row.type;
        data := v_row.data;
        push := v_row.push;
        RETURN NEXT;
    END LOOP;
    IF v_claim = 'new' AND NOT v_kept THEN
        DELETE FROM idempotency_keys k
         WHERE k.caller = p_sender AND k.room_id = p_room_id AND k.key = p_key;
    END IF;
END;
$fn$;

-- chat_system_message behind an idempotency key of the API secret ('$$'),
-- as chat_post_message_once.
CREATE FUNCTION chat_system_message_once(p_key text, p_sha256 bytea, p_key_ttl_seconds integer,
                                         p_id text, p_type text, p_users text[], p_ts text,
                                         p_ts_is_string boolean, p_message text, p_json text,
                                         p_max_messages integer, p_ttl_seconds integer,
                                         p_notify_data text, p_lease_ms integer,
                                         p_archive boolean, p_request_id text,
                                         p_policies jsonb)
RETURNS TABLE (status text, id bigint, to_user text, type text, data text, push text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_claim text;
    v_row record;
    v_kept boolean := false;
BEGIN
    IF p_key IS NOT NULL THEN
        v_claim := chat_idempotency_claim('$$', p_id, p_key, p_sha256, p_key_ttl_seconds);
        IF v_claim <> 'new' THEN
            status := CASE WHEN v_claim = 'duplicate' THEN 'duplicate' ELSE 'key_mismatch' END;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    FOR v_row IN
        SELECT * FROM chat_system_message(p_id, p_type, p_users, p_ts, p_ts_is_string, p_message,
                                          p_json, p_max_messages, p_ttl_seconds, p_notify_data,
                                          p_lease_ms, p_archive, p_request_id, p_policies)
    LOOP
        v_kept := v_kept OR v_row.status = 'ok';
        status := v_row.status;
        id := v_row.id;
        to_user := v_row.to_user;
        type := v_row.type;
        data := v_row.data;
        push := v_row.push;
        RETURN NEXT;
    END LOOP;
    IF v_claim = 'new' AND NOT v_kept THEN
        DELETE FROM idempotency_keys k
         WHERE k.caller = '$$' AND k.room_id = p_id AND k.key = p_key;
    END IF;
END;
$fn$;

-- Deletes at most P_BATCH keys past their life; returns how many. The
-- expiry job (and chat_expire, below) calls it until it deletes fewer.
CREATE FUNCTION chat_idempotency_expire(p_batch integer) RETURNS integer
LANGUAGE sql AS $fn$
    WITH gone AS (
        DELETE FROM idempotency_keys k
         WHERE (k.caller, k.room_id, k.key) IN (
                   SELECT caller, room_id, key FROM idempotency_keys
                    WHERE expires_at <= now()
                    LIMIT p_batch)
        RETURNING 1)
    SELECT count(*)::integer FROM gone;
$fn$;

-- pg_cron's procedure also deletes the keys past their life, as the
-- servers' expiry job does (0008's, with the keys' loop).
CREATE OR REPLACE PROCEDURE chat_expire(p_batch_size integer DEFAULT 1000,
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
    LOOP
        v_deleted := chat_idempotency_expire(p_batch_size);
        COMMIT;
        EXIT WHEN v_deleted < p_batch_size;
    END LOOP;
    PERFORM chat_archive_maintain(now(), p_span_seconds, p_retention_days);
    COMMIT;
    PERFORM pg_advisory_unlock(7462630402);
END;
$fn$;
