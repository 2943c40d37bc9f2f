-- is_banned: whether user $1 is banned (usermeta '$banned').
SELECT chat_is_banned($1);
