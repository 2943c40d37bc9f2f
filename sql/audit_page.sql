-- audit_page: the audit log, newest first: entries with an id below $1
-- (NULL: from the newest), at most $2.
SELECT id, chat_iso_time(at), actor, action, subject, reason, details::text, request_id
  FROM audit_log
 WHERE id < coalesce($1::bigint, 9223372036854775807)
 ORDER BY id DESC
 LIMIT $2;
