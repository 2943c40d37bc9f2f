-- auth_lookup: the user of table token $1, unless the token has expired.
SELECT username
  FROM auth_tokens
 WHERE token = $1 AND (expires_at IS NULL OR expires_at > now());
