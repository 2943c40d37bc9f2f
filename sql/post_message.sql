-- post_message: see chat_post_message in migrations/ for the parameters.
SELECT chat_post_message($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);
