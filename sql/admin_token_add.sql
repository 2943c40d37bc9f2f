-- admin_token_add: a new table token for user $1, made here from two random
-- UUIDs (so the token is never a statement parameter, and no statement log
-- holds it), expiring after $2 seconds (NULL: never); recorded in the
-- audit log as done by $3 for reason $4 (the token's digest, not the
-- token). Returns the token and its expiry.
WITH t AS (
    INSERT INTO auth_tokens (token, username, expires_at)
    VALUES (replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''),
            $1, now() + make_interval(secs => $2::double precision))
    RETURNING token, username, token_sha256, expires_at
), a AS (
    INSERT INTO audit_log (actor, action, subject, reason, details)
    SELECT $3, 'token_add', t.username, $4,
           jsonb_build_object('token_sha256', encode(t.token_sha256, 'hex'),
                              'expires_at', t.expires_at)
      FROM t
)
SELECT token, expires_at::text AS expires_at FROM t;
