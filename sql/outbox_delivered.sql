-- outbox_delivered: the notifications service took these notifications
-- ($1, an array of ids): one statement for every delivery of a round.
DELETE FROM notification_outbox WHERE id = ANY ($1::bigint[]);
