-- holds_list: the legal holds, newest first; the lifted ones too when $1.
SELECT id, kind, subject, reason, created_by, chat_iso_time(created_at),
       chat_iso_time(lifted_at), lifted_by, lift_reason
  FROM legal_holds
 WHERE $1::boolean OR lifted_at IS NULL
 ORDER BY id DESC;
