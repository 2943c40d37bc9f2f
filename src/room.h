/* room: validation of a room body ({type, users}) and the room id
 * "<type>/<users sorted bytewise, joined by '/'>". */
#ifndef GANOMEDE_ROOM_H
#define GANOMEDE_ROOM_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/* PostgreSQL's btree refuses keys past ~2.7 kB: stay well below. */
#define ROOM_MAX_ID_BYTES 2048

/* What a room body may hold (MAX_USERS_PER_ROOM, MAX_ROOM_TYPE_BYTES,
 * MAX_USERNAME_BYTES). */
struct room_limits {
    long max_users;
    long max_type_bytes;
    long max_username_bytes;
};

struct room_spec {
    const char *type;     /* borrowed from the body */
    const char **users;   /* sorted bytewise; the array is owned, strings borrowed */
    size_t nusers;
    char *id;             /* owned */
};

/* Validates BODY as a room ({"type": non-empty string, "users": non-empty
 * array of distinct non-empty strings}, within LIMITS, no control
 * characters in names, no '/' in user names) and builds its id. Returns
 * false with the reason in ERR (the 400 message) when invalid; OUT then
 * needs no freeing. On success free OUT with room_spec_free; it borrows
 * from BODY, which must outlive it.
 * A type may hold '/' ("triominos/v1"), so an id alone does not say which
 * type and users made it: the store refuses a live room of the same id
 * with another type or other users (409). */
__attribute__((warn_unused_result))
bool room_spec_parse(struct json_object *body, const struct room_limits *limits,
                     struct room_spec *out, char *err, size_t errlen);

void room_spec_free(struct room_spec *spec);

/* True when USERNAME is one of the spec's users. */
bool room_spec_has_user(const struct room_spec *spec, const char *username);

/* The users as a PostgreSQL text[] literal, for a $n parameter. Caller frees. */
char *room_spec_users_literal(const struct room_spec *spec);

#endif
