-- outbox_retry: notification $1 failed with error $3: try again in $2
-- milliseconds, or, when $4, keep it marked failed for operators.
UPDATE notification_outbox
   SET next_attempt_at = now() + make_interval(secs => $2::double precision / 1000),
       last_error = $3,
       failed_at = CASE WHEN $4::boolean THEN now() END
 WHERE id = $1;
