-- schema_version: the newest migration applied, and whether this server
-- refuses writes (a standby, or default_transaction_read_only): the health
-- check answers 503 for either.
SELECT coalesce(max(version), 0) AS version,
       current_setting('transaction_read_only') = 'on' AS read_only
  FROM schema_migrations;
