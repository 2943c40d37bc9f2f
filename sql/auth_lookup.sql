-- auth_lookup: the user of the table token whose SHA-256 is $1 (bytea),
-- unless the token has expired. The token itself never reaches PostgreSQL.
SELECT username
  FROM auth_tokens
 WHERE token_sha256 = $1 AND (expires_at IS NULL OR expires_at > now());
