-- scripts/bench/seed.sql: the benchmark's data, run by scripts/bench/seed.sh
-- with psql variables l (a letter naming the set), n (rooms), tokens
-- (1: one auth_tokens row per user) and history (rooms with a long record).
-- Rooms bench/<L><i>a/<L><i>b (i = 1..N) of type bench, users <L><i>a and
-- <L><i>b, created a day ago, live for 60 days, each with 100 messages
-- (numeric timestamps, last_seq 100); with TOKENS=1 one auth_tokens row per
-- user, token tok-<user>, never expiring. Set-based (generate_series).
-- Messages go in seq-major order (message 1 of every room, then message 2...)
-- as a live service writes them, so a room's messages are spread over many
-- pages rather than packed together, which would flatter get_room. Each has
-- its json_text, as the server stores it.
-- The record (message_archive) holds every message, as with ARCHIVE=on:
-- rooms 1..HISTORY have 1,000 messages on record each (900 older ones that
-- trimming removed from messages, then their 100 live ones), all stored
-- three hours ago; the other rooms' 100 are stored a minute ago. So the
-- record stored before two hours ago is exactly HISTORY x 1,000 messages
-- (the export the benchmark measures), and ids rise with age in every room.
BEGIN;
INSERT INTO rooms (id, type, last_seq, created_at, expires_at)
SELECT 'bench/' || :'l' || i || 'a/' || :'l' || i || 'b', 'bench', 100, now() - interval '1 day',
       now() + interval '60 days'
  FROM generate_series(1, :n) AS i;
INSERT INTO room_users (room_id, username)
SELECT 'bench/' || :'l' || i || 'a/' || :'l' || i || 'b', :'l' || i || s
  FROM generate_series(1, :n) AS i, (VALUES ('a'), ('b')) AS v(s);
-- The older 900 of the history rooms: on record only.
INSERT INTO message_archive (id, stored_at, room_id, sender, type, ts, ts_is_string, message,
                             json_text)
SELECT nextval('message_id_seq'), now() - interval '3 hours' + k * interval '1 second', room,
       sender, 'text', ts, false, message,
       '{"timestamp":' || ts || ',"from":' || to_json(sender) || ',"type":"text","message":'
         || to_json(message) || '}'
  FROM generate_series(0, :history * 900 - 1) AS g,
       LATERAL (SELECT g / :history + 1 AS k, g % :history + 1 AS i) AS x,
       LATERAL (SELECT 'bench/' || :'l' || i || 'a/' || :'l' || i || 'b' AS room,
                       (1600000000000 + k * 1000)::text AS ts,
                       :'l' || i || CASE WHEN k % 2 = 0 THEN 'a' ELSE 'b' END AS sender,
                       'older message number ' || k AS message) AS v;
WITH live AS (
    INSERT INTO messages (room_id, seq, ts, ts_is_string, sender, type, message, json_text)
    SELECT room, k, ts, false, sender, 'text', message,
           '{"timestamp":' || ts || ',"from":' || to_json(sender) || ',"type":"text","message":'
             || to_json(message) || '}'
      FROM generate_series(0, :n * 100 - 1) AS g,
           LATERAL (SELECT g / :n + 1 AS k, g % :n + 1 AS i) AS x,
           LATERAL (SELECT 'bench/' || :'l' || i || 'a/' || :'l' || i || 'b' AS room,
                           (1700000000000 + k * 1000)::text AS ts,
                           :'l' || i || CASE WHEN k % 2 = 0 THEN 'a' ELSE 'b' END AS sender,
                           'bench message number ' || k AS message) AS v
    RETURNING id, room_id, seq, sender, ts, message, json_text
)
INSERT INTO message_archive (id, stored_at, room_id, sender, type, ts, ts_is_string, message,
                             json_text)
SELECT id,
       CASE WHEN substring(room_id FROM '^bench/' || :'l' || '([0-9]+)a/')::int <= :history
            THEN now() - interval '3 hours' + (900 + seq) * interval '1 second'
            ELSE now() - interval '1 minute' END,
       room_id, sender, 'text', ts, false, message, json_text
  FROM live;
\if :tokens
INSERT INTO auth_tokens (token, username, expires_at)
SELECT 'tok-' || :'l' || i || s, :'l' || i || s, NULL
  FROM generate_series(1, :n) AS i, (VALUES ('a'), ('b')) AS v(s);
\endif
COMMIT;
