-- post_message: see chat_post_message in docs/schema.sql (the live schema) for
-- the parameters.
-- One row per notification queued (leased to this server for $14 ms, which
-- delivers them), or one row with the status alone.
SELECT status, id, to_user, type, data, push
  FROM chat_post_message($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                         $17, $18::jsonb);
