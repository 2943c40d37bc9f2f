-- import_rooms: one batch of rooms read from the original's Redis
-- (ganomede-chat import-redis), in one transaction. $1 is a JSON array of
-- {"id", "type", "users": [...], "ttl_ms", "messages": [...]} where
-- messages are the stored JSON texts as the original kept them, newest
-- first, each already checked to be a JSON object by the server. $2: the
-- messages also go on record (ARCHIVE). A room whose id is already here
-- (imported before, or created since) is left as it is: a second run
-- changes nothing. Messages keep their JSON text byte for byte, so GET room
-- answers what the original answered; their storage time is the import's.
-- Returns the rooms imported and the messages imported.
WITH input AS (
    SELECT r.id, r.type, r.users, r.ttl_ms, r.messages
      FROM jsonb_to_recordset($1::jsonb)
           AS r (id text, type text, users text[], ttl_ms bigint, messages jsonb)
), new_rooms AS (
    INSERT INTO rooms (id, type, last_seq, expires_at)
    SELECT i.id, i.type, jsonb_array_length(i.messages),
           now() + make_interval(secs => i.ttl_ms / 1000.0)
      FROM input i
        ON CONFLICT (id) DO NOTHING
    RETURNING id
), new_users AS (
    INSERT INTO room_users (room_id, username)
    SELECT i.id, u.username
      FROM input i JOIN new_rooms n ON n.id = i.id, unnest(i.users) AS u (username)
), parsed AS (
    SELECT i.id AS room_id, jsonb_array_length(i.messages) - e.k + 1 AS seq,
           e.text AS json_text, e.text::json AS m
      FROM input i JOIN new_rooms n ON n.id = i.id,
           jsonb_array_elements_text(i.messages) WITH ORDINALITY AS e (text, k)
), new_messages AS (
    INSERT INTO messages (room_id, seq, ts, ts_is_string, sender, type, message, json_text)
    SELECT p.room_id, p.seq, p.m ->> 'timestamp', json_typeof(p.m -> 'timestamp') = 'string',
           coalesce(p.m ->> 'from', ''), coalesce(p.m ->> 'type', ''), p.m ->> 'message',
           p.json_text
      FROM parsed p
    RETURNING id, created_at, room_id, sender, type, ts, ts_is_string, message, json_text
), on_record AS (
    INSERT INTO message_archive (id, stored_at, room_id, sender, type, ts, ts_is_string,
                                 message, json_text)
    SELECT m.id, m.created_at, m.room_id, m.sender, m.type, m.ts, m.ts_is_string, m.message,
           m.json_text
      FROM new_messages m
     WHERE $2::boolean
)
SELECT (SELECT count(*) FROM new_rooms) AS rooms,
       (SELECT count(*) FROM new_messages) AS messages;
