-- 0011 down.
-- chat_expire as 0008 made it (without the keys).
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
    PERFORM chat_archive_maintain(now(), p_span_seconds, p_retention_days);
    COMMIT;
    PERFORM pg_advisory_unlock(7462630402);
END;
$fn$;
DROP FUNCTION chat_idempotency_expire(integer);
DROP FUNCTION chat_system_message_once(text, bytea, integer, text, text, text[], text, boolean,
                                       text, text, integer, integer, text, integer, boolean,
                                       text, jsonb);
DROP FUNCTION chat_post_message_once(text, bytea, integer, text, text, boolean, boolean, text,
                                     boolean, text, text, text, integer, integer, text, text,
                                     integer, bytea, boolean, text, jsonb);
DROP FUNCTION chat_idempotency_claim(text, text, text, bytea, integer);
DROP TABLE idempotency_keys;
DROP TABLE room_reads;
DROP INDEX room_users_username_idx;
