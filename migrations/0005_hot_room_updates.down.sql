-- 0005 down: expired rooms found through an index on expires_at again.

CREATE OR REPLACE FUNCTION chat_expire_batch(p_batch_size integer) RETURNS integer
LANGUAGE sql AS $fn$
    WITH doomed AS (
        SELECT id FROM rooms
         WHERE expires_at <= now()
         ORDER BY expires_at
         LIMIT p_batch_size
           FOR UPDATE SKIP LOCKED
    ), gone_messages AS (
        DELETE FROM messages m USING doomed d WHERE m.room_id = d.id
    ), gone_users AS (
        DELETE FROM room_users u USING doomed d WHERE u.room_id = d.id
    ), gone_rooms AS (
        DELETE FROM rooms r USING doomed d WHERE r.id = d.id RETURNING 1
    )
    SELECT count(*)::integer FROM gone_rooms;
$fn$;

DROP INDEX rooms_expires_hour_idx;
ALTER TABLE rooms DROP COLUMN expires_hour;
ALTER TABLE rooms RESET (fillfactor);
CREATE INDEX rooms_expires_at_idx ON rooms (expires_at);
