/* usermeta: the policies the original reads from the usermeta Redis
 * (ganomede-usermeta's keys "<username>:<key>" holding the raw value), for
 * the users a request's checks need, in one MGET. The server does not
 * interpret them: it hands them to PostgreSQL as JSON
 * {"<user>": {"<key>": "<value>"}}, where chat_user_policies (migration
 * 0009) applies the same rules as to the usermeta table. */
#ifndef GANOMEDE_USERMETA_H
#define GANOMEDE_USERMETA_H

#include <stdbool.h>
#include <stddef.h>

struct redis_link;

/* The policy values of the N USERS as JSON text in *POLICIES (caller
 * frees; users without any are absent). With no LINK, *POLICIES is NULL
 * (the table is the source) and nothing is read. False when the Redis does
 * not answer (the request gets 503). */
__attribute__((warn_unused_result))
bool usermeta_fetch(struct redis_link *link, const char *const *users, size_t n,
                    char **policies, const char *req_id);

/* usermeta_fetch for a post to ROOM_ID by SENDER: the sender and every user
 * of the room, read from the room id itself ("type/user1/user2...", user
 * names holding no '/'): each '/'-separated part is fetched, the type's
 * parts too (they match no user the checks ask about), so no query to
 * PostgreSQL comes first. SENDER "$$" (the API secret) has none. */
__attribute__((warn_unused_result))
bool usermeta_fetch_room(struct redis_link *link, const char *room_id, const char *sender,
                         char **policies, const char *req_id);

#endif
