-- audit_add: an audit row for an action that changes nothing (an export):
-- $1 actor, $2 action, $3 subject, $4 reason, $5 details (JSON), $6 request id.
SELECT chat_audit($1, $2, $3, $4, $5::jsonb, $6);
