-- scripts/bench/seed_inbox.sql: the data of route my_rooms, run by
-- scripts/bench/seed.sh with psql variables users (the inbox users),
-- per_user (rooms each is in) and total (rooms in the database after it).
-- User ib<j> (j = 1..USERS) is in PER_USER rooms inbox/ib<j>/p<j>x<k> with
-- partner p<j>x<k>; each room holds 20 messages alternating between the
-- two, stored at times spread over the last day (so activity orders the
-- rooms), and users of odd j have read their rooms up to message 10. Then
-- rooms without messages (inbox-f/<i>, users fa<i> and fb<i>) bring the
-- database to TOTAL rooms, so the user's rooms are found among that many.
-- Token tok-ib<j> for each inbox user. Set-based (generate_series).
BEGIN;
INSERT INTO rooms (id, type, last_seq, created_at, expires_at)
SELECT 'inbox/ib' || j || '/p' || j || 'x' || k, 'inbox', 20, now() - interval '2 days',
       now() + interval '60 days'
  FROM generate_series(1, :users) AS j, generate_series(1, :per_user) AS k;
INSERT INTO room_users (room_id, username)
SELECT 'inbox/ib' || j || '/p' || j || 'x' || k, u
  FROM generate_series(1, :users) AS j, generate_series(1, :per_user) AS k,
       LATERAL (VALUES ('ib' || j), ('p' || j || 'x' || k)) AS v(u);
INSERT INTO messages (room_id, seq, ts, ts_is_string, sender, type, message, created_at, json_text)
SELECT room, s, ts, false, sender, 'text', 'inbox message ' || s,
       now() - interval '1 day' + ((k * 20 + s) % 86000) * interval '1 second',
       '{"timestamp":' || ts || ',"from":' || to_json(sender) || ',"type":"text","message":"inbox message '
         || s || '"}'
  FROM generate_series(1, :users) AS j, generate_series(1, :per_user) AS k,
       generate_series(1, 20) AS s,
       LATERAL (SELECT 'inbox/ib' || j || '/p' || j || 'x' || k AS room,
                       (1700000000000 + s * 1000)::text AS ts,
                       CASE WHEN s % 2 = 0 THEN 'ib' || j ELSE 'p' || j || 'x' || k END AS sender) AS v;
INSERT INTO room_reads (room_id, username, last_read_id, read_at)
SELECT m.room_id, 'ib' || j, m.id, now()
  FROM generate_series(1, :users, 2) AS j, generate_series(1, :per_user) AS k,
       LATERAL (SELECT room_id, id FROM messages
                 WHERE room_id = 'inbox/ib' || j || '/p' || j || 'x' || k AND seq = 10) AS m;
INSERT INTO rooms (id, type, last_seq, created_at, expires_at)
SELECT 'inbox-f/' || i, 'inbox-f', 0, now() - interval '2 days', now() + interval '60 days'
  FROM generate_series(1, greatest(:total - (SELECT count(*) FROM rooms), 0)) AS i;
INSERT INTO room_users (room_id, username)
SELECT id, u || substr(id, 9)
  FROM rooms, (VALUES ('fa'), ('fb')) AS v(u)
 WHERE id LIKE 'inbox-f/%';
INSERT INTO auth_tokens (token, username, expires_at)
SELECT 'tok-ib' || j, 'ib' || j, NULL FROM generate_series(1, :users) AS j;
COMMIT;
