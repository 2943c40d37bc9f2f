-- idempotency_expire: deletes at most $1 idempotency keys past their life;
-- the number deleted (the expiry job repeats while a batch is full).
SELECT chat_idempotency_expire($1::integer);
