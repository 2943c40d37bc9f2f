/* handlers: the routes of the contract (docs/api.md). Every failure becomes a JSON error
 * through handlers_fail or http_response_error, in one place per cause. */
#include "handlers.h"

#include "auth.h"
#include "body.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "migrate.h"
#include "room.h"
#include "router.h"
#include "statsd.h"
#include "tokens.h"
#include "version.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Who is calling, once the token is checked. */
struct caller {
    enum auth_kind kind;   /* AUTH_SECRET or AUTH_USER after success */
    const char *username;  /* "$$" for the secret */
    char *owned;           /* username from auth_tokens, freed by caller_free */
};

static void handlers_fail(struct http_response *resp, enum store_result r);
static void handlers_unauthorized(struct http_response *resp);
static bool handlers_classify(struct handlers_app *app, const char *token, struct caller *who,
                              struct http_response *resp);
static bool handlers_lookup(struct handlers_app *app, const struct http_request *req,
                            const char *token, struct caller *who, struct http_response *resp);
static bool handlers_authenticate(struct handlers_app *app, const struct http_request *req,
                                  const char *token, struct caller *who,
                                  struct http_response *resp);
static void caller_free(struct caller *who);
static bool handlers_parse_body(struct handlers_app *app, const struct http_request *req,
                                struct json_object **body, struct http_response *resp);
static bool handlers_room_has_user(struct json_object *room, const char *username);
static bool handlers_users_exclude(struct json_object *body, const char *username);
static void handlers_ping(const struct route_match *m, struct http_response *resp);
static void handlers_about(struct handlers_app *app, struct http_response *resp);
static void handlers_metrics(struct handlers_app *app, const struct http_request *req,
                             struct http_response *resp);
static void handlers_health(struct handlers_app *app, const struct http_request *req,
                            struct http_response *resp);
static void handlers_create_room(struct handlers_app *app, const struct http_request *req,
                                 const struct route_match *m, struct http_response *resp);
static void handlers_get_room(struct handlers_app *app, const struct http_request *req,
                              const struct route_match *m, struct http_response *resp);
static void handlers_post_message(struct handlers_app *app, const struct http_request *req,
                                  const struct route_match *m, struct http_response *resp);
static void handlers_system_message(struct handlers_app *app, const struct http_request *req,
                                    const struct route_match *m, struct http_response *resp);

void handlers_app_init(struct handlers_app *app, const struct config *cfg, struct store *store)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    app->store = store;
    app->limits.max_users = cfg->max_users_per_room;
    app->limits.max_type_bytes = cfg->max_room_type_bytes;
    app->limits.max_username_bytes = cfg->max_username_bytes;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(app->start_date, sizeof app->start_date, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    if (gethostname(app->hostname, sizeof app->hostname - 1) != 0)
        strcpy(app->hostname, "localhost");
}

static void handlers_fail(struct http_response *resp, enum store_result r)
{
    switch (r) {
    case STORE_NOT_FOUND:
        http_response_error(resp, 404, "NotFound", "");
        return;
    case STORE_NOT_MEMBER:
        http_response_error(resp, 401, "Unauthorized", "");
        return;
    case STORE_BANNED:
    case STORE_CHAT_DISABLED:
        http_response_error(resp, 403, "Forbidden", "");
        return;
    case STORE_BAD_TOKEN:
        handlers_unauthorized(resp);
        return;
    case STORE_CONFLICT:
        /* Says nothing of the stored room: not its type, not its users. */
        http_response_error(resp, 409, "Conflict",
                            "another room has this id: a room is its type and its users, "
                            "and a live room of this id has another type or other users");
        return;
    case STORE_UNAVAILABLE:
        http_response_error(resp, 503, "ServiceUnavailable", "database unavailable, retry later");
        return;
    case STORE_OK:
    case STORE_VALID:
    case STORE_MUTED:
    case STORE_ERROR:
        break;
    }
    http_response_error(resp, 500, "InternalServer", "");
}

static void handlers_unauthorized(struct http_response *resp)
{
    http_response_error(resp, 401, "UnauthorizedError", "not authorized");
}

static void caller_free(struct caller *who)
{
    free(who->owned);
    who->owned = NULL;
}

/* What TOKEN is, before any lookup: false (401 answered) when it cannot
 * be valid. Token order: the API secret, "SECRET.name", then auth_tokens
 * (AUTH_LOOKUP, username still NULL). */
static bool handlers_classify(struct handlers_app *app, const char *token, struct caller *who,
                              struct http_response *resp)
{
    memset(who, 0, sizeof *who);
    const char *name = NULL;
    who->kind = auth_classify(token, app->cfg->api_secret, &name);
    switch (who->kind) {
    case AUTH_SECRET:
        who->username = "$$";
        return true;
    case AUTH_USER:
        who->username = name;
        return true;
    case AUTH_LOOKUP:
        return true;
    case AUTH_INVALID:
        break;
    }
    handlers_unauthorized(resp);
    return false;
}

/* Looks a classified table token up on its own query (nothing to do for
 * the other kinds), and remembers its user for later posts. */
static bool handlers_lookup(struct handlers_app *app, const struct http_request *req,
                            const char *token, struct caller *who, struct http_response *resp)
{
    if (who->kind != AUTH_LOOKUP)
        return true;
    enum store_result r = store_lookup_token(app->store, token, &who->owned, req->req_id);
    if (r == STORE_OK) {
        who->kind = AUTH_USER;
        who->username = who->owned;
        tokens_put(app->tokens, token, who->username);
        return true;
    }
    handlers_fail(resp, r == STORE_NOT_FOUND ? STORE_BAD_TOKEN : r);
    return false;
}

/* Classifies TOKEN and looks a table token up (routes whose statement
 * cannot take the token along). */
static bool handlers_authenticate(struct handlers_app *app, const struct http_request *req,
                                  const char *token, struct caller *who,
                                  struct http_response *resp)
{
    return handlers_classify(app, token, who, resp) &&
           handlers_lookup(app, req, token, who, resp);
}

static bool handlers_parse_body(struct handlers_app *app, const struct http_request *req,
                                struct json_object **body, struct http_response *resp)
{
    struct body_refusal no;
    if (!body_acceptable(req->content_type, req->body, req->body_len, &no)) {
        http_response_error(resp, no.status, no.code, no.message);
        return false;
    }
    char err[128];
    if (body_parse(req->content_type, req->body, req->body_len, (int)app->cfg->max_json_depth,
                   body, err, sizeof err))
        return true;
    char msg[160];
    snprintf(msg, sizeof msg, "Invalid JSON: %s", err);
    http_response_error(resp, 400, "InvalidContent", msg);
    return false;
}

static bool handlers_room_has_user(struct json_object *room, const char *username)
{
    struct json_object *users = NULL;
    if (!json_object_object_get_ex(room, "users", &users))
        return false;
    for (size_t i = 0; i < json_object_array_length(users); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(users, i)), username) == 0)
            return true;
    return false;
}

/* True when BODY.users is an array of strings without USERNAME: the
 * original refused such a create with 401 before looking at the rest. */
static bool handlers_users_exclude(struct json_object *body, const char *username)
{
    struct json_object *users = NULL;
    if (!body || !json_object_is_type(body, json_type_object) ||
        !json_object_object_get_ex(body, "users", &users) ||
        !json_object_is_type(users, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(users); i++) {
        struct json_object *u = json_object_array_get_idx(users, i);
        if (json_object_is_type(u, json_type_string) &&
            strcmp(json_object_get_string(u), username) == 0)
            return false;
    }
    return true;
}

static void handlers_ping(const struct route_match *m, struct http_response *resp)
{
    const char *token = m->token ? m->token : "";
    size_t len = strlen(token) + sizeof "pong/";
    resp->text = malloc(len);
    if (!resp->text) {
        handlers_fail(resp, STORE_ERROR);
        return;
    }
    snprintf(resp->text, len, "pong/%s", token);
    resp->status = 200;
}

static void handlers_about(struct handlers_app *app, struct http_response *resp)
{
    struct json_object *about = json_object_new_object();
    json_object_object_add(about, "hostname", json_object_new_string(app->hostname));
    json_object_object_add(about, "type", json_object_new_string("chat"));
    json_object_object_add(about, "version", json_object_new_string(CHAT_VERSION));
    json_object_object_add(about, "description", json_object_new_string(CHAT_DESCRIPTION));
    json_object_object_add(about, "startDate", json_object_new_string(app->start_date));
    resp->json = about;
    resp->status = 200;
}

static void handlers_metrics(struct handlers_app *app, const struct http_request *req,
                             struct http_response *resp)
{
    struct metrics_gauges g = { .outbox_pending = -1, .outbox_failed = -1 };
    db_pool_stats(app->store->pool, &g.pool_size, &g.pool_in_use);
    if (store_outbox_stats(app->store, &g.outbox_pending, &g.outbox_failed, req->req_id) !=
        STORE_OK)
        g.outbox_pending = g.outbox_failed = -1;
    resp->text = metrics_render(&g);
    if (!resp->text) {
        handlers_fail(resp, STORE_ERROR);
        return;
    }
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->status = 200;
}

/* 200 when PostgreSQL answers and the schema is the one this binary needs. */
static void handlers_health(struct handlers_app *app, const struct http_request *req,
                            struct http_response *resp)
{
    long version = 0, latest = migrate_latest_version();
    enum store_result r = store_schema_version(app->store, &version, req->req_id);
    if (r != STORE_OK) {
        http_response_error(resp, 503, "ServiceUnavailable", "database unavailable");
        return;
    }
    if (version < latest) {
        http_response_error(resp, 503, "ServiceUnavailable", "database schema is behind");
        return;
    }
    struct json_object *health = json_object_new_object();
    json_object_object_add(health, "status", json_object_new_string("ok"));
    json_object_object_add(health, "schemaVersion", json_object_new_int64(version));
    resp->json = health;
    resp->status = 200;
}

/* statsd keys as the original's restify sent them: the route's restify
 * name, also for a 413 (restify parsed bodies after routing); a wrong method
 * had no route there ("invalid_route"), and /about was its own route. */
void handlers_observe(void *appv, int route_id, unsigned status, const char *method,
                      const char *path, double seconds)
{
    struct handlers_app *app = appv;
    enum route r = (enum route)route_id;
    if (route_id < 0) {
        struct route_match m;
        r = ROUTE_NONE;
        if (path && method && router_match(method, path, app->cfg->route_prefix, &m)) {
            r = m.route;
            router_match_free(&m);
        }
    }
    metrics_observe_request(r, status, seconds);
    if (!app->statsd)
        return;
    char name[128], key[192];
    if (r == ROUTE_NONE || status == 405)
        snprintf(key, sizeof key, "invalid_route.status.%u", status);
    else if (r == ROUTE_ABOUT && path && strcmp(path, "/about") == 0)
        snprintf(key, sizeof key, "route.getabout.status.%u", status);
    else {
        router_restify_name(r, method ? method : "", app->cfg->route_prefix, name, sizeof name);
        snprintf(key, sizeof key, "route.%s.status.%u", name, status);
    }
    statsd_increment(app->statsd, key);
}

/* Order as the original: token, ban, membership in body.users, body. */
static void handlers_create_room(struct handlers_app *app, const struct http_request *req,
                                 const struct route_match *m, struct http_response *resp)
{
    struct json_object *body = NULL, *room = NULL;
    struct room_spec spec = { 0 };
    struct caller who = { 0 };
    char err[160];
    if (!handlers_parse_body(app, req, &body, resp) ||
        !handlers_authenticate(app, req, m->token, &who, resp))
        goto out;
    const char *caller = who.kind == AUTH_SECRET ? NULL : who.username;
    bool valid = room_spec_parse(body, &app->limits, &spec, err, sizeof err);
    bool outsider = caller && (valid ? !room_spec_has_user(&spec, caller)
                                     : handlers_users_exclude(body, caller));
    if (!valid || outsider) {
        /* The ban answer comes first; look it up only on this error path. */
        enum store_result banned = caller ? store_is_banned(app->store, caller, req->req_id)
                                          : STORE_OK;
        if (banned != STORE_OK)
            handlers_fail(resp, banned);
        else if (outsider)
            http_response_error(resp, 401, "Unauthorized", "");
        else
            http_response_error(resp, 400, "BadRequest", err);
        goto out;
    }
    enum store_result r = store_create_room(app->store, &spec, caller, &room, req->req_id);
    /* The store compared the stored room with the body; its members are
     * checked again on what is about to be sent. */
    if (r == STORE_OK && caller && !handlers_room_has_user(room, caller))
        r = STORE_CONFLICT;
    if (r != STORE_OK) {
        handlers_fail(resp, r);
        goto out;
    }
    resp->json = room;
    room = NULL;
    resp->status = 200;
out:
    json_object_put(room);
    room_spec_free(&spec);
    caller_free(&who);
    json_object_put(body);
}

/* A table token is looked up by the room's own statement: one round trip. */
static void handlers_get_room(struct handlers_app *app, const struct http_request *req,
                              const struct route_match *m, struct http_response *resp)
{
    struct json_object *room = NULL;
    struct caller who = { 0 };
    if (!handlers_classify(app, m->token, &who, resp))
        goto out;
    const char *token = who.kind == AUTH_LOOKUP ? m->token : NULL;
    enum store_result r = store_get_room(app->store, m->room_id ? m->room_id : "", token,
                                         &who.owned, &room, req->req_id);
    if (r != STORE_OK) {
        handlers_fail(resp, r);
        goto out;
    }
    if (token) {
        who.username = who.owned;
        tokens_put(app->tokens, token, who.username);
    }
    if (who.kind != AUTH_SECRET && !handlers_room_has_user(room, who.username)) {
        handlers_fail(resp, STORE_NOT_MEMBER);
        goto out;
    }
    resp->json = room;
    room = NULL;
    resp->status = 200;
out:
    json_object_put(room);
    caller_free(&who);
}

/* Order as the original: token, chat disabled, ban, mute, room,
 * membership, then the body; all but the token are decided in one query.
 * A table token whose user is cached goes to that query along with the
 * user, and the query checks it first: a returning user's post is one round
 * trip. When the check fails (token gone, expired or given to someone
 * else), the token is looked up as if it had never been seen. */
static void handlers_post_message(struct handlers_app *app, const struct http_request *req,
                                  const struct route_match *m, struct http_response *resp)
{
    struct json_object *body = NULL;
    struct caller who = { 0 };
    struct message_spec msg;
    char cached[TOKENS_MAX_USER_BYTES + 1];
    if (!handlers_parse_body(app, req, &body, resp) ||
        !handlers_classify(app, m->token, &who, resp))
        goto out;
    const char *bad = message_spec_parse(body, NULL, app->cfg->max_message_bytes, &msg);
    struct json_object *push = NULL;
    if (!bad)
        json_object_object_get_ex(body, "push", &push);
    const char *room = m->room_id ? m->room_id : "";
    enum store_result r = STORE_BAD_TOKEN;
    if (who.kind == AUTH_LOOKUP && tokens_get(app->tokens, m->token, cached, sizeof cached)) {
        r = store_post_message(app->store, room, cached, m->token, false, bad ? NULL : &msg,
                               push, req->req_id);
        if (r == STORE_BAD_TOKEN)
            tokens_forget(app->tokens, m->token);
    }
    if (r == STORE_BAD_TOKEN) {
        if (!handlers_lookup(app, req, m->token, &who, resp))
            goto out;
        r = store_post_message(app->store, room, who.username, NULL, who.kind == AUTH_SECRET,
                               bad ? NULL : &msg, push, req->req_id);
    }
    if (r == STORE_VALID)
        http_response_error(resp, 400, "BadRequest", bad);
    else if (r == STORE_OK || r == STORE_MUTED)
        resp->status = 200;
    else
        handlers_fail(resp, r);
out:
    caller_free(&who);
    json_object_put(body);
}

static void handlers_system_message(struct handlers_app *app, const struct http_request *req,
                                    const struct route_match *m, struct http_response *resp)
{
    struct json_object *body = NULL;
    struct caller who = { 0 };
    struct room_spec spec = { 0 };
    struct message_spec msg;
    char err[160];
    if (!handlers_parse_body(app, req, &body, resp) ||
        !handlers_authenticate(app, req, m->token, &who, resp))
        goto out;
    if (who.kind != AUTH_SECRET) {
        http_response_error(resp, 401, "Unauthorized", "");
        goto out;
    }
    if (!room_spec_parse(body, &app->limits, &spec, err, sizeof err)) {
        http_response_error(resp, 400, "BadRequest", err);
        goto out;
    }
    const char *bad = message_spec_parse(body, "event", app->cfg->max_message_bytes, &msg);
    if (bad) {
        http_response_error(resp, 400, "BadRequest", bad);
        goto out;
    }
    enum store_result r = store_system_message(app->store, &spec, &msg, req->req_id);
    if (r == STORE_OK)
        resp->status = 200;
    else
        handlers_fail(resp, r);
out:
    room_spec_free(&spec);
    caller_free(&who);
    json_object_put(body);
}

void handlers_dispatch(void *appv, const struct http_request *req, struct http_response *resp)
{
    struct handlers_app *app = appv;
    struct route_match m;
    if (!router_match(req->method, req->path, app->cfg->route_prefix, &m)) {
        handlers_fail(resp, STORE_ERROR);
        return;
    }
    resp->route = router_route_name(m.route);
    resp->route_id = (int)m.route;
    /* The redacted path serves the request log line and the 404 message
     * only: not worth a copy on every request of a quiet server. */
    if (log_enabled(LOG_INFO) || m.route == ROUTE_NONE)
        resp->log_path = router_redact_path(req->path, app->cfg->api_secret);
    char msg[256];
    if (m.route == ROUTE_NONE) {
        snprintf(msg, sizeof msg, "%.200s does not exist", resp->log_path ? resp->log_path : "");
        http_response_error(resp, 404, "ResourceNotFound", msg);
    } else if (!m.method_allowed) {
        snprintf(msg, sizeof msg, "%.32s is not allowed", req->method);
        http_response_error(resp, 405, "MethodNotAllowed", msg);
    } else {
        switch (m.route) {
        case ROUTE_PING: handlers_ping(&m, resp); break;
        case ROUTE_ABOUT: handlers_about(app, resp); break;
        case ROUTE_CREATE_ROOM: handlers_create_room(app, req, &m, resp); break;
        case ROUTE_GET_ROOM: handlers_get_room(app, req, &m, resp); break;
        case ROUTE_POST_MESSAGE: handlers_post_message(app, req, &m, resp); break;
        case ROUTE_SYSTEM_MESSAGE: handlers_system_message(app, req, &m, resp); break;
        case ROUTE_METRICS: handlers_metrics(app, req, resp); break;
        case ROUTE_HEALTH: handlers_health(app, req, resp); break;
        case ROUTE_NONE: break;
        }
    }
    router_match_free(&m);
}
