-- outbox_delivered: the notifications service took notification $1.
DELETE FROM notification_outbox WHERE id = $1;
