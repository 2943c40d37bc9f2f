-- outbox_next_due: milliseconds until the next notification is due (<= 0:
-- now), NULL when there is none.
SELECT ceil(extract(epoch FROM min(next_attempt_at) - now()) * 1000)::bigint
  FROM notification_outbox
 WHERE failed_at IS NULL;
