/* events: the live routes over the live hub: GET events (Server-Sent
 * Events) and long-poll (GET history with ?after=). Who may listen is
 * decided as for GET room; what is sent, and when, is live.c's. */
#include "events.h"

#include "caller.h"
#include "handlers.h"
#include "live.h"
#include "record.h"
#include "reply.h"
#include "text.h"
#include "usermeta.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Long-poll's answer holds at most this many messages. */
#define EVENTS_POLL_LIMIT 100

/* The answer for a refused subscription. */
static void events_refused(struct http_response *resp, enum live_refusal why)
{
    if (why == LIVE_USER_FULL) {
        http_response_error(resp, 429, "TooManyRequests",
                            "too many live streams for this user: close one first");
        resp->retry_after_seconds = 5;
    } else if (why == LIVE_SERVER_FULL) {
        http_response_error(resp, 503, "ServiceUnavailable",
                            "this server has as many waiting clients as it takes, retry later");
        resp->retry_after_seconds = 5;
    } else {
        reply_store_failure(resp, why == LIVE_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_ERROR);
    }
}

/* RESP streams SUB's answer (an SSE stream, or a long-poll's JSON). */
static void events_answer_with(struct http_response *resp, struct live_sub *sub, bool sse)
{
    resp->status = 200;
    resp->content_type = sse ? "text/event-stream; charset=utf-8" : "application/json";
    resp->stream = live_sub_read;
    resp->stream_cls = sub;
    resp->stream_free = live_sub_release;
    resp->stream_bind = live_sub_bind;
}

/* Whether WHO may read ROOM (a member, or the secret): false with the
 * answer in RESP. */
static bool events_may_read(struct app *app, struct caller *who, const char *room,
                            struct http_response *resp, const char *req_id)
{
    char *found = NULL;
    struct json_object *users = NULL, *page = NULL;
    enum store_result r = record_history_after(app->store, room, NULL, LLONG_MAX, 1, &found,
                                               &users, &page, req_id);
    bool ok = handlers_member_of(app, who, NULL, r, &found, users, resp);
    free(found);
    json_object_put(users);
    json_object_put(page);
    return ok;
}

/* ?room= and ?user= of the stream: false with a 400 or 401 in RESP. */
static bool events_scope(const struct http_request *req, const struct caller *who, char **room,
                         char **user, struct http_response *resp)
{
    bool bad = false;
    *room = http_query(req, "room", &bad);
    *user = http_query(req, "user", &bad);
    if (bad || (*room && !**room) || (*user && !**user)) {
        http_response_error(resp, 400, "BadRequest", "room and user must be clean, non-empty UTF-8");
        return false;
    }
    if (who->kind == AUTH_SECRET && !*room && !*user) {
        http_response_error(resp, 400, "BadRequest",
                            "with the API secret, say what to follow: ?room=<id> or ?user=<name>");
        return false;
    }
    if (who->kind != AUTH_SECRET && *user && strcmp(*user, who->username) != 0) {
        reply_store_failure(resp, STORE_NOT_MEMBER);
        return false;
    }
    return true;
}

/* The Last-Event-ID header: false with a 400 when it is no event id. */
static bool events_last_id(const struct http_request *req, struct live_pos *from, bool *has,
                           struct http_response *resp)
{
    *has = req->last_event_id && *req->last_event_id;
    if (*has && !live_pos_parse(req->last_event_id, from)) {
        http_response_error(resp, 400, "BadRequest",
                            "Last-Event-ID must be the id of an event of this stream");
        return false;
    }
    return true;
}

void events_stream(struct app *app, const struct http_request *req, const struct route_match *m,
                   struct http_response *resp)
{
    struct caller who = { 0 };
    char *room = NULL, *user = NULL;
    struct live_pos from;
    bool has_from = false;
    if (!caller_resolve(&app->callers, m->token, &who, resp, req->req_id) ||
        !events_scope(req, &who, &room, &user, resp) ||
        !events_last_id(req, &from, &has_from, resp) ||
        (room && !events_may_read(app, &who, room, resp, req->req_id)))
        goto out;
    bool secret = who.kind == AUTH_SECRET;
    const char *follows = user ? user : who.username;
    enum live_refusal why = LIVE_ADMITTED;
    struct live_sub *sub = live_stream_open(app->live, room ? NULL : follows, room,
                                            secret ? NULL : m->token, has_from ? &from : NULL,
                                            &why, req->req_id);
    if (!sub) {
        events_refused(resp, why);
        goto out;
    }
    events_answer_with(resp, sub, true);
out:
    free(room);
    free(user);
    caller_free(&who);
}

/* ?after= and ?wait= of a long-poll: false with a 400 in RESP. */
static bool events_poll_query(const struct http_request *req, long max_wait, long long *after,
                              long *wait, struct http_response *resp)
{
    bool bad = false;
    char *a = http_query(req, "after", &bad);
    char *w = http_query(req, "wait", &bad);
    char *before = http_query(req, "before", &bad);
    long long n = 0, seconds = 0;
    bool ok = !bad && a && !before;
    if (ok && strcmp(a, "0") != 0)
        ok = text_parse_positive(a, LLONG_MAX, &n);
    if (!ok)
        http_response_error(resp, 400, "BadRequest",
                            "after must be a message id (0 for the beginning), without before");
    else if (w && !(strcmp(w, "0") == 0 || text_parse_positive(w, max_wait, &seconds))) {
        http_response_error(resp, 400, "BadRequest", "wait must be a whole number of seconds");
        ok = false;
    }
    *after = n;
    *wait = (long)seconds;
    free(a);
    free(w);
    free(before);
    return ok;
}

void events_long_poll(struct app *app, const struct http_request *req,
                      const struct route_match *m, struct http_response *resp)
{
    struct caller who = { 0 };
    struct json_object *users = NULL, *page = NULL;
    char *found = NULL;
    long long after = 0;
    long wait = 0;
    const char *room = m->room_id ? m->room_id : "";
    if (!caller_classify(&app->callers, m->token, &who, resp, req->req_id) ||
        !events_poll_query(req, app->cfg->live_wait_max_seconds, &after, &wait, resp))
        goto out;
    /* Listening first, then reading what is there: a message committed in
     * between is in one or the other. */
    enum live_refusal why = LIVE_ADMITTED;
    struct live_sub *sub = wait > 0 ? live_poll_open(app->live, room, after, wait, &why) : NULL;
    if (wait > 0 && !sub) {
        events_refused(resp, why);
        goto out;
    }
    const char *token = who.kind == AUTH_LOOKUP ? m->token : NULL;
    enum store_result r = record_history_after(app->store, room, token, after,
                                               EVENTS_POLL_LIMIT, &found, &users, &page,
                                               req->req_id);
    if (!handlers_member_of(app, &who, token, r, &found, users, resp)) {
        live_sub_release(sub);
        goto out;
    }
    struct json_object *messages = NULL;
    json_object_object_get_ex(page, "messages", &messages);
    if (!sub || json_object_array_length(messages) > 0) {
        live_sub_release(sub);
        resp->json = page;
        page = NULL;
        resp->status = 200;
        goto out;
    }
    events_answer_with(resp, sub, false);
out:
    free(found);
    json_object_put(users);
    json_object_put(page);
    caller_free(&who);
}

bool events_allowed(void *appv, const char *token, const char *user)
{
    struct app *app = appv;
    struct caller who = { 0 };
    struct http_response resp = { 0 };
    bool ok = caller_resolve(&app->callers, token, &who, &resp, NULL);
    /* A dependency that does not answer (503) is no reason to end it. */
    if (!ok) {
        ok = resp.status == 503;
    } else if (who.kind != AUTH_SECRET) {
        char *policies = NULL;
        const char *u = who.username ? who.username : user;
        if (usermeta_fetch(app->usermeta, &u, 1, &policies, NULL)) {
            enum store_result r = store_is_banned(app->store, u, policies, NULL);
            ok = r != STORE_BANNED;
        }
        free(policies);
    }
    http_response_discard(&resp);
    caller_free(&who);
    return ok;
}
