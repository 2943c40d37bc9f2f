-- get_room: room $1 unless expired. Every row carries the room's type and
-- its users (a JSON array, sorted bytewise); one row per message, newest
-- first, at most $2; one row with NULL message columns when it has none;
-- no row when there is no such live room.
SELECT r.type,
       u.users,
       m.ts, m.ts_is_string, m.sender, m.type, m.message
  FROM rooms r
 CROSS JOIN LATERAL (
        SELECT json_agg(username ORDER BY username COLLATE "C")::text AS users
          FROM room_users
         WHERE room_id = r.id) u
  LEFT JOIN LATERAL (
        SELECT seq, ts, ts_is_string, sender, type, message
          FROM messages
         WHERE room_id = r.id
         ORDER BY seq DESC
         LIMIT $2) m ON true
 WHERE r.id = $1 AND r.expires_at > now()
 ORDER BY m.seq DESC;
