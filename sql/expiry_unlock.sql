-- expiry_unlock: releases expiry_lock.
SELECT pg_advisory_unlock(7462630402);
