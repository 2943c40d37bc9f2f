-- expiry_lock: one expiry job at a time across every server (session lock,
-- released by expiry_unlock or when the connection ends).
SELECT pg_try_advisory_lock(7462630402);
