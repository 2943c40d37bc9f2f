DROP PROCEDURE IF EXISTS chat_expire(integer);
DROP FUNCTION IF EXISTS chat_expire_batch(integer);
DROP FUNCTION IF EXISTS chat_outbox_requeue();
DROP FUNCTION IF EXISTS chat_system_message(text, text, text[], text, boolean, text, integer, integer, text);
DROP FUNCTION IF EXISTS chat_post_message(text, text, boolean, boolean, text, boolean, text, text, integer, integer, text, text);
DROP FUNCTION IF EXISTS chat_queue_notifications(text, text, text, text);
DROP FUNCTION IF EXISTS chat_create_room(text, text, text[], text, integer);
DROP FUNCTION IF EXISTS chat_is_banned(text);
