-- 0012 down.
DROP FUNCTION chat_history_after(text, bytea, bigint, integer);
DROP INDEX messages_xid_idx;
ALTER TABLE messages DROP COLUMN xid;
