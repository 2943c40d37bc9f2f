/* room: room body validation and ids. */
#include "room.h"

#include "body.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int room_compare_users(const void *a, const void *b);
static bool room_name_ok(const char *name, long max_bytes);
static char *room_build_id(const char *type, const char **users, size_t n);

static int room_compare_users(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Non-empty (checked by body_string_value), short enough, and free of
 * control characters, which no client displays and logs mangle. */
static bool room_name_ok(const char *name, long max_bytes)
{
    size_t len = strlen(name);
    if (len > (size_t)max_bytes)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static char *room_build_id(const char *type, const char **users, size_t n)
{
    size_t len = strlen(type);
    for (size_t i = 0; i < n; i++)
        len += 1 + strlen(users[i]);
    char *id = malloc(len + 1);
    if (!id)
        return NULL;
    char *p = stpcpy(id, type);
    for (size_t i = 0; i < n; i++) {
        *p++ = '/';
        p = stpcpy(p, users[i]);
    }
    return id;
}

bool room_spec_parse(struct json_object *body, const struct room_limits *limits,
                     struct room_spec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!body || !json_object_is_type(body, json_type_object)) {
        snprintf(err, errlen, "body must be a JSON object");
        return false;
    }
    const char *type = body_get_string(body, "type");
    if (!type || !room_name_ok(type, limits->max_type_bytes)) {
        snprintf(err, errlen, "type must be a non-empty string of at most %ld bytes, without control characters",
                 limits->max_type_bytes);
        return false;
    }
    struct json_object *users = NULL;
    if (!json_object_object_get_ex(body, "users", &users) ||
        !json_object_is_type(users, json_type_array) || json_object_array_length(users) == 0) {
        snprintf(err, errlen, "users must be a non-empty array of non-empty strings");
        return false;
    }
    size_t n = json_object_array_length(users);
    if (n > (size_t)limits->max_users) {
        snprintf(err, errlen, "a room has at most %ld users", limits->max_users);
        return false;
    }
    const char **names = calloc(n, sizeof *names);
    if (!names) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = body_string_value(json_object_array_get_idx(users, i));
        if (!names[i] || !room_name_ok(names[i], limits->max_username_bytes)) {
            snprintf(err, errlen, "users must be a non-empty array of non-empty strings of at most %ld bytes, without control characters",
                     limits->max_username_bytes);
            free(names);
            return false;
        }
        /* The id joins the users with '/': a name holding one could make
         * the id of another room. */
        if (strchr(names[i], '/')) {
            snprintf(err, errlen, "user names must not contain '/' (a room id joins its users with '/')");
            free(names);
            return false;
        }
    }
    qsort(names, n, sizeof *names, room_compare_users);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(names[i - 1], names[i]) == 0) {
            snprintf(err, errlen, "users must not repeat a name");
            free(names);
            return false;
        }
    }
    char *id = room_build_id(type, names, n);
    if (!id || strlen(id) > ROOM_MAX_ID_BYTES) {
        snprintf(err, errlen, "room id longer than %d bytes", ROOM_MAX_ID_BYTES);
        free(id);
        free(names);
        return false;
    }
    out->type = type;
    out->users = names;
    out->nusers = n;
    out->id = id;
    return true;
}

void room_spec_free(struct room_spec *spec)
{
    free(spec->users);
    free(spec->id);
    memset(spec, 0, sizeof *spec);
}

bool room_spec_has_user(const struct room_spec *spec, const char *username)
{
    for (size_t i = 0; i < spec->nusers; i++)
        if (strcmp(spec->users[i], username) == 0)
            return true;
    return false;
}

char *room_spec_users_literal(const struct room_spec *spec)
{
    /* {"a","b"}: every element quoted, '"' and '\' escaped. */
    size_t len = 3;
    for (size_t i = 0; i < spec->nusers; i++)
        len += 2 * strlen(spec->users[i]) + 3;
    char *lit = malloc(len);
    if (!lit)
        return NULL;
    char *p = lit;
    *p++ = '{';
    for (size_t i = 0; i < spec->nusers; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *s = spec->users[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return lit;
}
