/* handlers: the routes of the contract (docs/api.md). Failures are
 * answered by reply.c (store results, tokens) or here (bodies). */
#include "handlers.h"

#include "body.h"
#include "caller.h"
#include "message.h"
#include "reply.h"
#include "room.h"
#include "room_cache.h"
#include "events.h"
#include "live.h"
#include "rate_limit.h"
#include "recent_writers.h"
#include "record.h"
#include "store.h"
#include "usermeta.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A history page: 50 messages unless asked, at most 100. */
#define HANDLERS_HISTORY_DEFAULT 50
#define HANDLERS_HISTORY_MAX 100

/* One post, as caller_write runs it. */
struct handlers_post {
    struct store *store;
    struct rate_limit *limit;         /* NULL: no rate limit */
    long retry_after_s;               /* set when the limit refused the post */
    bool limit_taken;                 /* the post took its token already (a retry) */
    const struct store_idempotency *idem;
    struct recent_writers *writers;   /* NULL: no replica */
    struct redis_link *usermeta;      /* NULL: policies from the table */
    const char *room_id;
    const struct message_spec *msg;   /* NULL: the body was bad, checks only */
    struct json_object *push;
    const char *req_id;
};

static bool handlers_users_have(struct json_object *users, const char *username);
static bool handlers_users_exclude(struct json_object *body, const char *username);
static enum store_result handlers_post(void *cls, const struct caller *who);
static bool handlers_fresh(struct app *app, const struct caller *who);
static bool handlers_read_ok(struct app *app, struct caller *who, const char *token,
                             enum store_result r, char **found, struct http_response *resp);
static bool handlers_admit(const struct caller *who, bool member, struct http_response *resp);
static void handlers_release_answer(void *answer);
static void handlers_send_answer(struct http_response *resp, struct room_answer *a);
static bool handlers_idempotency_key(const struct http_request *req, struct http_response *resp);

/* An Idempotency-Key, when sent, is 1 to 255 visible ASCII characters (the
 * IETF draft's key is an opaque string; a UUID is typical). */
static bool handlers_idempotency_key(const struct http_request *req, struct http_response *resp)
{
    const char *k = req->idempotency_key;
    if (!k)
        return true;
    size_t len = strlen(k);
    bool ok = len >= 1 && len <= 255;
    for (size_t i = 0; ok && i < len; i++)
        ok = k[i] > 0x20 && k[i] < 0x7F;
    if (!ok)
        http_response_error(resp, 400, "BadRequest",
                            "Idempotency-Key must be 1 to 255 visible ASCII characters");
    return ok;
}

/* Whether WHO wrote through this server lately, so that a read must not go
 * to a replica that may not have replayed it (read-your-writes). A table
 * token not looked up yet is taken as the user the token cache remembers
 * for it (a writer's token is always there: its post looked it up). */
static bool handlers_fresh(struct app *app, const struct caller *who)
{
    char guess[TOKEN_CACHE_MAX_USER_BYTES + 1];
    const char *user = who->username;
    if (!user && who->kind == AUTH_LOOKUP &&
        token_cache_get(app->callers.cache, who->token, guess, sizeof guess))
        user = guess;
    return recent_writers_wrote_within(app->writers, user, app->read_fresh_ms);
}

/* True when USERNAME is in USERS (a JSON array of strings; NULL: no one). */
static bool handlers_users_have(struct json_object *users, const char *username)
{
    if (!json_object_is_type(users, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(users); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(users, i)), username) == 0)
            return true;
    return false;
}

bool handlers_member_of(struct app *app, struct caller *who, const char *token,
                        enum store_result r, char **found, struct json_object *users,
                        struct http_response *resp)
{
    return handlers_read_ok(app, who, token, r, found, resp) &&
           handlers_admit(who, handlers_users_have(users, who->username), resp);
}

/* Whether the read that resolved TOKEN (into *FOUND, taken) succeeded (R);
 * false with the answer in RESP when not. WHO learns its name. */
static bool handlers_read_ok(struct app *app, struct caller *who, const char *token,
                             enum store_result r, char **found, struct http_response *resp)
{
    if (r != STORE_OK) {
        reply_store_failure(resp, r);
        return false;
    }
    if (token) {
        caller_learned(&app->callers, who, *found);
        *found = NULL;
    }
    return true;
}

/* The secret reads every room; anyone else only a room of theirs (MEMBER). */
static bool handlers_admit(const struct caller *who, bool member, struct http_response *resp)
{
    if (who->kind != AUTH_SECRET && !member) {
        reply_store_failure(resp, STORE_NOT_MEMBER);
        return false;
    }
    return true;
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

/* What a create-room write needs (caller_write runs it once, or twice when
 * the token cache's guess of the caller was wrong). */
struct handlers_open {
    struct app *app;
    struct json_object *body;
    const struct room_spec *spec;
    bool valid;                  /* SPEC parsed */
    char err[160];               /* why not */
    struct room_answer *answer;  /* on STORE_OK (a reference) */
    const char *req_id;
};

/* The checks after the token, in the original's order (ban, membership in
 * body.users, body), then the one statement (store_create_room). */
static enum store_result handlers_open(void *cls, const struct caller *who)
{
    struct handlers_open *o = cls;
    struct app *app = o->app;
    const char *caller = who->kind == AUTH_SECRET ? NULL : who->username;
    char *policies = NULL;
    if (caller && !usermeta_fetch(app->usermeta, &caller, 1, &policies, o->req_id))
        return STORE_POLICIES_DOWN;
    bool outsider = caller && (o->valid ? !room_spec_has_user(o->spec, caller)
                                        : handlers_users_exclude(o->body, caller));
    enum store_result r;
    if (!o->valid || outsider) {
        /* The ban answer comes first; look it up only on this error path,
         * for a caller who is known, not guessed. */
        r = who->guessed ? STORE_BAD_TOKEN
            : caller     ? store_is_banned(app->store, caller, policies, o->req_id)
                         : STORE_OK;
        if (r == STORE_OK)
            r = outsider ? STORE_NOT_MEMBER : STORE_VALID;
    } else {
        room_answer_release(o->answer);
        o->answer = NULL;
        r = store_create_room(app->store, o->spec, caller, who->guessed ? who->token : NULL,
                              policies, &o->answer, o->req_id);
    }
    free(policies);
    return r;
}

/* Order as the original: token, ban, membership in body.users, body; then
 * a live room of the same id must have the same type and users (409). A
 * returning player's token is checked by the room's own statement: one
 * round trip. */
void handlers_create_room(struct app *app, const struct http_request *req,
                          const struct route_match *m, struct http_response *resp)
{
    struct json_object *body = NULL;
    struct room_spec spec = { 0 };
    struct caller who = { 0 };
    struct handlers_open open = { .app = app, .spec = &spec, .req_id = req->req_id };
    enum store_result r = STORE_ERROR;
    if (!app_parse_body(app, req, &body, resp))
        goto out;
    open.body = body;
    open.valid = room_spec_parse(body, &app->limits, &spec, open.err, sizeof open.err);
    if (!caller_write(&app->callers, m->token, &who, handlers_open, &open, &r, resp,
                      req->req_id))
        goto out;
    if (r == STORE_OK)
        recent_writers_mark(app->writers, who.username);
    /* The store compared the stored room with the body; its members are
     * checked again on what is about to be sent. */
    if (r == STORE_OK && who.kind != AUTH_SECRET &&
        !room_answer_has_user(open.answer, who.username))
        r = STORE_CONFLICT;
    if (r == STORE_VALID) {
        http_response_error(resp, 400, "BadRequest", open.err);
    } else if (r != STORE_OK) {
        reply_store_failure(resp, r);
    } else {
        handlers_send_answer(resp, open.answer);
        open.answer = NULL;
    }
out:
    room_answer_release(open.answer);
    room_spec_free(&spec);
    caller_free(&who);
    json_object_put(body);
}

/* A table token is looked up by the room's own statement: one round trip.
 * The answer may be the room cache's (store_get_room_answer), sent as it
 * is kept. */
void handlers_get_room(struct app *app, const struct http_request *req,
                       const struct route_match *m, struct http_response *resp)
{
    struct room_answer *answer = NULL;
    struct caller who = { 0 };
    char *found = NULL;
    if (!caller_classify(&app->callers, m->token, &who, resp, req->req_id))
        goto out;
    const char *token = who.kind == AUTH_LOOKUP ? m->token : NULL;
    enum store_result r = store_get_room_answer(app->store, m->room_id ? m->room_id : "", token,
                                                handlers_fresh(app, &who), &found, &answer,
                                                req->req_id);
    if (!handlers_read_ok(app, &who, token, r, &found, resp) ||
        !handlers_admit(&who, room_answer_has_user(answer, who.username), resp))
        goto out;
    handlers_send_answer(resp, answer);
    answer = NULL;
out:
    free(found);
    room_answer_release(answer);
    caller_free(&who);
}

/* Answers 200 with room answer A (taken: the response holds it until
 * sent). */
static void handlers_send_answer(struct http_response *resp, struct room_answer *a)
{
    resp->shared = (struct http_shared_body){
        .data = a->body, .len = a->body_len, .plain_len = a->plain_len,
        .gzipped = a->gzipped, .owner = a, .release = handlers_release_answer,
    };
    resp->status = 200;
}

/* http_shared_body's release of a room answer. */
static void handlers_release_answer(void *answer)
{
    room_answer_release(answer);
}

static enum store_result handlers_post(void *cls, const struct caller *who)
{
    struct handlers_post *p = cls;
    /* The API secret is never limited; a post counts once, also when the
     * token cache's guess makes it run twice. */
    if (p->msg && who->kind != AUTH_SECRET && !p->limit_taken) {
        p->limit_taken = true;
        if (!rate_limit_take(p->limit, who->username, &p->retry_after_s))
            return STORE_RATE_LIMITED;
    }
    char *policies = NULL;
    if (!usermeta_fetch_room(p->usermeta, p->room_id, who->username, &policies, p->req_id))
        return STORE_POLICIES_DOWN;
    enum store_result r = store_post_message(p->store, p->room_id, who->username,
                                             who->guessed ? who->token : NULL,
                                             who->kind == AUTH_SECRET, p->msg, p->push,
                                             policies, p->idem, p->req_id);
    free(policies);
    if (r == STORE_OK)
        recent_writers_mark(p->writers, who->username);
    return r;
}

/* Order as the original: token, chat disabled, ban, mute, room,
 * membership, then the body; all but the token are decided by the post's
 * one statement, which also checks a token whose user was only remembered
 * (caller_write). A bad body still runs the checks (msg NULL), so that
 * the same bad request gets the original's answer. */
void handlers_post_message(struct app *app, const struct http_request *req,
                           const struct route_match *m, struct http_response *resp)
{
    struct json_object *body = NULL;
    struct caller who = { 0 };
    struct message_spec msg;
    char bad[32] = "";
    if (!app_parse_body(app, req, &body, resp) || !handlers_idempotency_key(req, resp))
        goto out;
    bool valid = message_spec_parse(body, NULL, app->cfg->max_message_bytes, &msg, bad,
                                    sizeof bad);
    struct store_idempotency idem = { req->idempotency_key, req->body, req->body_len };
    struct handlers_post post = { .store = app->store,
                                  .limit = app->limiter,
                                  .idem = &idem,
                                  .usermeta = app->usermeta,
                                  .writers = app->writers,
                                  .room_id = m->room_id ? m->room_id : "",
                                  .msg = valid ? &msg : NULL,
                                  .req_id = req->req_id };
    if (valid)
        json_object_object_get_ex(body, "push", &post.push);
    enum store_result r = STORE_ERROR;
    if (!caller_write(&app->callers, m->token, &who, handlers_post, &post, &r, resp,
                      req->req_id))
        goto out;
    if (r == STORE_OK)
        live_kick(app->live);   /* waiting clients hear of it at once */
    if (r == STORE_VALID)
        http_response_error(resp, 400, "BadRequest", bad);
    else if (r == STORE_OK || r == STORE_MUTED || r == STORE_DUPLICATE)
        resp->status = 200;
    else
        reply_store_failure(resp, r);
    if (r == STORE_RATE_LIMITED)
        resp->retry_after_seconds = post.retry_after_s;
out:
    caller_free(&who);
    json_object_put(body);
}

/* Same authorization as GET room, the messages from the record: a table
 * token is looked up by the page's own statement. */
void handlers_history(struct app *app, const struct http_request *req,
                      const struct route_match *m, struct http_response *resp)
{
    bool bad = false;
    char *after = http_query(req, "after", &bad);
    if (after || bad) {
        free(after);
        events_long_poll(app, req, m, resp);
        return;
    }
    struct json_object *users = NULL, *page = NULL;
    struct caller who = { 0 };
    char *found = NULL;
    long long before = 0;
    long limit = 0;
    if (!caller_classify(&app->callers, m->token, &who, resp, req->req_id) ||
        !app_page_query(req, HANDLERS_HISTORY_MAX, HANDLERS_HISTORY_DEFAULT, &before, &limit,
                        resp))
        goto out;
    const char *token = who.kind == AUTH_LOOKUP ? m->token : NULL;
    enum store_result r = record_history(app->store, m->room_id ? m->room_id : "", token,
                                         handlers_fresh(app, &who), before, limit, &found,
                                         &users, &page, req->req_id);
    if (!handlers_member_of(app, &who, token, r, &found, users, resp))
        goto out;
    resp->json = page;
    page = NULL;
    resp->status = 200;
out:
    free(found);
    json_object_put(users);
    json_object_put(page);
    caller_free(&who);
}

/* The API secret only; the room is created when missing. */
void handlers_system_message(struct app *app, const struct http_request *req,
                             const struct route_match *m, struct http_response *resp)
{
    struct json_object *body = NULL;
    struct caller who = { 0 };
    struct room_spec spec = { 0 };
    struct message_spec msg;
    char err[160];
    if (!app_parse_body(app, req, &body, resp) || !handlers_idempotency_key(req, resp) ||
        !caller_resolve(&app->callers, m->token, &who, resp, req->req_id))
        goto out;
    if (who.kind != AUTH_SECRET) {
        reply_store_failure(resp, STORE_NOT_MEMBER);
        goto out;
    }
    if (!room_spec_parse(body, &app->limits, &spec, err, sizeof err) ||
        !message_spec_parse(body, "event", app->cfg->max_message_bytes, &msg, err, sizeof err)) {
        http_response_error(resp, 400, "BadRequest", err);
        goto out;
    }
    char *policies = NULL;
    enum store_result r = STORE_POLICIES_DOWN;
    if (usermeta_fetch(app->usermeta, spec.users, spec.nusers, &policies,
                       req->req_id))
    {
        struct store_idempotency idem = { req->idempotency_key, req->body, req->body_len };
        r = store_system_message(app->store, &spec, &msg, policies, &idem, req->req_id);
    }
    free(policies);
    if (r == STORE_OK) {
        recent_writers_mark(app->writers, who.username);
        live_kick(app->live);
    }
    if (r == STORE_OK || r == STORE_DUPLICATE)
        resp->status = 200;
    else
        reply_store_failure(resp, r);
out:
    room_spec_free(&spec);
    caller_free(&who);
    json_object_put(body);
}
