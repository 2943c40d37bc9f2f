-- replica_lag: how many seconds the server's replay is behind: 0 when all
-- it received is replayed (a caught-up standby of an idle primary is not
-- late), else the age of the last transaction replayed; 0 on a server that
-- is no standby. Run once a second by the replica monitor (src/replica.c).
SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
       END AS lag_seconds;
