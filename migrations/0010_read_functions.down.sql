-- 0010 down: the reads are plain statements again (sql/get_room.sql and
-- sql/history.sql of before 0010 held the queries).
DROP FUNCTION chat_history(text, bytea, bigint, integer);
DROP FUNCTION chat_get_room(text, integer, bytea);
