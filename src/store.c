/* store: prepared queries and the room JSON built from plain rows (building
 * it inside PostgreSQL measured 2.5 times slower). */
#include "store.h"

#include "db.h"
#include "digest.h"
#include "log.h"
#include "message.h"
#include "migrate.h"
#include "replica.h"
#include "room.h"
#include "room_cache.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum store_result store_from_db(enum db_status s);
static enum store_result store_take_value(PGresult *res, enum sql_statement id, char *out,
                                          size_t outlen, const char *req_id);
static enum store_result store_value(struct store *st, struct db_call call, bool retry_safe,
                                     char *out, size_t outlen, const char *req_id);
static enum store_result store_session_value(struct db_session *s, struct db_call call,
                                             char *out, size_t outlen, const char *req_id);
static enum store_result store_expire_batches(struct db_session *s, long batch, long *deleted,
                                              const char *req_id);
static enum store_result store_maintain_archive(struct store *st, struct db_session *s,
                                                struct store_archive_report *out,
                                                const char *req_id);
static enum store_result store_from_status(const char *status);
static void store_add(struct json_object *o, const char *key, struct json_object *value);
static struct json_object *store_text(PGresult *res, int row, int col);
static void store_free_result(struct json_object *o, void *res);
static struct json_object *store_message_row(PGresult *res, int row);
static struct json_object *store_room_json(const char *id, PGresult *res);
static struct json_object *store_message_row(PGresult *res, int row);
static void store_add(struct json_object *o, const char *key, struct json_object *value);
static void store_free_result(struct json_object *o, void *res);
static char *store_json_text(struct json_object *o);
static char *store_notification_data(const char *room_id, const char *sender,
                                     const struct message_spec *msg);
static enum store_result store_posted(struct store *st, enum sql_statement id,
                                      enum db_status s, PGresult *res, const char *req_id);

static enum store_result store_from_db(enum db_status s)
{
    return s == DB_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_ERROR;
}

/* The answer of ID in RES, one row of one non-NULL column, copied into OUT
 * (statuses, counts, versions: short); RES is cleared. */
static enum store_result store_take_value(PGresult *res, enum sql_statement id, char *out,
                                          size_t outlen, const char *req_id)
{
    enum store_result r = STORE_ERROR;
    if (db_result_shape(res, id, 1, 1, 1, req_id) && !PQgetisnull(res, 0, 0)) {
        snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
        r = STORE_OK;
    }
    PQclear(res);
    return r;
}

/* Runs CALL, whose answer is one value, into OUT. */
static enum store_result store_value(struct store *st, struct db_call call, bool retry_safe,
                                     char *out, size_t outlen, const char *req_id)
{
    PGresult *res = NULL;
    enum db_status s = db_exec(st->pool, call, retry_safe, &res, req_id);
    if (s != DB_OK)
        return store_from_db(s);
    return store_take_value(res, call.id, out, outlen, req_id);
}

/* The text statuses of the chat_* SQL functions. */
static enum store_result store_from_status(const char *status)
{
    static const struct { const char *text; enum store_result result; } map[] = {
        { "ok", STORE_OK },           { "created", STORE_OK },
        { "exists", STORE_OK },       { "valid", STORE_VALID },
        { "not_found", STORE_NOT_FOUND }, { "not_member", STORE_NOT_MEMBER },
        { "banned", STORE_BANNED },   { "chat_disabled", STORE_CHAT_DISABLED },
        { "muted", STORE_MUTED },     { "bad_token", STORE_BAD_TOKEN },
        { "conflict", STORE_CONFLICT }, { "duplicate", STORE_DUPLICATE },
        { "key_mismatch", STORE_KEY_MISMATCH }, { "no_message", STORE_NOT_FOUND },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(status, map[i].text) == 0)
            return map[i].result;
    return STORE_ERROR;
}

struct store_room_read;
static enum store_result store_read_room(struct store *st, const char *room_id,
                                         const char *token, bool fresh,
                                         struct store_room_read *read, const char *req_id);
static enum store_result store_read_room_on(struct store *st, struct db_pool *pool,
                                            const char *room_id, const char *token,
                                            struct store_room_read *read, const char *req_id);
static struct room_answer *store_room_answer(struct store *st, const char *room_id,
                                             const char *version, struct json_object *room);
static enum store_result store_opened(struct store *st, const struct room_spec *spec,
                                      PGresult *res, struct room_answer **known,
                                      struct room_answer **answer, const char *req_id);
static struct room_answer *store_answer_of(struct store *st, const char *room_id,
                                           const char *version, struct json_object *room,
                                           struct room_answer **known);

enum store_result store_lookup_token(struct store *st, const char *token, char **username,
                                     const char *req_id)
{
    *username = NULL;
    char digest[DIGEST_PARAM_SIZE];
    if (!digest_token_param(token, digest))
        return STORE_ERROR;
    PGresult *res = NULL;
    enum db_status s = db_exec(st->pool, DB_CALL(SQL_AUTH_LOOKUP, digest), true, &res, req_id);
    if (s != DB_OK)
        return store_from_db(s);
    enum store_result out = STORE_ERROR;
    if (!db_result_shape(res, SQL_AUTH_LOOKUP, 1, 0, 1, req_id)) {
        out = STORE_ERROR;
    } else if (PQntuples(res) == 0) {
        out = STORE_NOT_FOUND;
    } else {
        *username = strdup(PQgetvalue(res, 0, 0));
        out = *username ? STORE_OK : STORE_ERROR;
    }
    PQclear(res);
    return out;
}

enum store_result store_is_banned(struct store *st, const char *username, const char *policies,
                                  const char *req_id)
{
    char banned[8];
    enum store_result r = store_value(st, DB_CALL(SQL_IS_BANNED, username, policies), true, banned,
                                      sizeof banned, req_id);
    if (r != STORE_OK)
        return r;
    return banned[0] == 't' ? STORE_BANNED : STORE_OK;
}

/* POST rooms moves a room's expiry only when that gains more than
 * 1/STORE_REFRESH_SLACK_DIVISOR of the TTL (docs/api.md: the precision). */
#define STORE_REFRESH_SLACK_DIVISOR 100

/* Rows of get_room.sql: the header (caller, type, users as JSON text, and
 * the room's version), then one row per message: its JSON, or (stored
 * before migration 0004) ts, ts_is_string, sender, type, message.
 * open_room.sql's rows have the same columns. */
enum get_room_column { GR_CALLER, GR_TYPE, GR_USERS, GR_JSON, GR_TS, GR_TS_IS_STRING, GR_SENDER,
                       GR_MESSAGE_TYPE, GR_MESSAGE, GR_VERSION, GR_COLUMNS };

/* Adds KEY (a string literal) to object O: json-c neither copies nor
 * looks for it. */
static void store_add(struct json_object *o, const char *key, struct json_object *value)
{
    json_object_object_add_ex(o, key, value,
                              JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT);
}

static struct json_object *store_text(PGresult *res, int row, int col)
{
    return json_object_new_string_len(PQgetvalue(res, row, col), PQgetlength(res, row, col));
}

/* json-c's user_delete: the room's JSON owns the result its messages'
 * texts point into. */
static void store_free_result(struct json_object *o, void *res)
{
    (void)o;
    PQclear(res);
}

/* Message ROW of a get_room result. Its stored JSON text goes out as it
 * is: json-c writes a node with the userdata serializer verbatim, so the
 * text is neither parsed nor copied (it stays in RES, which the room owns). */
static struct json_object *store_message_row(PGresult *res, int row)
{
    if (PQgetisnull(res, row, GR_JSON))
        return message_json(PQgetvalue(res, row, GR_TS),
                            PQgetvalue(res, row, GR_TS_IS_STRING)[0] == 't',
                            PQgetvalue(res, row, GR_SENDER), PQgetvalue(res, row, GR_MESSAGE_TYPE),
                            PQgetvalue(res, row, GR_MESSAGE));
    struct json_object *m = json_object_new_boolean(0);
    if (m)
        json_object_set_serializer(m, json_object_userdata_to_json_string,
                                   PQgetvalue(res, row, GR_JSON), NULL);
    return m;
}

/* The room's JSON; on success it owns RES (freed with it). */
static struct json_object *store_room_json(const char *id, PGresult *res)
{
    struct json_object *users = json_tokener_parse(PQgetvalue(res, 0, GR_USERS));
    if (!users || !json_object_is_type(users, json_type_array)) {
        json_object_put(users);
        return NULL;
    }
    int rows = PQntuples(res);
    struct json_object *room = json_object_new_object();
    struct json_object *messages = json_object_new_array_ext(rows - 1);
    store_add(room, "id", json_object_new_string(id));
    store_add(room, "type", store_text(res, 0, GR_TYPE));
    store_add(room, "users", users);
    for (int i = 1; i < rows; i++)
        json_object_array_add(messages, store_message_row(res, i));
    store_add(room, "messages", messages);
    json_object_set_userdata(room, res, store_free_result);
    return room;
}

struct db_pool *store_read_pool(struct store *st, bool fresh)
{
    return st->read_pool && !fresh && replica_usable(st->replica) ? st->read_pool : st->pool;
}

/* What one read of get_room.sql found: the token's user, and the room with
 * its version unless the version was still the one the caller knew. */
struct store_room_read {
    const char *known;           /* the version held, or NULL */
    char *caller;                /* caller frees */
    struct json_object *room;    /* caller puts; NULL: still KNOWN */
    char version[STORE_VERSION_SIZE];
};

/* Reads ROOM_ID into *READ (READ->known set, the rest empty) from a
 * replica when it may serve, else (or when the replica's answer is not
 * STORE_OK) from the primary. */
static enum store_result store_read_room(struct store *st, const char *room_id,
                                         const char *token, bool fresh,
                                         struct store_room_read *read, const char *req_id)
{
    struct db_pool *pool = store_read_pool(st, fresh);
    enum store_result r = store_read_room_on(st, pool, room_id, token, read, req_id);
    if (r != STORE_OK && pool != st->pool)
        r = store_read_room_on(st, st->pool, room_id, token, read, req_id);
    return r;
}

enum store_result store_get_room(struct store *st, const char *room_id, const char *token,
                                 bool fresh, char **caller, struct json_object **room,
                                 const char *req_id)
{
    struct store_room_read read = { 0 };
    enum store_result r = store_read_room(st, room_id, token, fresh, &read, req_id);
    *room = read.room;
    if (caller)
        *caller = read.caller;
    else
        free(read.caller);
    return r;
}

enum store_result store_get_room_answer(struct store *st, const char *room_id,
                                        const char *token, bool fresh, char **caller,
                                        struct room_answer **answer, const char *req_id)
{
    *answer = NULL;
    struct room_answer *known = room_cache_get(st->rooms, room_id);
    struct store_room_read read = { .known = known ? known->version : NULL };
    enum store_result r = store_read_room(st, room_id, token, fresh, &read, req_id);
    if (r == STORE_OK && !(*answer = store_answer_of(st, room_id, read.version, read.room, &known)))
        r = STORE_ERROR;
    room_answer_release(known);
    json_object_put(read.room);
    *caller = read.caller;
    if (r != STORE_OK) {
        free(*caller);
        *caller = NULL;
    }
    return r;
}

/* The answer of a read of ROOM_ID that found ROOM (borrowed) at VERSION:
 * *KNOWN itself (taken) when ROOM is NULL (the version it holds still
 * stands), else a new one made of ROOM; a hit or a miss counted, except
 * for a room with no version (just created). NULL when memory ran out. */
static struct room_answer *store_answer_of(struct store *st, const char *room_id,
                                           const char *version, struct json_object *room,
                                           struct room_answer **known)
{
    struct room_answer *a = *known;
    if (room)
        a = store_room_answer(st, room_id, version, room);
    else
        *known = NULL;
    if (a && (!room || version))
        room_cache_count(st->rooms, !room);
    return a;
}

/* A new answer of ROOM_ID at VERSION, made of ROOM (borrowed) and kept in
 * the room cache (not without a VERSION); NULL when memory ran out. */
static struct room_answer *store_room_answer(struct store *st, const char *room_id,
                                             const char *version, struct json_object *room)
{
    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        room, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    struct json_object *users = NULL;
    json_object_object_get_ex(room, "users", &users);
    /* An answer that is not kept (no cache, or no version: a room just
     * created) is sent once: not worth compressing here (the HTTP layer
     * gzips it for a client that takes it). */
    bool keep = st->rooms && version;
    struct room_answer *a = text ? room_answer_new(room_id, version ? version : "", users, text,
                                                   len, keep)
                                 : NULL;
    if (keep)
        room_cache_put(st->rooms, a);
    return a;
}

/* store_read_room on POOL. */
static enum store_result store_read_room_on(struct store *st, struct db_pool *pool,
                                            const char *room_id, const char *token,
                                            struct store_room_read *read, const char *req_id)
{
    char limit[24], digest[DIGEST_PARAM_SIZE];
    snprintf(limit, sizeof limit, "%ld", st->max_messages);
    if (token && !digest_token_param(token, digest))
        return STORE_ERROR;
    PGresult *res = NULL;
    enum db_status s = db_exec(pool,
                               DB_CALL(SQL_GET_ROOM, room_id, limit, token ? digest : NULL,
                                       read->known),
                               true, &res, req_id);
    if (s != DB_OK)
        return store_from_db(s);
    enum store_result out = STORE_ERROR;
    /* The header row has no message columns; a room has a type and a
     * version; no users and no messages when the version is still known. */
    bool unchanged = false;
    if (!db_result_shape(res, SQL_GET_ROOM, GR_COLUMNS, 1, -1, req_id) ||
        !PQgetisnull(res, 0, GR_JSON) || !PQgetisnull(res, 0, GR_TS))
        out = STORE_ERROR;
    else if (token && PQgetisnull(res, 0, GR_CALLER))
        out = STORE_BAD_TOKEN;
    else if (PQgetisnull(res, 0, GR_TYPE))
        out = STORE_NOT_FOUND;
    else if (PQgetisnull(res, 0, GR_VERSION) ||
             (size_t)PQgetlength(res, 0, GR_VERSION) >= sizeof read->version)
        out = STORE_ERROR;
    else if (token && !(read->caller = strdup(PQgetvalue(res, 0, GR_CALLER))))
        out = STORE_ERROR;
    else if ((unchanged = read->known && strcmp(read->known, PQgetvalue(res, 0, GR_VERSION)) == 0))
        out = STORE_OK;
    else {
        snprintf(read->version, sizeof read->version, "%s", PQgetvalue(res, 0, GR_VERSION));
        if ((read->room = store_room_json(room_id, res)) != NULL) {
            res = NULL;   /* the room owns it now */
            out = STORE_OK;
        }
    }
    PQclear(res);
    if (out != STORE_OK) {
        free(read->caller);
        read->caller = NULL;
    }
    return out;
}

/* The room SPEC names, as POST rooms answers it: its messages are rows 1..
 * of RES (open_room.sql, shaped as get_room.sql's), or none without RES.
 * With RES, the room owns it. */
static struct json_object *store_spec_room(const struct room_spec *spec, PGresult *res)
{
    int rows = res ? PQntuples(res) : 1;
    struct json_object *j = json_object_new_object();
    struct json_object *names = json_object_new_array_ext((int)spec->nusers);
    for (size_t i = 0; i < spec->nusers; i++)
        json_object_array_add(names, json_object_new_string(spec->users[i]));
    struct json_object *messages = json_object_new_array_ext(rows - 1);
    for (int i = 1; i < rows; i++)
        json_object_array_add(messages, store_message_row(res, i));
    store_add(j, "id", json_object_new_string(spec->id));
    store_add(j, "type", json_object_new_string(spec->type));
    store_add(j, "users", names);
    store_add(j, "messages", messages);
    if (res)
        json_object_set_userdata(j, res, store_free_result);
    return j;
}

enum store_result store_create_room(struct store *st, const struct room_spec *spec,
                                    const char *caller, const char *token,
                                    const char *policies, struct room_answer **answer,
                                    const char *req_id)
{
    *answer = NULL;
    char ttl[24], limit[24], slack[24], digest[DIGEST_PARAM_SIZE];
    snprintf(ttl, sizeof ttl, "%ld", st->room_ttl_seconds);
    snprintf(limit, sizeof limit, "%ld", st->max_messages);
    /* A stored expiry this close to now + TTL is not written again: a room
     * opened again and again costs no write (and no WAL flush) in between. */
    snprintf(slack, sizeof slack, "%ld", st->room_ttl_seconds / STORE_REFRESH_SLACK_DIVISOR);
    if (token && !digest_token_param(token, digest))
        return STORE_ERROR;
    char *users = room_spec_users_literal(spec);
    if (!users)
        return STORE_ERROR;
    struct room_answer *known = room_cache_get(st->rooms, spec->id);
    PGresult *res = NULL;
    enum db_status s = db_exec(st->pool,
                               DB_CALL(SQL_OPEN_ROOM, spec->id, spec->type, users, caller, ttl,
                                       policies, limit, token ? digest : NULL, slack,
                                       known ? known->version : NULL),
                               false, &res, req_id);
    free(users);
    enum store_result out = s == DB_OK ? store_opened(st, spec, res, &known, answer, req_id)
                                       : store_from_db(s);
    room_answer_release(known);
    return out;
}

/* The answer of POST rooms from RES (open_room.sql's rows, cleared here):
 * *KNOWN itself (taken) when the room is there at its version, else one
 * built from SPEC (same type, same users) with the messages of RES, kept in
 * the room cache when RES says the room's version. */
static enum store_result store_opened(struct store *st, const struct room_spec *spec,
                                      PGresult *res, struct room_answer **known,
                                      struct room_answer **answer, const char *req_id)
{
    if (!db_result_shape(res, SQL_OPEN_ROOM, GR_COLUMNS, 1, -1, req_id)) {
        PQclear(res);
        return STORE_ERROR;
    }
    enum store_result out = store_from_status(PQgetvalue(res, 0, GR_CALLER));
    bool exists = strcmp(PQgetvalue(res, 0, GR_CALLER), "exists") == 0;
    const char *version = PQgetisnull(res, 0, GR_VERSION) ? NULL
                                                           : PQgetvalue(res, 0, GR_VERSION);
    if (out != STORE_OK) {
        PQclear(res);
        return out;
    }
    bool held = exists && version && *known && strcmp(version, (*known)->version) == 0;
    char v[STORE_VERSION_SIZE] = "";
    if (version && strlen(version) < sizeof v)
        strcpy(v, version);
    /* A room that was there owns RES with its messages. */
    struct json_object *room = held ? NULL : store_spec_room(spec, exists ? res : NULL);
    if (held || !exists)
        PQclear(res);
    *answer = store_answer_of(st, spec->id, *v ? v : NULL, room, known);
    json_object_put(room);
    return *answer ? STORE_OK : STORE_ERROR;
}

/* O as compact JSON text, then O put (caller frees the text; NULL when
 * memory ran out). */
static char *store_json_text(struct json_object *o)
{
    const char *text = json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(o);
    return copy;
}

/* The "data" of a message's notifications, as JSON text (caller frees). */
static char *store_notification_data(const char *room_id, const char *sender,
                                     const struct message_spec *msg)
{
    struct json_object *data = json_object_new_object();
    json_object_object_add(data, "roomId", json_object_new_string(room_id));
    json_object_object_add(data, "timestamp", message_timestamp_json(msg->ts, msg->ts_is_string));
    json_object_object_add(data, "from", json_object_new_string(sender));
    json_object_object_add(data, "type", json_object_new_string(msg->type));
    json_object_object_add(data, "message", json_object_new_string(msg->message));
    return store_json_text(data);
}

/* Rows of post_message.sql and system_message.sql: the status, then the
 * notification queued (NULL when none). */
enum posted_column { PC_STATUS, PC_ID, PC_TO_USER, PC_TYPE, PC_DATA, PC_PUSH, PC_COLUMNS };

static enum store_result store_posted(struct store *st, enum sql_statement id,
                                      enum db_status s, PGresult *res, const char *req_id)
{
    if (s != DB_OK)
        return store_from_db(s);
    enum store_result out = STORE_ERROR;
    if (db_result_shape(res, id, PC_COLUMNS, 1, -1, req_id) && !PQgetisnull(res, 0, PC_STATUS)) {
        out = store_from_status(PQgetvalue(res, 0, PC_STATUS));
        for (int i = 0; out == STORE_OK && st->queued && i < PQntuples(res); i++)
            if (!PQgetisnull(res, i, PC_ID))
                st->queued(st->queued_cls, PQgetvalue(res, i, PC_ID),
                           PQgetvalue(res, i, PC_TO_USER), PQgetvalue(res, i, PC_TYPE),
                           PQgetvalue(res, i, PC_DATA),
                           PQgetisnull(res, i, PC_PUSH) ? NULL : PQgetvalue(res, i, PC_PUSH));
    }
    PQclear(res);
    return out;
}

enum store_result store_post_message(struct store *st, const char *room_id, const char *sender,
                                     const char *token, bool is_secret,
                                     const struct message_spec *msg, struct json_object *push,
                                     const char *policies, const struct store_idempotency *idem,
                                     const char *req_id)
{
    char max[24], ttl[24], lease[24], digest[DIGEST_PARAM_SIZE], key_ttl[24];
    char body_sha[DIGEST_PARAM_SIZE];
    const char *key = idem ? idem->key : NULL;
    snprintf(key_ttl, sizeof key_ttl, "%ld", st->idempotency_ttl_seconds);
    if (key && !digest_bytes_param(idem->body, idem->body_len, body_sha))
        return STORE_ERROR;
    snprintf(max, sizeof max, "%ld", st->max_messages);
    snprintf(ttl, sizeof ttl, "%ld", st->room_ttl_seconds);
    snprintf(lease, sizeof lease, "%ld", st->lease_ms);
    if (token && !digest_token_param(token, digest))
        return STORE_ERROR;
    char *json = NULL, *data = NULL;
    if (msg) {
        json = store_json_text(message_json(msg->ts, msg->ts_is_string, sender, msg->type,
                                            msg->message));
        data = st->notify ? store_notification_data(room_id, sender, msg) : NULL;
        if (!json || (st->notify && !data)) {
            free(json);
            free(data);
            return STORE_ERROR;
        }
    }
    const char *push_text = data && push ? json_object_to_json_string_ext(
        push, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
    PGresult *res = NULL;
    const char *store_it = msg ? "t" : "f", *ts = msg ? msg->ts : NULL;
    const char *ts_is_string = msg ? (msg->ts_is_string ? "t" : "f") : NULL;
    const char *type = msg ? msg->type : NULL, *text = msg ? msg->message : NULL;
    const char *archive = st->archive ? "t" : "f", *secret = is_secret ? "t" : "f";
    const char *token_sha = token ? digest : NULL;
    /* The same post behind its key, or plain: the wrapper is not free. */
    enum sql_statement id = key ? SQL_POST_MESSAGE_KEYED : SQL_POST_MESSAGE;
    enum db_status s =
        key ? db_exec(st->pool,
                      DB_CALL(SQL_POST_MESSAGE_KEYED, room_id, sender, secret, store_it, ts,
                              ts_is_string, type, text, json, max, ttl, data, push_text, lease,
                              token_sha, archive, req_id, policies, key, body_sha, key_ttl),
                      false, &res, req_id)
            : db_exec(st->pool,
                      DB_CALL(SQL_POST_MESSAGE, room_id, sender, secret, store_it, ts,
                              ts_is_string, type, text, json, max, ttl, data, push_text, lease,
                              token_sha, archive, req_id, policies),
                      false, &res, req_id);
    free(json);
    free(data);
    return store_posted(st, id, s, res, req_id);
}

enum store_result store_system_message(struct store *st, const struct room_spec *spec,
                                       const struct message_spec *msg, const char *policies,
                                       const struct store_idempotency *idem, const char *req_id)
{
    char max[24], ttl[24], lease[24], key_ttl[24], body_sha[DIGEST_PARAM_SIZE];
    const char *key = idem ? idem->key : NULL;
    snprintf(key_ttl, sizeof key_ttl, "%ld", st->idempotency_ttl_seconds);
    if (key && !digest_bytes_param(idem->body, idem->body_len, body_sha))
        return STORE_ERROR;
    snprintf(max, sizeof max, "%ld", st->max_messages);
    snprintf(ttl, sizeof ttl, "%ld", st->room_ttl_seconds);
    snprintf(lease, sizeof lease, "%ld", st->lease_ms);
    enum store_result out = STORE_ERROR;
    char *users = room_spec_users_literal(spec);
    char *json = store_json_text(message_json(msg->ts, msg->ts_is_string, "$$", msg->type,
                                              msg->message));
    char *data = st->notify ? store_notification_data(spec->id, "$$", msg) : NULL;
    if (!users || !json || (st->notify && !data))
        goto out;
    PGresult *res = NULL;
    enum db_status s = db_exec(
        st->pool,
        DB_CALL(SQL_SYSTEM_MESSAGE, spec->id, spec->type, users, msg->ts,
                msg->ts_is_string ? "t" : "f", msg->message, json, max, ttl, data, lease,
                st->archive ? "t" : "f", req_id, policies, key, key ? body_sha : NULL, key_ttl),
        false, &res, req_id);
    out = store_posted(st, SQL_SYSTEM_MESSAGE, s, res, req_id);
out:
    free(users);
    free(json);
    free(data);
    return out;
}

/* One value of CALL on session S, copied into OUT (see store_value). */
static enum store_result store_session_value(struct db_session *s, struct db_call call,
                                             char *out, size_t outlen, const char *req_id)
{
    PGresult *res = NULL;
    enum db_status st = db_session_exec(s, call, &res, req_id);
    if (st != DB_OK)
        return store_from_db(st);
    return store_take_value(res, call.id, out, outlen, req_id);
}

/* Batches until one comes back short, on the session that holds the lock. */
/* Runs CALL (a batch of at most BATCH deletions answering its count) on
 * the session until a batch is not full; the counts added to *DELETED. */
static enum store_result store_delete_in_batches(struct db_session *s, struct db_call call,
                                                 long batch, long *deleted, const char *req_id)
{
    char count[24];
    long n = 0;
    do {
        enum store_result r = store_session_value(s, call, count, sizeof count, req_id);
        if (r != STORE_OK)
            return r;
        n = strtol(count, NULL, 10);
        *deleted += n;
    } while (n == batch);
    return STORE_OK;
}

/* Expired rooms, then idempotency keys past their life, in batches. */
static enum store_result store_expire_batches(struct db_session *s, long batch, long *deleted,
                                              const char *req_id)
{
    char size[24];
    snprintf(size, sizeof size, "%ld", batch);
    long keys = 0;
    enum store_result r =
        store_delete_in_batches(s, DB_CALL(SQL_EXPIRE_BATCH, size), batch, deleted, req_id);
    if (r == STORE_OK)
        r = store_delete_in_batches(s, DB_CALL(SQL_IDEMPOTENCY_EXPIRE, size), batch, &keys,
                                    req_id);
    return r;
}

/* The record's partitions and retention, on the session holding the lock. */
static enum store_result store_maintain_archive(struct store *st, struct db_session *s,
                                                struct store_archive_report *out,
                                                const char *req_id)
{
    char offset[24], span[24], days[24];
    snprintf(offset, sizeof offset, "%ld", st->archive_clock_offset_seconds);
    snprintf(span, sizeof span, "%ld", st->archive_partition_seconds);
    snprintf(days, sizeof days, "%ld", st->archive_retention_days);
    PGresult *res = NULL;
    enum db_status ds = db_session_exec(s, DB_CALL(SQL_ARCHIVE_MAINTAIN, offset, span, days),
                                        &res, req_id);
    if (ds != DB_OK)
        return store_from_db(ds);
    enum store_result r = STORE_ERROR;
    if (db_result_shape(res, SQL_ARCHIVE_MAINTAIN, 4, 1, 1, req_id)) {
        out->created = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        out->dropped = strtol(PQgetvalue(res, 0, 1), NULL, 10);
        out->rows_dropped = strtol(PQgetvalue(res, 0, 2), NULL, 10);
        out->rows_kept = strtol(PQgetvalue(res, 0, 3), NULL, 10);
        r = STORE_OK;
    }
    PQclear(res);
    return r;
}

enum store_result store_expire_rooms(struct store *st, long batch, long *deleted, bool *skipped,
                                     struct store_archive_report *archive, const char *req_id)
{
    *deleted = 0;
    *skipped = false;
    memset(archive, 0, sizeof *archive);
    /* The advisory lock is the session's: every statement of the run goes
     * through the one connection that holds it. */
    struct db_session *s = db_session_open(st->pool, req_id);
    if (!s)
        return STORE_UNAVAILABLE;
    char got[8] = "";
    enum store_result r = store_session_value(s, DB_CALL0(SQL_EXPIRY_LOCK), got, sizeof got,
                                              req_id);
    if (r == STORE_OK && got[0] != 't')
        *skipped = true;
    else if (r == STORE_OK)
        r = store_expire_batches(s, batch, deleted, req_id);
    if (r == STORE_OK && got[0] == 't')
        r = store_maintain_archive(st, s, archive, req_id);
    if (got[0] == 't') {
        char released[8] = "";
        if (store_session_value(s, DB_CALL0(SQL_EXPIRY_UNLOCK), released, sizeof released,
                                req_id) != STORE_OK || released[0] != 't')
            log_warn("expiry lock not released cleanly; it ends with the connection");
    }
    db_session_close(s);
    return r;
}

/* Columns of schema_version.sql. */
enum schema_version_column { SV_VERSION, SV_READ_ONLY, SV_COLUMNS };

enum store_result store_schema_version(struct store *st, long *version, long *required,
                                       bool *read_only, const char *req_id)
{
    *required = migrate_latest_version();
    *version = 0;
    *read_only = false;
    PGresult *res = NULL;
    enum db_status s = db_exec(st->pool, DB_CALL0(SQL_SCHEMA_VERSION), true, &res, req_id);
    if (s != DB_OK)
        return store_from_db(s);
    enum store_result out = STORE_ERROR;
    if (db_result_shape(res, SQL_SCHEMA_VERSION, SV_COLUMNS, 1, 1, req_id)) {
        *version = strtol(PQgetvalue(res, 0, SV_VERSION), NULL, 10);
        *read_only = PQgetvalue(res, 0, SV_READ_ONLY)[0] == 't';
        out = STORE_OK;
    }
    PQclear(res);
    return out;
}

/* Columns of outbox_stats.sql. */
enum outbox_stats_column { OS_PENDING, OS_FAILED, OS_COLUMNS };

enum store_result store_outbox_stats(struct store *st, long *pending, long *failed,
                                     const char *req_id)
{
    PGresult *res = NULL;
    enum db_status s = db_exec(st->pool, DB_CALL0(SQL_OUTBOX_STATS), true, &res, req_id);
    if (s != DB_OK)
        return store_from_db(s);
    enum store_result out = STORE_ERROR;
    if (db_result_shape(res, SQL_OUTBOX_STATS, OS_COLUMNS, 1, 1, req_id)) {
        *pending = strtol(PQgetvalue(res, 0, OS_PENDING), NULL, 10);
        *failed = strtol(PQgetvalue(res, 0, OS_FAILED), NULL, 10);
        out = STORE_OK;
    }
    PQclear(res);
    return out;
}

void store_pool_stats(struct store *st, long *size, long *in_use)
{
    db_pool_stats(st->pool, size, in_use);
}
