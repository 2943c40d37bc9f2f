-- admin_token_revoke: deletes the table token whose SHA-256 is $1 (the
-- token never leaves the command in clear), recorded in the audit log as
-- done by $2 for reason $3. Returns its user, or no row.
WITH t AS (
    DELETE FROM auth_tokens WHERE token_sha256 = $1::bytea
    RETURNING username, token_sha256
), a AS (
    INSERT INTO audit_log (actor, action, subject, reason, details)
    SELECT $2, 'token_revoke', t.username, $3,
           jsonb_build_object('token_sha256', encode(t.token_sha256, 'hex'))
      FROM t
)
SELECT username FROM t;
