-- system_message: see chat_system_message in docs/schema.sql; rows as post_message's.
SELECT status, id, to_user, type, data, push
  FROM chat_system_message($1, $2, $3::text[], $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb);
