-- live_poll: the messages after position ($1 xid, $2 id) stored by
-- transactions older than every one still running (this statement's
-- snapshot xmin, the horizon), in (xid, id) order, at most $3 (with no
-- one waiting, live_horizon.sql is read instead). Every row carries
-- the horizon; with no message, one row of horizon and NULLs. users: the
-- room's users as a JSON array, for the streams of each.
WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon)
SELECT h.horizon::text AS horizon, m.xid::text AS xid, m.id, m.room_id, m.json_text, m.ts,
       m.ts_is_string, m.sender, m.type, m.message,
       (SELECT json_agg(u.username)::text FROM room_users u WHERE u.room_id = m.room_id) AS users
  FROM h
  LEFT JOIN LATERAL (
        SELECT x.xid, x.id, x.room_id, x.json_text, x.ts, x.ts_is_string, x.sender, x.type,
               x.message
          FROM messages x
         WHERE x.xid >= $1::xid8 AND x.xid < h.horizon
           AND (x.xid, x.id) > ($1::xid8, $2::bigint)
         ORDER BY x.xid, x.id
         LIMIT $3::integer) m ON true
 ORDER BY m.xid, m.id;
