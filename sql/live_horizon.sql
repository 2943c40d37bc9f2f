-- live_horizon: the oldest transaction still running (the snapshot's
-- xmin): the live poller's position when no one waits, read without
-- touching a table.
SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon;
