-- outbox_claim: takes at most $1 due notifications and leases them for $2
-- milliseconds (their next_attempt_at moves past the delivery timeout), so
-- other servers skip them; SKIP LOCKED keeps concurrent claimers apart.
UPDATE notification_outbox o
   SET attempts = o.attempts + 1,
       next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
 WHERE o.id IN (SELECT id
                  FROM notification_outbox
                 WHERE failed_at IS NULL AND next_attempt_at <= now()
                 ORDER BY next_attempt_at, id
                 LIMIT $1
                   FOR UPDATE SKIP LOCKED)
RETURNING o.id, o.to_user, o.type, o.data, o.push, o.attempts;
