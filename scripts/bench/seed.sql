-- scripts/bench/seed.sql: the benchmark's data, run by scripts/bench/seed.sh
-- with psql variables l (a letter naming the set), n (rooms) and tokens
-- (1: one auth_tokens row per user).
-- Rooms bench/<L><i>a/<L><i>b (i = 1..N) of type bench, users <L><i>a and
-- <L><i>b, live for 60 days, each with 100 messages (numeric timestamps,
-- last_seq 100); with TOKENS=1 one auth_tokens row per user, token
-- tok-<user>, never expiring. Set-based (generate_series): ~1 s per 1,000 rooms.
-- Messages go in seq-major order (message 1 of every room, then message 2...)
-- as a live service writes them, so a room's messages are spread over many
-- pages rather than packed together, which would flatter get_room. Each has
-- its json_text, as the server stores it.
BEGIN;
INSERT INTO rooms (id, type, last_seq, expires_at)
SELECT 'bench/' || :'l' || i || 'a/' || :'l' || i || 'b', 'bench', 100, now() + interval '60 days'
  FROM generate_series(1, :n) AS i;
INSERT INTO room_users (room_id, username)
SELECT 'bench/' || :'l' || i || 'a/' || :'l' || i || 'b', :'l' || i || s
  FROM generate_series(1, :n) AS i, (VALUES ('a'), ('b')) AS v(s);
INSERT INTO messages (room_id, seq, ts, ts_is_string, sender, type, message, json_text)
SELECT room, k, ts, false, sender, 'text', message,
       '{"timestamp":' || ts || ',"from":' || to_json(sender) || ',"type":"text","message":'
         || to_json(message) || '}'
  FROM generate_series(0, :n * 100 - 1) AS g,
       LATERAL (SELECT g / :n + 1 AS k, g % :n + 1 AS i) AS x,
       LATERAL (SELECT 'bench/' || :'l' || i || 'a/' || :'l' || i || 'b' AS room,
                       (1700000000000 + k * 1000)::text AS ts,
                       :'l' || i || CASE WHEN k % 2 = 0 THEN 'a' ELSE 'b' END AS sender,
                       'bench message number ' || k AS message) AS v;
\if :tokens
INSERT INTO auth_tokens (token, username, expires_at)
SELECT 'tok-' || :'l' || i || s, :'l' || i || s, NULL
  FROM generate_series(1, :n) AS i, (VALUES ('a'), ('b')) AS v(s);
\endif
COMMIT;
