/* inbox: the caller (or, for the API secret, ?user=), the page bounds, one
 * call of the unread module. */
#include "inbox.h"

#include "body.h"
#include "caller.h"
#include "recent_writers.h"
#include "reply.h"
#include "text.h"
#include "unread.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A page of rooms: 50 unless asked, at most 100. */
#define INBOX_DEFAULT 50
#define INBOX_MAX 100

/* Whose rooms: the caller's, or with the API secret the ?user= one's
 * (required then). False with the answer in RESP. *USER points into WHO
 * or *OWNED (caller frees). */
static bool inbox_whose(const struct http_request *req, const struct caller *who,
                        const char **user, char **owned, struct http_response *resp)
{
    bool bad = false;
    *owned = http_query(req, "user", &bad);
    if (bad) {
        http_response_error(resp, 400, "BadRequest", "user must be clean UTF-8");
        return false;
    }
    if (who->kind == AUTH_SECRET) {
        if (!*owned || !**owned) {
            http_response_error(resp, 400, "BadRequest",
                                "with the API secret, say whose rooms: ?user=<name>");
            return false;
        }
        *user = *owned;
        return true;
    }
    if (*owned && strcmp(*owned, who->username) != 0) {
        reply_store_failure(resp, STORE_NOT_MEMBER);
        return false;
    }
    *user = who->username;
    return true;
}

/* ?limit= and ?cursor=: false with a 400 in RESP. */
static bool inbox_page_query(const struct http_request *req, long *limit,
                             struct unread_cursor *cursor, bool *has_cursor,
                             struct http_response *resp)
{
    bool bad = false;
    char *l = http_query(req, "limit", &bad);
    char *c = http_query(req, "cursor", &bad);
    long long n = INBOX_DEFAULT;
    *has_cursor = false;
    if (bad || (l && !text_parse_positive(l, INBOX_MAX, &n))) {
        http_response_error(resp, 400, "BadRequest", "limit must be a whole number from 1 to 100");
        bad = true;
    } else if (c && !(*has_cursor = unread_cursor_parse(c, cursor))) {
        http_response_error(resp, 400, "BadRequest",
                            "cursor must be the next cursor of an earlier page");
        bad = true;
    }
    *limit = (long)n;
    free(l);
    free(c);
    return !bad;
}

void inbox_my_rooms(struct app *app, const struct http_request *req,
                    const struct route_match *m, struct http_response *resp)
{
    struct caller who = { 0 };
    struct unread_cursor cursor = { 0 };
    char *owned = NULL;
    const char *user = NULL;
    long limit = 0;
    bool has_cursor = false;
    if (!caller_resolve(&app->callers, m->token, &who, resp, req->req_id) ||
        !inbox_whose(req, &who, &user, &owned, resp) ||
        !inbox_page_query(req, &limit, &cursor, &has_cursor, resp))
        goto out;
    struct json_object *page = NULL;
    bool fresh = recent_writers_wrote_within(app->writers, user, app->read_fresh_ms);
    enum store_result r = unread_my_rooms(app->store, user, limit, has_cursor ? &cursor : NULL,
                                          fresh, &page, req->req_id);
    if (r != STORE_OK) {
        reply_store_failure(resp, r);
        goto out;
    }
    resp->json = page;
    resp->status = 200;
out:
    unread_cursor_free(&cursor);
    free(owned);
    caller_free(&who);
}

/* The body's optional messageId: a positive whole number (JSON number or
 * decimal string). False with a 400 in RESP. */
static bool inbox_message_id(struct json_object *body, long long *id, struct http_response *resp)
{
    struct json_object *v = NULL;
    *id = 0;
    if (!body || !json_object_object_get_ex(body, "messageId", &v) || !v)
        return true;
    long long n = 0;
    bool ok = json_object_is_type(v, json_type_int) ? (n = json_object_get_int64(v)) > 0
              : json_object_is_type(v, json_type_string)
                  ? text_parse_positive(json_object_get_string(v), INT64_MAX, &n)
                  : false;
    if (!ok) {
        http_response_error(resp, 400, "BadRequest", "messageId must be a message id");
        return false;
    }
    *id = n;
    return true;
}

void inbox_mark_read(struct app *app, const struct http_request *req,
                     const struct route_match *m, struct http_response *resp)
{
    struct json_object *body = NULL;
    struct caller who = { 0 };
    long long id = 0, marker = 0;
    if (!app_parse_body(app, req, &body, resp) ||
        !caller_resolve(&app->callers, m->token, &who, resp, req->req_id))
        goto out;
    if (body && !json_object_is_type(body, json_type_object)) {
        http_response_error(resp, 400, "BadRequest", "the body must be an object or empty");
        goto out;
    }
    if (who.kind == AUTH_SECRET) {
        /* The secret reads every room and is no member: nothing to mark. */
        reply_store_failure(resp, STORE_NOT_MEMBER);
        goto out;
    }
    if (!inbox_message_id(body, &id, resp))
        goto out;
    const char *room_id = m->room_id ? m->room_id : "";
    enum store_result r = unread_mark_read(app->store, room_id, who.username, id, &marker,
                                           req->req_id);
    if (r != STORE_OK) {
        reply_store_failure(resp, r);
        goto out;
    }
    struct json_object *answer = json_object_new_object();
    json_object_object_add(answer, "roomId", json_object_new_string(room_id));
    json_object_object_add(answer, "lastReadId", json_object_new_int64(marker));
    resp->json = answer;
    resp->status = 200;
out:
    caller_free(&who);
    json_object_put(body);
}
