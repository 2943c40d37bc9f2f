-- admin_policy_show: user $1's policies as the chat applies them
-- (chat_user_policies over the usermeta table), and the raw usermeta keys.
SELECT coalesce(p.banned, false) AS banned, coalesce(p.muted, false) AS muted,
       coalesce(p.chat_disabled, false) AS chat_disabled,
       coalesce(array_to_json(p.blocked)::text, '[]') AS blocked,
       coalesce((SELECT json_object_agg(m.key, m.value ORDER BY m.key)::text
                   FROM usermeta m WHERE m.username = $1), '{}') AS usermeta
  FROM (VALUES (1)) AS one (x)
  LEFT JOIN chat_user_policies(ARRAY[$1::text], NULL) p ON true;
