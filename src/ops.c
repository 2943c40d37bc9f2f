/* ops: the routes load balancers, scrapers and the other ganomede services
 * call, and the per-request counters. */
#include "ops.h"

#include "live.h"
#include "metrics.h"
#include "reply.h"
#include "room_cache.h"
#include "statsd.h"
#include "store.h"
#include "version.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ops_ping(struct app *app, const struct http_request *req, const struct route_match *m,
              struct http_response *resp)
{
    (void)app;
    (void)req;
    const char *token = m->token ? m->token : "";
    size_t len = strlen(token) + sizeof "pong/";
    resp->text = malloc(len);
    if (!resp->text) {
        reply_store_failure(resp, STORE_ERROR);
        return;
    }
    snprintf(resp->text, len, "pong/%s", token);
    resp->status = 200;
}

void ops_about(struct app *app, const struct http_request *req, const struct route_match *m,
               struct http_response *resp)
{
    (void)req;
    (void)m;
    struct json_object *about = json_object_new_object();
    json_object_object_add(about, "hostname", json_object_new_string(app->hostname));
    json_object_object_add(about, "type", json_object_new_string("chat"));
    json_object_object_add(about, "version", json_object_new_string(CHAT_VERSION));
    json_object_object_add(about, "description", json_object_new_string(CHAT_DESCRIPTION));
    json_object_object_add(about, "startDate", json_object_new_string(app->start_date));
    resp->json = about;
    resp->status = 200;
}

void ops_metrics(struct app *app, const struct http_request *req, const struct route_match *m,
                 struct http_response *resp)
{
    (void)m;
    struct metrics_gauges g = { .outbox_pending = -1, .outbox_failed = -1 };
    store_pool_stats(app->store, &g.pool_size, &g.pool_in_use);
    g.live_waiting = live_waiting(app->live);
    struct room_cache_stats rc = room_cache_stats(app->store->rooms);
    g.room_cache_entries = rc.entries;
    g.room_cache_bytes = rc.bytes;
    g.room_cache_hits = rc.hits;
    g.room_cache_misses = rc.misses;
    if (store_outbox_stats(app->store, &g.outbox_pending, &g.outbox_failed, req->req_id) !=
        STORE_OK)
        g.outbox_pending = g.outbox_failed = -1;
    resp->text = metrics_render(&g);
    if (!resp->text) {
        reply_store_failure(resp, STORE_ERROR);
        return;
    }
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->status = 200;
}

void ops_health(struct app *app, const struct http_request *req, const struct route_match *m,
                struct http_response *resp)
{
    (void)m;
    long version = 0, required = 0;
    bool read_only = false;
    enum store_result r = store_schema_version(app->store, &version, &required, &read_only,
                                               req->req_id);
    if (r != STORE_OK) {
        http_response_error(resp, 503, "ServiceUnavailable", "database unavailable");
        return;
    }
    if (read_only) {
        http_response_error(resp, 503, "ServiceUnavailable",
                            "database is read-only (a standby): writes would fail");
        return;
    }
    if (version < required) {
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
 * name (a 413 under its route too: restify parsed bodies after routing); a
 * wrong method had no route there ("invalid_route"), and /about was its own
 * route ("getabout", the root row's name). */
void ops_observe(void *appv, int row, unsigned status, const char *method, const char *path,
                 double seconds)
{
    struct app *app = appv;
    if (row < 0 && path && method) {
        struct route_match m;
        if (router_match(method, path, app->cfg->route_prefix, &m)) {
            row = m.row;
            router_match_free(&m);
        }
    }
    const struct route_def *def = router_row(row);
    metrics_observe_request(def ? def->route : ROUTE_NONE, status, seconds);
    if (!app->statsd)
        return;
    char name[128], key[192];
    if (!def || status == 405)
        snprintf(key, sizeof key, "invalid_route.status.%u", status);
    else {
        router_restify_name(row, method ? method : "", app->cfg->route_prefix, name, sizeof name);
        snprintf(key, sizeof key, "route.%s.status.%u", name, status);
    }
    statsd_increment(app->statsd, key);
}
