-- schema_version: the newest migration applied (health check).
SELECT coalesce(max(version), 0) FROM schema_migrations;
