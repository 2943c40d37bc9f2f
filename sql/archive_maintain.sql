-- archive_maintain: the record's partitions ahead and its retention (see
-- chat_archive_maintain in docs/schema.sql), as if it were $1 seconds
-- later than now (ARCHIVE_CLOCK_OFFSET_SECONDS), with partitions of $2
-- seconds and a retention of $3 days (0: none).
SELECT created, dropped, rows_dropped, rows_kept
  FROM chat_archive_maintain(now() + make_interval(secs => $1::double precision), $2, $3);
