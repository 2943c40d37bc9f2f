/* ops: the operations routes (ping, about, metrics, health) and the request
 * observer that counts every answered request in the metrics and, under
 * the original's restify names, in statsd. */
#ifndef GANOMEDE_OPS_H
#define GANOMEDE_OPS_H

#include "app.h"

/* GET|HEAD .../ping/:token: 200 text/plain "pong/<token>". */
void ops_ping(struct app *app, const struct http_request *req, const struct route_match *m,
              struct http_response *resp);

/* GET /about and .../about: the server's identity. */
void ops_about(struct app *app, const struct http_request *req, const struct route_match *m,
               struct http_response *resp);

/* GET .../metrics: Prometheus text. */
void ops_metrics(struct app *app, const struct http_request *req, const struct route_match *m,
                 struct http_response *resp);

/* GET|HEAD .../health: 200 when PostgreSQL answers and the schema is the
 * one this binary needs, else 503. */
void ops_health(struct app *app, const struct http_request *req, const struct route_match *m,
                struct http_response *resp);

/* The http_observer (APPV a struct app): ROW is the route table's row the
 * request was answered under (-1: answered before routing, e.g. 413, routed
 * again here from METHOD and PATH, which may be NULL). */
void ops_observe(void *appv, int row, unsigned status, const char *method, const char *path,
                 double seconds);

#endif
