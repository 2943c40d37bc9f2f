/* moderation: checks in a fixed order: the body (400 InvalidContent, before
 * the token, as every route), the API secret (401), the request's fields
 * (400), then one call to the record. */
#include "moderation.h"

#include "body.h"
#include "buf.h"
#include "record.h"
#include "reply.h"
#include "text.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODERATION_MAX_ACTOR_BYTES 200
#define MODERATION_MAX_REASON_BYTES 2000
#define MODERATION_SEARCH_DEFAULT 100
#define MODERATION_SEARCH_MAX 1000
#define MODERATION_AUDIT_DEFAULT 100
#define MODERATION_AUDIT_MAX 1000
/* Messages redacted per transaction by a bulk redaction. */
#define MODERATION_REDACT_BATCH 1000
/* What an export holds at most between two reads: a block and one row. */
#define MODERATION_EXPORT_BUFFER (1u << 20)

/* The filters of a search or an export, from the query string. */
struct moderation_filter {
    struct record_filter f;
    char *user, *room, *since_text, *until_text;
    char since[40], until[40];
};

/* An export being streamed. */
struct moderation_export {
    struct record_cursor *cursor;
    bool csv;
    bool header_sent;
    bool ended;
    struct buf out;
    size_t pos;          /* bytes of OUT already sent */
};

static bool moderation_secret(struct app *app, const struct route_match *m,
                              struct http_response *resp);
static bool moderation_check_actor(const char *actor, const char *reason,
                                   struct http_response *resp);
static bool moderation_actor_body(struct app *app, const struct http_request *req,
                                  const struct route_match *m, struct json_object **body,
                                  const char **actor, const char **reason,
                                  struct http_response *resp);
static bool moderation_time(const struct http_request *req, const char *name, char **text,
                            char *out, size_t outlen, const char **value,
                            struct http_response *resp);
static bool moderation_filter(const struct http_request *req, struct moderation_filter *mf,
                              struct http_response *resp);
static void moderation_filter_free(struct moderation_filter *mf);
static bool moderation_id(const char *text, long long *id, const char *what,
                          struct http_response *resp);
static void moderation_answer(struct http_response *resp, enum store_result r,
                              struct json_object *json);
static long moderation_export_read(void *cls, char *dst, size_t max);
static void moderation_export_free(void *cls);

/* The API secret, and only it: 401 otherwise (as system-messages), with
 * no lookup of any other token: none of them could be let in. */
static bool moderation_secret(struct app *app, const struct route_match *m,
                              struct http_response *resp)
{
    const char *name = NULL;
    enum auth_kind kind = auth_classify(m->token, app->callers.api_secret, &name);
    if (kind == AUTH_SECRET)
        return true;
    if (kind == AUTH_INVALID)
        reply_not_authorized(resp);
    else
        reply_store_failure(resp, STORE_NOT_MEMBER);
    return false;
}

/* Who acts and why: both required, as every destructive call (and every
 * export) is recorded under them. */
static bool moderation_check_actor(const char *actor, const char *reason,
                                   struct http_response *resp)
{
    bool actor_ok = actor && strlen(actor) <= MODERATION_MAX_ACTOR_BYTES &&
                    strcspn(actor, "\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
                                   "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c"
                                   "\x1d\x1e\x1f\x7f") == strlen(actor);
    if (!actor_ok) {
        http_response_error(resp, 400, "BadRequest",
                            "actor must be a non-empty string of at most 200 bytes, without "
                            "control characters: who does this, for the audit log");
        return false;
    }
    if (!reason || strlen(reason) > MODERATION_MAX_REASON_BYTES) {
        http_response_error(resp, 400, "BadRequest",
                            "reason must be a non-empty string of at most 2000 bytes: why, for "
                            "the audit log");
        return false;
    }
    return true;
}

/* The body of a destructive call: a JSON object with actor and reason. */
static bool moderation_actor_body(struct app *app, const struct http_request *req,
                                  const struct route_match *m, struct json_object **body,
                                  const char **actor, const char **reason,
                                  struct http_response *resp)
{
    if (!app_parse_body(app, req, body, resp) || !moderation_secret(app, m, resp))
        return false;
    if (!*body || !json_object_is_type(*body, json_type_object)) {
        http_response_error(resp, 400, "BadRequest", "body must be a JSON object");
        return false;
    }
    *actor = body_get_string(*body, "actor");
    *reason = body_get_string(*body, "reason");
    return moderation_check_actor(*actor, *reason, resp);
}

/* Query argument NAME as an RFC 3339 time: *VALUE the epoch seconds (in
 * OUT) or NULL when absent; *TEXT the argument (caller frees). */
static bool moderation_time(const struct http_request *req, const char *name, char **text,
                            char *out, size_t outlen, const char **value,
                            struct http_response *resp)
{
    bool bad = false;
    *value = NULL;
    *text = http_query(req, name, &bad);
    if (!bad && (!*text || text_parse_time(*text, out, outlen))) {
        *value = *text ? out : NULL;
        return true;
    }
    char msg[128];
    snprintf(msg, sizeof msg,
             "%s must be an RFC 3339 time such as 2026-12-01T15:04:05Z, or a date", name);
    http_response_error(resp, 400, "BadRequest", msg);
    return false;
}

static bool moderation_filter(const struct http_request *req, struct moderation_filter *mf,
                              struct http_response *resp)
{
    memset(mf, 0, sizeof *mf);
    bool bad = false;
    mf->user = http_query(req, "user", &bad);
    mf->room = http_query(req, "room", &bad);
    if (bad) {
        http_response_error(resp, 400, "BadRequest", "user and room must be clean UTF-8");
        return false;
    }
    mf->f.user = mf->user && *mf->user ? mf->user : NULL;
    mf->f.room = mf->room && *mf->room ? mf->room : NULL;
    return moderation_time(req, "since", &mf->since_text, mf->since, sizeof mf->since,
                           &mf->f.since, resp) &&
           moderation_time(req, "until", &mf->until_text, mf->until, sizeof mf->until,
                           &mf->f.until, resp);
}

static void moderation_filter_free(struct moderation_filter *mf)
{
    free(mf->user);
    free(mf->room);
    free(mf->since_text);
    free(mf->until_text);
    memset(mf, 0, sizeof *mf);
}

static bool moderation_id(const char *text, long long *id, const char *what,
                          struct http_response *resp)
{
    if (text && text_parse_positive(text, INT64_MAX, id))
        return true;
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a positive whole number", what);
    http_response_error(resp, 400, "BadRequest", msg);
    return false;
}

/* 200 with JSON (taken), or the failure of R. */
static void moderation_answer(struct http_response *resp, enum store_result r,
                              struct json_object *json)
{
    if (r != STORE_OK) {
        json_object_put(json);
        reply_store_failure(resp, r);
        return;
    }
    resp->json = json;
    resp->status = 200;
}

void moderation_search(struct app *app, const struct http_request *req,
                       const struct route_match *m, struct http_response *resp)
{
    struct moderation_filter mf;
    long long before = 0;
    long limit = 0;
    memset(&mf, 0, sizeof mf);
    if (moderation_secret(app, m, resp) && moderation_filter(req, &mf, resp) &&
        app_page_query(req, MODERATION_SEARCH_MAX, MODERATION_SEARCH_DEFAULT, &before, &limit,
                       resp)) {
        struct json_object *page = NULL;
        enum store_result r = record_search(app->store, &mf.f, before, limit, &page,
                                            req->req_id);
        moderation_answer(resp, r, page);
    }
    moderation_filter_free(&mf);
}

static long moderation_export_read(void *cls, char *dst, size_t max)
{
    struct moderation_export *e = cls;
    if (e->pos == e->out.len) {
        e->pos = 0;
        e->out.len = 0;
    }
    if (!e->header_sent && e->csv &&
        !buf_append(&e->out, RECORD_CSV_HEADER, strlen(RECORD_CSV_HEADER)))
        return HTTP_STREAM_FAILED;
    e->header_sent = true;
    while (e->out.len - e->pos < max && !e->ended) {
        bool failed = false;
        struct json_object *m = record_cursor_next(e->cursor, &failed);
        if (failed)
            return HTTP_STREAM_FAILED;
        if (!m) {
            e->ended = true;
            break;
        }
        bool ok = record_export_line(&e->out, m, e->csv);
        json_object_put(m);
        if (!ok)
            return HTTP_STREAM_FAILED;
    }
    size_t n = e->out.len - e->pos;
    if (n == 0)
        return HTTP_STREAM_END;
    if (n > max)
        n = max;
    memcpy(dst, e->out.data + e->pos, n);
    e->pos += n;
    /* Keep the unsent tail at the front: the buffer never outgrows a block
     * and a row. */
    if (e->pos > MODERATION_EXPORT_BUFFER / 2) {
        memmove(e->out.data, e->out.data + e->pos, e->out.len - e->pos);
        e->out.len -= e->pos;
        e->pos = 0;
    }
    return (long)n;
}

static void moderation_export_free(void *cls)
{
    struct moderation_export *e = cls;
    record_cursor_close(e->cursor);
    buf_free(&e->out);
    free(e);
}

/* The export's filters, for its audit row (JSON text, caller frees). */
void moderation_export(struct app *app, const struct http_request *req,
                       const struct route_match *m, struct http_response *resp)
{
    struct moderation_filter mf;
    bool bad = false;
    memset(&mf, 0, sizeof mf);
    char *format = http_query(req, "format", &bad);
    char *actor = http_query(req, "actor", &bad);
    char *reason = http_query(req, "reason", &bad);
    char *details = NULL;
    bool csv = format && strcmp(format, "csv") == 0;
    if (!moderation_secret(app, m, resp) || !moderation_filter(req, &mf, resp))
        goto out;
    if (format && !csv && strcmp(format, "ndjson") != 0) {
        http_response_error(resp, 400, "BadRequest", "format must be ndjson or csv");
        goto out;
    }
    if (!moderation_check_actor(actor && *actor ? actor : NULL,
                                reason && *reason ? reason : NULL, resp))
        goto out;
    /* On record before the first byte leaves. */
    details = record_export_details(mf.f.user, mf.f.room, mf.since_text, mf.until_text, csv);
    enum store_result r = details ? record_audit_add(app->store, actor, "export",
                                                     mf.f.user ? mf.f.user : mf.f.room,
                                                     reason, details, req->req_id)
                                  : STORE_ERROR;
    struct moderation_export *e = r == STORE_OK ? calloc(1, sizeof *e) : NULL;
    if (e) {
        buf_init(&e->out, MODERATION_EXPORT_BUFFER);
        e->csv = csv;
        e->cursor = record_cursor_open(app->store, &mf.f, req->req_id);
    }
    if (!e || !e->cursor) {
        if (e)
            moderation_export_free(e);
        reply_store_failure(resp, r == STORE_OK ? STORE_ERROR : r);
        goto out;
    }
    resp->stream = moderation_export_read;
    resp->stream_cls = e;
    resp->stream_free = moderation_export_free;
    resp->content_type = csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
    resp->status = 200;
out:
    free(details);
    free(format);
    free(actor);
    free(reason);
    moderation_filter_free(&mf);
}

/* An action on one item of the record named by its id in the path (a
 * message, a hold): ACTION with the body's actor and reason. */
typedef enum store_result (*moderation_id_action_fn)(struct store *st, long long id,
                                                     const char *actor, const char *reason,
                                                     struct json_object **result,
                                                     const char *req_id);

static void moderation_on_id(struct app *app, const struct http_request *req,
                             const struct route_match *m, const char *what,
                             moderation_id_action_fn action, struct http_response *resp)
{
    struct json_object *body = NULL, *result = NULL;
    const char *actor = NULL, *reason = NULL;
    long long id = 0;
    if (moderation_actor_body(app, req, m, &body, &actor, &reason, resp) &&
        moderation_id(m->subject, &id, what, resp)) {
        enum store_result r = action(app->store, id, actor, reason, &result, req->req_id);
        moderation_answer(resp, r, result);
    }
    json_object_put(body);
}

void moderation_redact_message(struct app *app, const struct http_request *req,
                               const struct route_match *m, struct http_response *resp)
{
    moderation_on_id(app, req, m, "the message id", record_redact_message, resp);
}

void moderation_redact_user(struct app *app, const struct http_request *req,
                            const struct route_match *m, struct http_response *resp)
{
    struct json_object *body = NULL, *erase_v = NULL;
    const char *actor = NULL, *reason = NULL;
    char since[40];
    if (!moderation_actor_body(app, req, m, &body, &actor, &reason, resp))
        goto out;
    const char *since_text = body_get_string(body, "since");
    bool has_since = json_object_object_get_ex(body, "since", NULL);
    bool has_erase = json_object_object_get_ex(body, "erase", &erase_v);
    if (!m->subject) {
        http_response_error(resp, 400, "BadRequest", "the user name must be clean UTF-8");
    } else if (has_since && (!since_text || !text_parse_time(since_text, since, sizeof since))) {
        http_response_error(resp, 400, "BadRequest",
                            "since must be an RFC 3339 time such as 2026-12-01T15:04:05Z");
    } else if (has_erase && !json_object_is_type(erase_v, json_type_boolean)) {
        http_response_error(resp, 400, "BadRequest", "erase must be true or false");
    } else {
        bool erase = has_erase && json_object_get_boolean(erase_v);
        long count = 0;
        enum store_result r = record_redact_user(app->store, m->subject,
                                                 has_since ? since : NULL, erase, actor, reason,
                                                 MODERATION_REDACT_BATCH, &count, req->req_id);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "user", json_object_new_string(m->subject));
        json_object_object_add(o, "redacted", json_object_new_int64(count));
        json_object_object_add(o, "contentWiped", json_object_new_boolean(erase));
        moderation_answer(resp, r, o);
    }
out:
    json_object_put(body);
}

void moderation_holds(struct app *app, const struct http_request *req,
                      const struct route_match *m, struct http_response *resp)
{
    bool bad = false;
    char *all = http_query(req, "all", &bad);
    if (moderation_secret(app, m, resp)) {
        struct json_object *list = NULL;
        enum store_result r = record_holds(app->store, all && strcmp(all, "true") == 0, &list,
                                           req->req_id);
        moderation_answer(resp, r, list);
    }
    free(all);
}

void moderation_hold_set(struct app *app, const struct http_request *req,
                         const struct route_match *m, struct http_response *resp)
{
    struct json_object *body = NULL, *hold = NULL;
    const char *actor = NULL, *reason = NULL;
    if (moderation_actor_body(app, req, m, &body, &actor, &reason, resp)) {
        const char *user = body_get_string(body, "user");
        const char *room = body_get_string(body, "room");
        if (!user == !room) {
            http_response_error(resp, 400, "BadRequest",
                                "give either user or room: the hold covers the messages that "
                                "user sent, or the messages of that room");
        } else {
            enum store_result r = record_hold_set(app->store, user ? "user" : "room",
                                                  user ? user : room, reason, actor, &hold,
                                                  req->req_id);
            moderation_answer(resp, r, hold);
            if (r == STORE_OK)
                resp->status = 201;
        }
    }
    json_object_put(body);
}

void moderation_hold_lift(struct app *app, const struct http_request *req,
                          const struct route_match *m, struct http_response *resp)
{
    moderation_on_id(app, req, m, "the hold id", record_hold_lift, resp);
}

void moderation_audit(struct app *app, const struct http_request *req,
                      const struct route_match *m, struct http_response *resp)
{
    long long before = 0;
    long limit = 0;
    if (moderation_secret(app, m, resp) &&
        app_page_query(req, MODERATION_AUDIT_MAX, MODERATION_AUDIT_DEFAULT, &before, &limit,
                       resp)) {
        struct json_object *page = NULL;
        enum store_result r = record_audit_page(app->store, before, limit, &page, req->req_id);
        moderation_answer(resp, r, page);
    }
}
