-- admin_policy_set: sets usermeta key $2 of user $1 to $3 (NULL: removes
-- it), recorded in the audit log as policy $6 done by $4 for reason $5.
-- Returns how many rows changed.
WITH gone AS (
    DELETE FROM usermeta
     WHERE $3::text IS NULL AND username = $1 AND key = $2
    RETURNING 1
), kept AS (
    INSERT INTO usermeta (username, key, value)
    SELECT $1, $2, $3::text WHERE $3::text IS NOT NULL
    ON CONFLICT (username, key) DO UPDATE SET value = EXCLUDED.value
    RETURNING 1
), a AS (
    INSERT INTO audit_log (actor, action, subject, reason, details)
    VALUES ($4, 'policy_set', $1, $5, jsonb_build_object('policy', $6::text, 'key', $2::text))
)
SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM kept) AS changed;
