/* handlers: one function per route, reading like the contract in docs/api.md: authenticate,
 * check, call the store, answer. */
#ifndef GANOMEDE_HANDLERS_H
#define GANOMEDE_HANDLERS_H

#include "config.h"
#include "http.h"
#include "room.h"
#include "store.h"

struct statsd;
struct token_cache;

struct handlers_app {
    const struct config *cfg;   /* borrowed */
    struct store *store;        /* borrowed */
    struct statsd *statsd;      /* borrowed; NULL: statsd off */
    struct token_cache *tokens; /* borrowed; NULL: no token cache */
    struct room_limits limits;
    char start_date[40];        /* ISO-8601, for /about */
    char hostname[256];
};

/* Fills APP's start date and hostname. */
void handlers_app_init(struct handlers_app *app, const struct config *cfg, struct store *store);

/* The http_handler: routes REQ and fills RESP. APP is a handlers_app. */
void handlers_dispatch(void *app, const struct http_request *req, struct http_response *resp);

/* The http_observer: counts the request in the metrics and in statsd. */
void handlers_observe(void *app, int route_id, unsigned status, const char *method,
                      const char *path, double seconds);

#endif
