/* record: the record's statements (sql/history.sql, record_search.sql,
 * redact_*.sql, hold_*.sql, audit_*.sql) and the JSON of their rows. */
#include "record.h"

#include "buf.h"
#include "db.h"
#include "digest.h"
#include "message.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows of an export fetched per query: bounded memory, few round trips. */
#define RECORD_CURSOR_BATCH 1000

/* Columns of history.sql (header row, then messages). */
enum history_column { HC_CALLER, HC_TYPE, HC_USERS, HC_ID, HC_JSON, HC_TS, HC_TS_IS_STRING,
                      HC_SENDER, HC_MESSAGE_TYPE, HC_MESSAGE, HC_COLUMNS };

/* Columns of record_search.sql. */
enum search_column { SC_ID, SC_STORED_AT, SC_ROOM, SC_SENDER, SC_TYPE, SC_TS, SC_TS_IS_STRING,
                     SC_MESSAGE, SC_JSON, SC_REQUEST_ID, SC_REDACTED_AT, SC_REDACTED_BY,
                     SC_REDACTION_REASON, SC_COLUMNS };

struct record_cursor {
    struct store *st;
    char *user, *room, *since, *until;
    char *req_id;
    char before[24];     /* "" until the first batch */
    PGresult *res;       /* the batch being read */
    int row;
    bool done;
};

static enum store_result record_from_db(enum db_status s);
static struct json_object *record_text_or_null(PGresult *res, int row, int col);
static enum store_result record_history_on(struct store *st, struct db_pool *pool,
                                           const char *room_id, const char *token,
                                           long long before, long limit, char **caller,
                                           struct json_object **users, struct json_object **page,
                                           const char *req_id);
static struct json_object *record_history_message(PGresult *res, int row);
static enum store_result record_page_on(struct store *st, struct db_pool *pool,
                                        const char *room_id, const char *token, long long before,
                                        const long long *after, long limit, char **caller,
                                        struct json_object **users, struct json_object **page,
                                        const char *req_id);
static struct json_object *record_after_page(PGresult *res, long long after);
static struct json_object *record_message(PGresult *res, int row);
static struct json_object *record_page(struct json_object *items, const char *key,
                                       const char *last_id, long count, long limit);
static enum store_result record_one_row(struct store *st, struct db_call call, int ncols,
                                        PGresult **res, const char *req_id);
static char *record_dup(const char *s, bool *failed);
static bool record_cursor_fetch(struct record_cursor *c);

static enum store_result record_from_db(enum db_status s)
{
    return s == DB_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_ERROR;
}

static struct json_object *record_text_or_null(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return json_object_new_string_len(PQgetvalue(res, row, col), PQgetlength(res, row, col));
}

/* {"id": N, then the stored message's own fields}: the stored JSON is
 * passed through after the id, not parsed (as get_room does), or rendered
 * from the columns for a message stored before migration 0004. */
static struct json_object *record_history_message(PGresult *res, int row)
{
    const char *id = PQgetvalue(res, row, HC_ID);
    if (PQgetisnull(res, row, HC_JSON)) {
        struct json_object *m = json_object_new_object();
        struct json_object *fields = message_json(
            PQgetvalue(res, row, HC_TS), PQgetvalue(res, row, HC_TS_IS_STRING)[0] == 't',
            PQgetvalue(res, row, HC_SENDER), PQgetvalue(res, row, HC_MESSAGE_TYPE),
            PQgetvalue(res, row, HC_MESSAGE));
        json_object_object_add(m, "id", json_object_new_int64(strtoll(id, NULL, 10)));
        json_object_object_foreach(fields, key, val)
            json_object_object_add(m, key, json_object_get(val));
        json_object_put(fields);
        return m;
    }
    const char *stored = PQgetvalue(res, row, HC_JSON);
    size_t len = strlen(id) + strlen(stored) + sizeof "{\"id\":,";
    char *text = malloc(len);
    struct json_object *m = text ? json_object_new_boolean(0) : NULL;
    if (!m) {
        free(text);
        return NULL;
    }
    /* The stored text is a JSON object: "{...}" becomes "{"id":N,...}". */
    snprintf(text, len, "{\"id\":%s,%s", id, stored + 1);
    json_object_set_serializer(m, json_object_userdata_to_json_string, text, json_object_free_userdata);
    return m;
}

/* A message on record as moderation sees it (search, export). */
static struct json_object *record_message(PGresult *res, int row)
{
    struct json_object *m = json_object_new_object();
    json_object_object_add(m, "id", json_object_new_int64(strtoll(PQgetvalue(res, row, SC_ID),
                                                                  NULL, 10)));
    json_object_object_add(m, "roomId", record_text_or_null(res, row, SC_ROOM));
    json_object_object_add(m, "from", record_text_or_null(res, row, SC_SENDER));
    json_object_object_add(m, "type", record_text_or_null(res, row, SC_TYPE));
    json_object_object_add(m, "timestamp",
                           message_timestamp_json(PQgetvalue(res, row, SC_TS),
                                                  PQgetvalue(res, row, SC_TS_IS_STRING)[0] == 't'));
    json_object_object_add(m, "message", record_text_or_null(res, row, SC_MESSAGE));
    json_object_object_add(m, "storedAt", record_text_or_null(res, row, SC_STORED_AT));
    json_object_object_add(m, "requestId", record_text_or_null(res, row, SC_REQUEST_ID));
    struct json_object *redacted = NULL;
    if (!PQgetisnull(res, row, SC_REDACTED_AT)) {
        redacted = json_object_new_object();
        json_object_object_add(redacted, "at", record_text_or_null(res, row, SC_REDACTED_AT));
        json_object_object_add(redacted, "by", record_text_or_null(res, row, SC_REDACTED_BY));
        json_object_object_add(redacted, "reason",
                               record_text_or_null(res, row, SC_REDACTION_REASON));
    }
    json_object_object_add(m, "redacted", redacted);
    return m;
}

/* {KEY: ITEMS, "next": LAST_ID when the page is full, else null}. */
static struct json_object *record_page(struct json_object *items, const char *key,
                                       const char *last_id, long count, long limit)
{
    struct json_object *page = json_object_new_object();
    json_object_object_add(page, key, items);
    json_object_object_add(page, "next",
                           count == limit && last_id ? json_object_new_string(last_id) : NULL);
    return page;
}

enum store_result record_history_after(struct store *st, const char *room_id, const char *token,
                                       long long after, long limit, char **caller,
                                       struct json_object **users, struct json_object **page,
                                       const char *req_id)
{
    /* The primary: the live hub reads it, and a long-poll must not wait
     * for what a lagging replica has not replayed. */
    return record_page_on(st, st->pool, room_id, token, 0, &after, limit, caller, users, page,
                          req_id);
}

enum store_result record_history(struct store *st, const char *room_id, const char *token,
                                 bool fresh, long long before, long limit, char **caller,
                                 struct json_object **users, struct json_object **page,
                                 const char *req_id)
{
    struct db_pool *pool = store_read_pool(st, fresh);
    enum store_result r = record_history_on(st, pool, room_id, token, before, limit, caller,
                                            users, page, req_id);
    if (r != STORE_OK && pool != st->pool)
        r = record_history_on(st, st->pool, room_id, token, before, limit, caller, users, page,
                              req_id);
    return r;
}

/* record_history on POOL. */
static enum store_result record_history_on(struct store *st, struct db_pool *pool,
                                           const char *room_id, const char *token,
                                           long long before, long limit, char **caller,
                                           struct json_object **users, struct json_object **page,
                                           const char *req_id)
{
    return record_page_on(st, pool, room_id, token, before, NULL, limit, caller, users, page,
                          req_id);
}

/* The messages after *AFTER, oldest first from the database, as a
 * long-poll answer: newest first, "next" the newest id (or *AFTER). */
static struct json_object *record_after_page(PGresult *res, long long after)
{
    int rows = PQntuples(res);
    struct json_object *messages = json_object_new_array_ext(rows > 1 ? rows - 1 : 0);
    for (int i = rows - 1; i >= 1; i--)
        json_object_array_add(messages, record_history_message(res, i));
    char next[24];
    snprintf(next, sizeof next, "%lld", after);
    struct json_object *page = json_object_new_object();
    json_object_object_add(page, "messages", messages);
    json_object_object_add(page, "next", json_object_new_string(
                                             rows > 1 ? PQgetvalue(res, rows - 1, HC_ID) : next));
    return page;
}

/* A history page (AFTER NULL: below BEFORE, newest first) or the messages
 * after *AFTER (long-poll), on POOL. */
static enum store_result record_page_on(struct store *st, struct db_pool *pool,
                                        const char *room_id, const char *token, long long before,
                                        const long long *after, long limit, char **caller,
                                        struct json_object **users, struct json_object **page,
                                        const char *req_id)
{
    (void)st;
    *caller = NULL;
    *users = *page = NULL;
    char digest[DIGEST_PARAM_SIZE], before_text[24], limit_text[24];
    if (token && !digest_token_param(token, digest))
        return STORE_ERROR;
    snprintf(before_text, sizeof before_text, "%lld", after ? *after : before);
    snprintf(limit_text, sizeof limit_text, "%ld", limit);
    PGresult *res = NULL;
    enum sql_statement id = after ? SQL_HISTORY_AFTER : SQL_HISTORY;
    enum db_status s = after ? db_exec(pool,
                                       DB_CALL(SQL_HISTORY_AFTER, room_id, token ? digest : NULL,
                                               before_text, limit_text),
                                       true, &res, req_id)
                             : db_exec(pool,
                                       DB_CALL(SQL_HISTORY, room_id, token ? digest : NULL,
                                               before > 0 ? before_text : NULL, limit_text),
                                       true, &res, req_id);
    if (s != DB_OK)
        return record_from_db(s);
    enum store_result out = STORE_ERROR;
    if (!db_result_shape(res, id, HC_COLUMNS, 1, -1, req_id))
        out = STORE_ERROR;
    else if (token && PQgetisnull(res, 0, HC_CALLER))
        out = STORE_BAD_TOKEN;
    else if (PQgetisnull(res, 0, HC_TYPE))
        out = STORE_NOT_FOUND;
    else if (token && !(*caller = strdup(PQgetvalue(res, 0, HC_CALLER))))
        out = STORE_ERROR;
    else if ((*users = json_tokener_parse(PQgetvalue(res, 0, HC_USERS))) != NULL && after) {
        *page = record_after_page(res, *after);
        out = STORE_OK;
    } else if (*users) {
        int rows = PQntuples(res);
        struct json_object *messages = json_object_new_array_ext(rows - 1);
        for (int i = 1; i < rows; i++)
            json_object_array_add(messages, record_history_message(res, i));
        *page = record_page(messages, "messages",
                            rows > 1 ? PQgetvalue(res, rows - 1, HC_ID) : NULL, rows - 1, limit);
        out = STORE_OK;
    }
    PQclear(res);
    if (out != STORE_OK) {
        free(*caller);
        *caller = NULL;
        json_object_put(*users);
        *users = NULL;
    }
    return out;
}

enum store_result record_search(struct store *st, const struct record_filter *f,
                                long long before, long limit, struct json_object **page,
                                const char *req_id)
{
    *page = NULL;
    char before_text[24], limit_text[24];
    snprintf(before_text, sizeof before_text, "%lld", before);
    snprintf(limit_text, sizeof limit_text, "%ld", limit);
    PGresult *res = NULL;
    enum db_status s = db_exec(st->pool,
                               DB_CALL(SQL_RECORD_SEARCH, f->user, f->room, f->since, f->until,
                                       before > 0 ? before_text : NULL, limit_text),
                               true, &res, req_id);
    if (s != DB_OK)
        return record_from_db(s);
    enum store_result out = STORE_ERROR;
    if (db_result_shape(res, SQL_RECORD_SEARCH, SC_COLUMNS, 0, -1, req_id)) {
        int rows = PQntuples(res);
        struct json_object *messages = json_object_new_array_ext(rows);
        for (int i = 0; i < rows; i++)
            json_object_array_add(messages, record_message(res, i));
        *page = record_page(messages, "messages",
                            rows > 0 ? PQgetvalue(res, rows - 1, SC_ID) : NULL, rows, limit);
        out = STORE_OK;
    }
    PQclear(res);
    return out;
}

static char *record_dup(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        *failed = true;
    return copy;
}

struct record_cursor *record_cursor_open(struct store *st, const struct record_filter *f,
                                         const char *req_id)
{
    struct record_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    bool failed = false;
    c->st = st;
    c->user = record_dup(f->user, &failed);
    c->room = record_dup(f->room, &failed);
    c->since = record_dup(f->since, &failed);
    c->until = record_dup(f->until, &failed);
    c->req_id = record_dup(req_id, &failed);
    if (failed) {
        record_cursor_close(c);
        return NULL;
    }
    return c;
}

/* The next batch, below the last id read. False (logged) on a failure. */
static bool record_cursor_fetch(struct record_cursor *c)
{
    PQclear(c->res);
    c->res = NULL;
    c->row = 0;
    char limit[24];
    snprintf(limit, sizeof limit, "%d", RECORD_CURSOR_BATCH);
    PGresult *res = NULL;
    enum db_status s = db_exec(c->st->pool,
                               DB_CALL(SQL_RECORD_SEARCH, c->user, c->room, c->since, c->until,
                                       c->before[0] ? c->before : NULL, limit),
                               true, &res, c->req_id);
    if (s != DB_OK)
        return false;
    if (!db_result_shape(res, SQL_RECORD_SEARCH, SC_COLUMNS, 0, -1, c->req_id)) {
        PQclear(res);
        return false;
    }
    int rows = PQntuples(res);
    c->done = rows < RECORD_CURSOR_BATCH;
    if (rows > 0)
        snprintf(c->before, sizeof c->before, "%s", PQgetvalue(res, rows - 1, SC_ID));
    c->res = res;
    return true;
}

struct json_object *record_cursor_next(struct record_cursor *c, bool *failed)
{
    *failed = false;
    if (!c->res || c->row >= PQntuples(c->res)) {
        if (c->res && c->done)
            return NULL;
        if (!record_cursor_fetch(c)) {
            *failed = true;
            return NULL;
        }
        if (PQntuples(c->res) == 0)
            return NULL;
    }
    return record_message(c->res, c->row++);
}

void record_cursor_close(struct record_cursor *c)
{
    if (!c)
        return;
    PQclear(c->res);
    free(c->user);
    free(c->room);
    free(c->since);
    free(c->until);
    free(c->req_id);
    free(c);
}

/* CALL, whose answer is one row of NCOLS columns, into *RES (caller
 * clears). */
static enum store_result record_one_row(struct store *st, struct db_call call, int ncols,
                                        PGresult **res, const char *req_id)
{
    enum db_status s = db_exec(st->pool, call, false, res, req_id);
    if (s != DB_OK)
        return record_from_db(s);
    if (db_result_shape(*res, call.id, ncols, 1, 1, req_id))
        return STORE_OK;
    PQclear(*res);
    *res = NULL;
    return STORE_ERROR;
}

/* An action on record item ID through CALL, whose one row starts with the
 * status ("not_found" or the action's) and the time it took effect: the
 * answer {"id", "status", TIME_KEY}, with *RES kept for more columns. */
static enum store_result record_id_action(struct store *st, struct db_call call, int ncols,
                                          long long id, const char *time_key,
                                          struct json_object **result, PGresult **res,
                                          const char *req_id)
{
    *result = NULL;
    enum store_result r = record_one_row(st, call, ncols, res, req_id);
    if (r != STORE_OK)
        return r;
    if (strcmp(PQgetvalue(*res, 0, 0), "not_found") == 0) {
        PQclear(*res);
        *res = NULL;
        return STORE_NOT_FOUND;
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(id));
    json_object_object_add(o, "status", record_text_or_null(*res, 0, 0));
    json_object_object_add(o, time_key, record_text_or_null(*res, 0, 1));
    *result = o;
    return STORE_OK;
}

enum store_result record_redact_message(struct store *st, long long id, const char *actor,
                                        const char *reason, struct json_object **result,
                                        const char *req_id)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%lld", id);
    PGresult *res = NULL;
    enum store_result r = record_id_action(
        st, DB_CALL(SQL_REDACT_MESSAGE, id_text, actor, reason, req_id), 3, id, "redactedAt",
        result, &res, req_id);
    if (r != STORE_OK)
        return r;
    json_object_object_add(*result, "contentWiped",
                           json_object_new_boolean(PQgetvalue(res, 0, 2)[0] == 't'));
    PQclear(res);
    return STORE_OK;
}

enum store_result record_redact_user(struct store *st, const char *user, const char *since,
                                     bool erase, const char *actor, const char *reason,
                                     long batch, long *count, const char *req_id)
{
    *count = 0;
    char batch_text[24];
    snprintf(batch_text, sizeof batch_text, "%ld", batch);
    for (;;) {
        PGresult *res = NULL;
        enum store_result r = record_one_row(
            st,
            DB_CALL(SQL_REDACT_USER, user, since, erase ? "t" : "f", actor, reason, batch_text,
                    req_id),
            2, &res, req_id);
        if (r != STORE_OK)
            return r;
        bool held = strcmp(PQgetvalue(res, 0, 0), "held") == 0;
        long n = strtol(PQgetvalue(res, 0, 1), NULL, 10);
        PQclear(res);
        if (held)
            return STORE_HELD;
        *count += n;
        if (n < batch)
            return STORE_OK;
    }
}

enum store_result record_hold_set(struct store *st, const char *kind, const char *subject,
                                  const char *reason, const char *actor,
                                  struct json_object **hold, const char *req_id)
{
    *hold = NULL;
    PGresult *res = NULL;
    enum store_result r = record_one_row(
        st, DB_CALL(SQL_HOLD_SET, kind, subject, reason, actor, req_id), 2, &res, req_id);
    if (r != STORE_OK)
        return r;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(strtoll(PQgetvalue(res, 0, 0), NULL,
                                                                   10)));
    json_object_object_add(o, strcmp(kind, "user") == 0 ? "user" : "room",
                           json_object_new_string(subject));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_object_add(o, "createdBy", json_object_new_string(actor));
    json_object_object_add(o, "createdAt", record_text_or_null(res, 0, 1));
    PQclear(res);
    *hold = o;
    return STORE_OK;
}

enum store_result record_hold_lift(struct store *st, long long id, const char *actor,
                                   const char *reason, struct json_object **result,
                                   const char *req_id)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%lld", id);
    PGresult *res = NULL;
    enum store_result r = record_id_action(
        st, DB_CALL(SQL_HOLD_LIFT, id_text, actor, reason, req_id), 2, id, "liftedAt", result,
        &res, req_id);
    if (r == STORE_OK)
        PQclear(res);
    return r;
}

enum store_result record_holds(struct store *st, bool all, struct json_object **list,
                               const char *req_id)
{
    *list = NULL;
    PGresult *res = NULL;
    enum db_status s = db_exec(st->pool, DB_CALL(SQL_HOLDS_LIST, all ? "t" : "f"), true, &res,
                               req_id);
    if (s != DB_OK)
        return record_from_db(s);
    if (!db_result_shape(res, SQL_HOLDS_LIST, 9, 0, -1, req_id)) {
        PQclear(res);
        return STORE_ERROR;
    }
    static const char *const keys[] = { "id", "kind", "subject", "reason", "createdBy",
                                        "createdAt", "liftedAt", "liftedBy", "liftReason" };
    struct json_object *holds = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *h = json_object_new_object();
        json_object_object_add(h, keys[0],
                               json_object_new_int64(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
        for (int k = 1; k < 9; k++)
            json_object_object_add(h, keys[k], record_text_or_null(res, i, k));
        json_object_array_add(holds, h);
    }
    PQclear(res);
    *list = json_object_new_object();
    json_object_object_add(*list, "holds", holds);
    return STORE_OK;
}

enum store_result record_audit_page(struct store *st, long long before, long limit,
                                    struct json_object **page, const char *req_id)
{
    *page = NULL;
    char before_text[24], limit_text[24];
    snprintf(before_text, sizeof before_text, "%lld", before);
    snprintf(limit_text, sizeof limit_text, "%ld", limit);
    PGresult *res = NULL;
    enum db_status s = db_exec(st->pool,
                               DB_CALL(SQL_AUDIT_PAGE, before > 0 ? before_text : NULL,
                                       limit_text),
                               true, &res, req_id);
    if (s != DB_OK)
        return record_from_db(s);
    if (!db_result_shape(res, SQL_AUDIT_PAGE, 8, 0, -1, req_id)) {
        PQclear(res);
        return STORE_ERROR;
    }
    static const char *const keys[] = { "id", "at", "actor", "action", "subject", "reason",
                                        "details", "requestId" };
    int rows = PQntuples(res);
    struct json_object *entries = json_object_new_array_ext(rows);
    for (int i = 0; i < rows; i++) {
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, keys[0],
                               json_object_new_int64(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
        for (int k = 1; k < 8; k++)
            json_object_object_add(e, keys[k],
                                   k == 6 ? json_tokener_parse(PQgetvalue(res, i, k))
                                          : record_text_or_null(res, i, k));
        json_object_array_add(entries, e);
    }
    *page = record_page(entries, "entries", rows > 0 ? PQgetvalue(res, rows - 1, 0) : NULL,
                        rows, limit);
    PQclear(res);
    return STORE_OK;
}

enum store_result record_audit_add(struct store *st, const char *actor, const char *action,
                                   const char *subject, const char *reason,
                                   const char *details, const char *req_id)
{
    PGresult *res = NULL;
    enum store_result r = record_one_row(
        st, DB_CALL(SQL_AUDIT_ADD, actor, action, subject, reason, details, req_id), 1, &res,
        req_id);
    PQclear(res);
    return r;
}

const char RECORD_CSV_HEADER[] = "id,storedAt,roomId,from,type,timestamp,message,requestId,"
                                 "redactedAt,redactedBy,redactionReason\r\n";

/* One CSV field of V (RFC 4180: always quoted, quotes doubled). A text a
 * spreadsheet would run as a formula (=, +, -, @ first) gets a leading '
 * (OWASP's advice); the NDJSON export is the exact one. */
static bool record_csv_field(struct buf *b, struct json_object *v, bool last)
{
    const char *s = !v ? "" : json_object_is_type(v, json_type_string)
                                  ? json_object_get_string(v)
                                  : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
    bool ok = buf_append(b, "\"", 1);
    if (ok && strchr("=+-@", s[0]) && s[0])
        ok = buf_append(b, "'", 1);
    for (const char *p = s; ok && *p; p++)
        ok = buf_append(b, p, 1) && (*p != '"' || buf_append(b, "\"", 1));
    return ok && buf_append(b, last ? "\"\r\n" : "\",", last ? 3 : 2);
}

bool record_export_line(struct buf *b, struct json_object *m, bool csv)
{
    if (!csv) {
        size_t len = 0;
        const char *text = json_object_to_json_string_length(
            m, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        return text && buf_append(b, text, len) && buf_append(b, "\n", 1);
    }
    static const char *const keys[] = { "id", "storedAt", "roomId", "from", "type",
                                        "timestamp", "message", "requestId" };
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof keys / sizeof keys[0]; i++)
        ok = record_csv_field(b, json_object_object_get(m, keys[i]), false);
    struct json_object *red = json_object_object_get(m, "redacted");
    return ok && record_csv_field(b, json_object_object_get(red, "at"), false) &&
           record_csv_field(b, json_object_object_get(red, "by"), false) &&
           record_csv_field(b, json_object_object_get(red, "reason"), true);
}

char *record_export_details(const char *user, const char *room, const char *since,
                            const char *until, bool csv)
{
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "user", user ? json_object_new_string(user) : NULL);
    json_object_object_add(d, "room", room ? json_object_new_string(room) : NULL);
    json_object_object_add(d, "since", since ? json_object_new_string(since) : NULL);
    json_object_object_add(d, "until", until ? json_object_new_string(until) : NULL);
    json_object_object_add(d, "format", json_object_new_string(csv ? "csv" : "ndjson"));
    const char *text = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(d);
    return copy;
}
