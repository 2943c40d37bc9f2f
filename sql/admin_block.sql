-- admin_block: adds ($3 true) or removes ($3 false) user $2 in user $1's
-- $blocked list (comma-separated, kept sorted; removed when empty),
-- recorded in the audit log as done by $4 for reason $5. Returns the new
-- list ('' when none).
WITH cur AS (
    SELECT coalesce((SELECT string_to_array(m.value, ',') FROM usermeta m
                      WHERE m.username = $1 AND m.key = '$blocked'), '{}') AS l
), next AS (
    SELECT (SELECT array_agg(DISTINCT x ORDER BY x)
              FROM unnest(CASE WHEN $3::boolean THEN l || ARRAY[$2::text] ELSE l END) AS x
             WHERE x <> '' AND ($3::boolean OR x <> $2)) AS l
      FROM cur
), gone AS (
    DELETE FROM usermeta
     WHERE username = $1 AND key = '$blocked' AND (SELECT l FROM next) IS NULL
    RETURNING 1
), kept AS (
    INSERT INTO usermeta (username, key, value)
    SELECT $1, '$blocked', array_to_string(l, ',') FROM next WHERE l IS NOT NULL
    ON CONFLICT (username, key) DO UPDATE SET value = EXCLUDED.value
    RETURNING 1
), a AS (
    INSERT INTO audit_log (actor, action, subject, reason, details)
    VALUES ($4, CASE WHEN $3::boolean THEN 'policy_block' ELSE 'policy_unblock' END, $1, $5,
            jsonb_build_object('other', $2::text))
)
SELECT coalesce(array_to_string((SELECT l FROM next), ','), '') AS blocked;
