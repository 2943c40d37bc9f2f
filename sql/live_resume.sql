-- live_resume: what a stream missed: the messages of the live rooms of user
-- $1 (or of room $2 alone when not NULL) after position ($3 xid, $4 id) up
-- to position ($5 xid, $6 id) (the server's, whose rows are all final), in
-- (xid, id) order, at most $7. gap is true when a room's oldest kept
-- message is after ($3, $4) and older ones were trimmed: some of what the
-- stream missed is gone (the client must reload). One row of gap and NULLs
-- when nothing was missed. Each room is read by its own kept messages (at
-- most MAX_MESSAGES), however old the position.
WITH scope AS (
    SELECT r.id FROM rooms r
     WHERE r.expires_at > now()
       AND CASE WHEN $2::text IS NOT NULL THEN r.id = $2::text
                ELSE r.id IN (SELECT u.room_id FROM room_users u WHERE u.username = $1::text) END
), gap AS (
    SELECT EXISTS (
        SELECT 1 FROM scope s,
               LATERAL (SELECT m.seq, m.xid, m.id FROM messages m
                         WHERE m.room_id = s.id ORDER BY m.seq LIMIT 1) o
         WHERE o.seq > 1 AND o.xid IS NOT NULL AND (o.xid, o.id) > ($3::xid8, $4::bigint)) AS gap
)
SELECT g.gap, m.xid::text AS xid, m.id, m.room_id, m.json_text, m.ts, m.ts_is_string, m.sender,
       m.type, m.message
  FROM gap g
  LEFT JOIN LATERAL (
        SELECT x.xid, x.id, x.room_id, x.json_text, x.ts, x.ts_is_string, x.sender, x.type,
               x.message
          FROM scope s
          JOIN messages x ON x.room_id = s.id
         WHERE (x.xid, x.id) > ($3::xid8, $4::bigint) AND (x.xid, x.id) <= ($5::xid8, $6::bigint)
         ORDER BY x.xid, x.id
         LIMIT $7::integer) m ON true
 ORDER BY m.xid, m.id;
