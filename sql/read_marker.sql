-- read_marker: user $2 has read live room $1 up to message id $3 (NULL: up
-- to its newest message now). One row: status 'ok' with the marker kept
-- (never moved back: a marker only grows), 'not_found' (no such live
-- room), 'not_member', or 'no_message' (id $3 is no message of the room).
WITH room AS (
    SELECT r.id, r.created_at FROM rooms r WHERE r.id = $1 AND r.expires_at > now()
), member AS (
    SELECT 1 FROM room_users u, room WHERE u.room_id = room.id AND u.username = $2
), target AS (
    SELECT CASE WHEN $3::bigint IS NULL
                THEN coalesce((SELECT max(m.id) FROM messages m WHERE m.room_id = $1), 0)
                ELSE (SELECT m.id FROM messages m WHERE m.room_id = $1 AND m.id = $3::bigint
                      UNION ALL
                      SELECT a.id FROM message_record a WHERE a.room_id = $1 AND a.id = $3::bigint
                      LIMIT 1)
           END AS id
), kept AS (
    INSERT INTO room_reads AS rr (room_id, username, last_read_id, read_at)
    SELECT $1, $2, target.id, now()
      FROM target, room
     WHERE EXISTS (SELECT 1 FROM member) AND target.id IS NOT NULL
    ON CONFLICT (room_id, username) DO UPDATE
       SET last_read_id = CASE WHEN rr.read_at < (SELECT created_at FROM room)
                               THEN EXCLUDED.last_read_id
                               ELSE greatest(rr.last_read_id, EXCLUDED.last_read_id) END,
           read_at = now()
    RETURNING rr.last_read_id
)
SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM room) THEN 'not_found'
            WHEN NOT EXISTS (SELECT 1 FROM member) THEN 'not_member'
            WHEN (SELECT id FROM target) IS NULL THEN 'no_message'
            ELSE 'ok' END AS status,
       (SELECT last_read_id FROM kept) AS last_read_id;
