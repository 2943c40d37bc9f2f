/* app: state and dispatch. */
#include "app.h"

#include "handlers.h"
#include "log.h"
#include "ops.h"

#include <stdio.h>
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
};

void app_init(struct app *app, const struct config *cfg, struct store *store,
              struct token_cache *tokens, struct statsd *sd)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    app->store = store;
    app->statsd = sd;
    app->callers.api_secret = cfg->api_secret;
    app->callers.store = store;
    app->callers.cache = tokens;
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

void app_dispatch(void *appv, const struct http_request *req, struct http_response *resp)
{
    struct app *app = appv;
    struct route_match m;
    if (!router_match(req->method, req->path, app->cfg->route_prefix, &m)) {
        http_response_error(resp, 500, "InternalServer", "");
        return;
    }
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
