-- outbox_stats: notifications waiting for delivery, and kept as failed.
SELECT count(*) FILTER (WHERE failed_at IS NULL),
       count(*) FILTER (WHERE failed_at IS NOT NULL)
  FROM notification_outbox;
