/* unread: the caller's rooms with their newest message and unread count
 * (sql/my_rooms.sql), and read markers (sql/read_marker.sql). Store level:
 * knows SQL, not HTTP. */
#ifndef GANOMEDE_UNREAD_H
#define GANOMEDE_UNREAD_H

#include <stdbool.h>

#include "store.h"

struct json_object;

/* Where a page of rooms goes on from: opaque to clients (base64url of the
 * last room's activity and id and the time the page was read). */
struct unread_cursor {
    char activity[64];
    char since[64];
    char *room_id;     /* owned */
};

/* Decodes the "cursor" of a request into *C (free with unread_cursor_free);
 * false for anything this server did not make. */
__attribute__((warn_unused_result))
bool unread_cursor_parse(const char *text, struct unread_cursor *c);
void unread_cursor_free(struct unread_cursor *c);

/* A page of the live rooms USER is a member of, most recently active first:
 * {"rooms": [{"id", "type", "users", "lastMessage", "unread"}], "next"}
 * (caller puts *PAGE). AFTER: the previous page's cursor, or NULL. Read
 * where store_read_pool(FRESH) says (the primary when the replica fails). */
__attribute__((warn_unused_result))
enum store_result unread_my_rooms(struct store *st, const char *user, long limit,
                                  const struct unread_cursor *after, bool fresh,
                                  struct json_object **page, const char *req_id);

/* USER has read live room ROOM_ID up to message MESSAGE_ID (0: its newest
 * now): *MARKER is the marker kept (markers never move back).
 * STORE_NOT_FOUND: no such room, or no such message in it;
 * STORE_NOT_MEMBER. */
__attribute__((warn_unused_result))
enum store_result unread_mark_read(struct store *st, const char *room_id, const char *user,
                                   long long message_id, long long *marker, const char *req_id);

#endif
