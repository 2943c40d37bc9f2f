-- system_message: see chat_system_message in migrations/.
SELECT chat_system_message($1, $2, $3::text[], $4, $5, $6, $7, $8, $9);
