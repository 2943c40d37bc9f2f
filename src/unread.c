/* unread: my_rooms.sql rows to the page's JSON; the cursor as base64url. */
#include "unread.h"

#include "db.h"
#include "message.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns of my_rooms.sql. */
enum my_rooms_column { MR_PART, MR_ID, MR_TYPE, MR_USERS, MR_ACTIVITY, MR_JSON, MR_TS,
                       MR_TS_IS_STRING, MR_SENDER, MR_MESSAGE_TYPE, MR_MESSAGE, MR_HAS_MESSAGE,
                       MR_UNREAD, MR_READ_AT, MR_COLUMNS };

/* The longest cursor accepted (a room id is at most ROOM_MAX_ID_BYTES). */
#define UNREAD_CURSOR_MAX 4096

static enum store_result unread_from_db(enum db_status s)
{
    return s == DB_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_ERROR;
}

/* base64url of "activity\nsince\nroom id", unpadded; caller frees. */
static char *unread_cursor_text(const char *activity, const char *since, const char *room_id)
{
    size_t len = strlen(activity) + strlen(since) + strlen(room_id) + 2;
    char *plain = malloc(len + 1);
    char *b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (!plain || !b64) {
        free(plain);
        free(b64);
        return NULL;
    }
    snprintf(plain, len + 1, "%s\n%s\n%s", activity, since, room_id);
    int n = EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain, (int)len);
    free(plain);
    while (n > 0 && b64[n - 1] == '=')
        n--;
    b64[n] = '\0';
    for (char *p = b64; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return b64;
}

bool unread_cursor_parse(const char *text, struct unread_cursor *c)
{
    memset(c, 0, sizeof *c);
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len > UNREAD_CURSOR_MAX || strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                            "abcdefghijklmnopqrstuvwxyz"
                                                            "0123456789-_") != len)
        return false;
    char b64[UNREAD_CURSOR_MAX + 4];
    size_t n = 0;
    for (; n < len; n++)
        b64[n] = text[n] == '-' ? '+' : text[n] == '_' ? '/' : text[n];
    size_t pad = (4 - n % 4) % 4;
    if (pad == 3)
        return false;
    while (pad--)
        b64[n++] = '=';
    b64[n] = '\0';
    unsigned char plain[UNREAD_CURSOR_MAX];
    int got = EVP_DecodeBlock(plain, (const unsigned char *)b64, (int)n);
    if (got < 0)
        return false;
    /* EVP_DecodeBlock counts the padding's zero bytes in: drop them. */
    for (const char *p = b64 + n; p > b64 && p[-1] == '='; p--)
        got--;
    plain[got] = '\0';
    if (memchr(plain, '\0', (size_t)got))
        return false;
    char *first = strchr((char *)plain, '\n');
    char *second = first ? strchr(first + 1, '\n') : NULL;
    if (!second || (size_t)(first - (char *)plain) >= sizeof c->activity ||
        (size_t)(second - first - 1) >= sizeof c->since || !second[1])
        return false;
    *first = *second = '\0';
    memcpy(c->activity, plain, (size_t)(first - (char *)plain) + 1);
    memcpy(c->since, first + 1, (size_t)(second - first));
    c->room_id = strdup(second + 1);
    return c->room_id != NULL;
}

void unread_cursor_free(struct unread_cursor *c)
{
    free(c->room_id);
    c->room_id = NULL;
}

/* The newest message of ROW's room, or NULL. */
static struct json_object *unread_last_message(PGresult *res, int row)
{
    if (PQgetvalue(res, row, MR_HAS_MESSAGE)[0] != 't')
        return NULL;
    if (PQgetisnull(res, row, MR_JSON))
        return message_json(PQgetvalue(res, row, MR_TS),
                            PQgetvalue(res, row, MR_TS_IS_STRING)[0] == 't',
                            PQgetvalue(res, row, MR_SENDER),
                            PQgetvalue(res, row, MR_MESSAGE_TYPE),
                            PQgetvalue(res, row, MR_MESSAGE));
    return json_tokener_parse(PQgetvalue(res, row, MR_JSON));
}

static struct json_object *unread_room(PGresult *res, int row)
{
    struct json_object *room = json_object_new_object();
    json_object_object_add(room, "id", json_object_new_string(PQgetvalue(res, row, MR_ID)));
    json_object_object_add(room, "type", json_object_new_string(PQgetvalue(res, row, MR_TYPE)));
    json_object_object_add(room, "users", json_tokener_parse(PQgetvalue(res, row, MR_USERS)));
    json_object_object_add(room, "lastMessage", unread_last_message(res, row));
    json_object_object_add(room, "unread", json_object_new_int64(
                                               strtoll(PQgetvalue(res, row, MR_UNREAD), NULL, 10)));
    return room;
}

/* The page from the rows of RES; the next cursor when the page is full:
 * the walk's last room (or AFTER's, when every room of the page had moved)
 * and the page's time. */
static struct json_object *unread_page(PGresult *res, long limit,
                                       const struct unread_cursor *after)
{
    int rows = PQntuples(res);
    struct json_object *rooms = json_object_new_array_ext(rows);
    const char *activity = after ? after->activity : NULL;
    const char *room_id = after ? after->room_id : NULL;
    for (int i = 0; i < rows; i++) {
        json_object_array_add(rooms, unread_room(res, i));
        if (strcmp(PQgetvalue(res, i, MR_PART), "1") == 0) {
            activity = PQgetvalue(res, i, MR_ACTIVITY);
            room_id = PQgetvalue(res, i, MR_ID);
        }
    }
    char *next = NULL;
    if (rows == limit && rows > 0)
        next = unread_cursor_text(activity ? activity : "infinity",
                                  PQgetvalue(res, 0, MR_READ_AT), room_id ? room_id : "");
    struct json_object *page = json_object_new_object();
    json_object_object_add(page, "rooms", rooms);
    json_object_object_add(page, "next", next ? json_object_new_string(next) : NULL);
    free(next);
    return page;
}

static enum store_result unread_my_rooms_on(struct db_pool *pool, const char *user, long limit,
                                            const struct unread_cursor *after,
                                            struct json_object **page, const char *req_id)
{
    char limit_text[24];
    snprintf(limit_text, sizeof limit_text, "%ld", limit);
    PGresult *res = NULL;
    enum db_status s = db_exec(
        pool,
        DB_CALL(SQL_MY_ROOMS, user, limit_text, after ? after->activity : NULL,
                after ? after->room_id : NULL, after ? after->since : NULL),
        true, &res, req_id);
    if (s != DB_OK)
        return unread_from_db(s);
    enum store_result out = STORE_ERROR;
    if (db_result_shape(res, SQL_MY_ROOMS, MR_COLUMNS, 0, -1, req_id)) {
        *page = unread_page(res, limit, after);
        out = STORE_OK;
    }
    PQclear(res);
    return out;
}

enum store_result unread_my_rooms(struct store *st, const char *user, long limit,
                                  const struct unread_cursor *after, bool fresh,
                                  struct json_object **page, const char *req_id)
{
    *page = NULL;
    struct db_pool *pool = store_read_pool(st, fresh);
    enum store_result r = unread_my_rooms_on(pool, user, limit, after, page, req_id);
    if (r != STORE_OK && pool != st->pool)
        r = unread_my_rooms_on(st->pool, user, limit, after, page, req_id);
    return r;
}

/* Columns of read_marker.sql. */
enum read_marker_column { RM_STATUS, RM_LAST_READ_ID, RM_COLUMNS };

enum store_result unread_mark_read(struct store *st, const char *room_id, const char *user,
                                   long long message_id, long long *marker, const char *req_id)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%lld", message_id);
    PGresult *res = NULL;
    enum db_status s = db_exec(
        st->pool, DB_CALL(SQL_READ_MARKER, room_id, user, message_id > 0 ? id_text : NULL), false,
        &res, req_id);
    if (s != DB_OK)
        return unread_from_db(s);
    enum store_result out = STORE_ERROR;
    if (db_result_shape(res, SQL_READ_MARKER, RM_COLUMNS, 1, 1, req_id)) {
        const char *status = PQgetvalue(res, 0, RM_STATUS);
        out = strcmp(status, "ok") == 0          ? STORE_OK
              : strcmp(status, "not_member") == 0 ? STORE_NOT_MEMBER
                                                  : STORE_NOT_FOUND;
        *marker = strtoll(PQgetvalue(res, 0, RM_LAST_READ_ID), NULL, 10);
    }
    PQclear(res);
    return out;
}
