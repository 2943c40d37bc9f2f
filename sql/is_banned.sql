-- is_banned: whether user $1 is banned (its '$banned' policy), read from
-- $2, the usermeta Redis's values (NULL: the usermeta table).
SELECT chat_is_banned($1, $2::jsonb);
