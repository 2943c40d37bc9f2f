-- admin_token_list: user $1's table tokens as their SHA-256 (hex), never
-- the tokens, with their expiry (NULL: never) and whether they still work.
SELECT encode(token_sha256, 'hex') AS sha256, expires_at::text AS expires_at,
       (expires_at IS NULL OR expires_at > now()) AS valid
  FROM auth_tokens
 WHERE username = $1
 ORDER BY expires_at DESC NULLS FIRST, token_sha256;
