-- record_search: messages on record, newest first (see chat_record_search in
-- docs/schema.sql): sent by $1, in room $2, stored from $3 to before $4
-- (epoch seconds), with an id below $5, at most $6; NULL filters are off.
SELECT id, chat_iso_time(stored_at), room_id, sender, type, ts, ts_is_string, message,
       json_text, request_id, chat_iso_time(redacted_at), redacted_by, redaction_reason
  FROM chat_record_search($1, $2, to_timestamp($3::double precision),
                          to_timestamp($4::double precision), $5, $6);
