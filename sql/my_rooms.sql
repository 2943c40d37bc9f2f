-- my_rooms: a page of the live rooms user $1 is a member of, most recent
-- activity first (activity: the newest message's storage time, or the
-- room's creation when it has none), at most $2. Keyset paging: $3 and $4
-- are the activity (timestamptz text) and id of the previous page's last
-- room in the ordered walk, $5 the time that page was read (NULL, NULL,
-- NULL for the first page). Rooms whose activity is newer than $5 moved
-- since the walk began: they come first (part 0), then the walk goes on
-- below ($3, $4) (part 1); so no room is skipped while posts arrive, and a
-- room that moved may come twice. Columns: part, id, type, users (JSON
-- array, bytewise), activity (text), the newest message (json, or its
-- columns for a message stored before migration 0004; all NULL without
-- one), unread (messages from others after the user's read marker, among
-- those the room keeps), read_at (this page's time, the next $5).
WITH mine AS (
    SELECT r.id, r.type, r.created_at,
           coalesce(l.created_at, r.created_at) AS activity,
           l.json_text, l.ts, l.ts_is_string, l.sender, l.type AS message_type, l.message,
           l.seq IS NOT NULL AS has_message
      FROM room_users u
      JOIN rooms r ON r.id = u.room_id AND r.expires_at > now()
      LEFT JOIN LATERAL (SELECT m.created_at, m.json_text, m.ts, m.ts_is_string, m.sender,
                                m.type, m.message, m.seq
                           FROM messages m
                          WHERE m.room_id = r.id
                          ORDER BY m.seq DESC
                          LIMIT 1) l ON true
     WHERE u.username = $1
), page AS (
    (SELECT 0 AS part, * FROM mine
      WHERE $5::timestamptz IS NOT NULL AND activity > $5::timestamptz
      ORDER BY activity DESC, id COLLATE "C"
      LIMIT $2::integer)
    UNION ALL
    (SELECT 1 AS part, * FROM mine
      WHERE ($5::timestamptz IS NULL OR activity <= $5::timestamptz)
        AND ($3::timestamptz IS NULL OR activity < $3::timestamptz
             OR (activity = $3::timestamptz AND id COLLATE "C" > $4::text COLLATE "C"))
      ORDER BY activity DESC, id COLLATE "C"
      LIMIT $2::integer)
), shown AS (
    SELECT * FROM page ORDER BY part, activity DESC, id COLLATE "C" LIMIT $2::integer
)
SELECT s.part, s.id, s.type,
       (SELECT json_agg(u.username ORDER BY u.username COLLATE "C")::text
          FROM room_users u WHERE u.room_id = s.id) AS users,
       s.activity::text AS activity,
       CASE WHEN s.has_message THEN s.json_text END AS json,
       CASE WHEN s.has_message AND s.json_text IS NULL THEN s.ts END AS ts,
       CASE WHEN s.has_message AND s.json_text IS NULL THEN s.ts_is_string END AS ts_is_string,
       CASE WHEN s.has_message AND s.json_text IS NULL THEN s.sender END AS sender,
       CASE WHEN s.has_message AND s.json_text IS NULL THEN s.message_type END AS message_type,
       CASE WHEN s.has_message AND s.json_text IS NULL THEN s.message END AS message,
       s.has_message,
       (SELECT count(*)
          FROM messages m
         WHERE m.room_id = s.id AND m.sender <> $1
           AND m.id > coalesce((SELECT rr.last_read_id FROM room_reads rr
                                 WHERE rr.room_id = s.id AND rr.username = $1
                                   AND rr.read_at >= s.created_at), 0)) AS unread,
       now()::text AS read_at
  FROM shown s
 ORDER BY s.part, s.activity DESC, s.id COLLATE "C";
