/* app: state and dispatch. */
#include "app.h"

#include "body.h"
#include "handlers.h"
#include "console.h"
#include "events.h"
#include "inbox.h"
#include "log.h"
#include "moderation.h"
#include "ops.h"
#include "text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Each route's handler, by the route of its table row. */
static app_handler *const APP_HANDLERS[ROUTE_LAST + 1] = {
    [ROUTE_ABOUT] = ops_about,
    [ROUTE_PING] = ops_ping,
    [ROUTE_METRICS] = ops_metrics,
    [ROUTE_HEALTH] = ops_health,
    [ROUTE_CREATE_ROOM] = handlers_create_room,
    [ROUTE_GET_ROOM] = handlers_get_room,
    [ROUTE_POST_MESSAGE] = handlers_post_message,
    [ROUTE_SYSTEM_MESSAGE] = handlers_system_message,
    [ROUTE_HISTORY] = handlers_history,
    [ROUTE_RECORD_SEARCH] = moderation_search,
    [ROUTE_RECORD_EXPORT] = moderation_export,
    [ROUTE_REDACT_MESSAGE] = moderation_redact_message,
    [ROUTE_REDACT_USER] = moderation_redact_user,
    [ROUTE_HOLDS] = moderation_holds,
    [ROUTE_HOLD_SET] = moderation_hold_set,
    [ROUTE_HOLD_LIFT] = moderation_hold_lift,
    [ROUTE_AUDIT] = moderation_audit,
    [ROUTE_MY_ROOMS] = inbox_my_rooms,
    [ROUTE_READ_MARKER] = inbox_mark_read,
    [ROUTE_EVENTS] = events_stream,
    [ROUTE_CONSOLE] = console_page,
    [ROUTE_CONSOLE_FILE] = console_file,
};

void app_init(struct app *app, const struct config *cfg, struct store *store,
              struct token_cache *tokens, struct statsd *sd, struct app_links links)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    app->store = store;
    app->statsd = sd;
    app->callers.api_secret = cfg->api_secret;
    app->callers.store = store;
    app->callers.cache = tokens;
    app->callers.authdb = links.authdb;
    app->usermeta = links.usermeta;
    app->writers = links.writers;
    app->read_fresh_ms = links.read_fresh_ms;
    app->limiter = links.limiter;
    app->live = links.live;
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

/* Body problems found before the token is checked, as restify's body
 * parser did: not JSON (400 InvalidContent), or sent in a way that cannot
 * be meant (JSON as a form: 400; multipart: 415). */
bool app_parse_body(struct app *app, const struct http_request *req,
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

bool app_page_query(const struct http_request *req, long max, long default_limit,
                    long long *before, long *limit, struct http_response *resp)
{
    bool bad = false;
    char *b = http_query(req, "before", &bad);
    char *l = http_query(req, "limit", &bad);
    long long n = default_limit;
    char msg[96];
    *before = 0;
    if (bad || (b && !text_parse_positive(b, INT64_MAX, before))) {
        http_response_error(resp, 400, "BadRequest",
                            "before must be the next cursor of an earlier page");
        bad = true;
    } else if (l && !text_parse_positive(l, max, &n)) {
        snprintf(msg, sizeof msg, "limit must be a whole number from 1 to %ld", max);
        http_response_error(resp, 400, "BadRequest", msg);
        bad = true;
    }
    *limit = (long)n;
    free(b);
    free(l);
    return !bad;
}

void app_dispatch(void *appv, const struct http_request *req, struct http_response *resp)
{
    struct app *app = appv;
    struct route_match m;
    if (!router_match(req->method, req->path, app->cfg->route_prefix, &m)) {
        http_response_error(resp, 500, "InternalServer", "");
        return;
    }
    /* The console is off unless CONSOLE=on: then its paths do not exist. */
    if ((m.route == ROUTE_CONSOLE || m.route == ROUTE_CONSOLE_FILE) && !app->cfg->console_on)
        m.route = ROUTE_NONE;
    resp->route = router_route_name(m.route);
    resp->route_id = m.row;
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
        APP_HANDLERS[m.route](app, req, &m, resp);
    }
    router_match_free(&m);
}
