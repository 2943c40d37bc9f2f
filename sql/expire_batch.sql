-- expire_batch: delete at most $1 expired rooms; returns how many.
SELECT chat_expire_batch($1);
