-- 0013 down.
DROP FUNCTION chat_open_room(text, text, text[], text, integer, jsonb, integer, bytea, integer);
