/* app: the application behind the HTTP server: the state its routes share,
 * and the dispatch of each request to its route's handler, the one place
 * where the route table's rows (router.c) meet their handlers (the
 * contract's routes in handlers.c, the operations routes in ops.c). */
#ifndef GANOMEDE_APP_H
#define GANOMEDE_APP_H

#include "caller.h"
#include "config.h"
#include "http.h"
#include "room.h"
#include "router.h"

struct live_hub;
struct redis_link;
struct statsd;
struct store;
struct token_cache;

/* The original's Redis links, each NULL when its variables are unset; and
 * the read replica's write marks (NULL without DATABASE_READ_URL). */
struct app_links {
    struct redis_link *authdb;     /* player tokens (caller.c) */
    struct redis_link *usermeta;   /* policies (usermeta.c) */
    struct recent_writers *writers;
    long read_fresh_ms;
    struct rate_limit *limiter;    /* RATE_LIMIT_POSTS_PER_MINUTE; NULL: off */
    struct live_hub *live;         /* waiting clients (GET events, long-poll) */
};

struct app {
    const struct config *cfg;   /* borrowed */
    struct store *store;        /* borrowed */
    struct statsd *statsd;      /* borrowed; NULL: statsd off */
    struct caller_env callers;  /* how tokens are resolved (borrowed parts) */
    struct redis_link *usermeta; /* borrowed; NULL: policies from the table */
    struct recent_writers *writers; /* borrowed; NULL: no read replica */
    struct rate_limit *limiter; /* borrowed; NULL: posts are not limited */
    struct live_hub *live;      /* borrowed: waiting clients */
    long read_fresh_ms;         /* a user who wrote this recently reads from the primary */
    struct room_limits limits;
    char start_date[40];        /* ISO-8601, for /about */
    char hostname[256];
};

/* The handler of one route: fills RESP for REQ, routed as M. */
typedef void app_handler(struct app *app, const struct http_request *req,
                         const struct route_match *m, struct http_response *resp);

/* Fills APP (everything borrowed; TOKENS and SD may be NULL). */
void app_init(struct app *app, const struct config *cfg, struct store *store,
              struct token_cache *tokens, struct statsd *sd, struct app_links links);

/* Parses REQ's body into *BODY (caller puts it; NULL for no body). False,
 * with the answer in RESP, for the problems found before the token is
 * checked, as restify's body parser did: not JSON (400 InvalidContent),
 * JSON sent as a form (400), multipart (415). */
__attribute__((warn_unused_result))
bool app_parse_body(struct app *app, const struct http_request *req, struct json_object **body,
                    struct http_response *resp);

/* The bounds of a page from REQ's query: "before" (a cursor, the "next" of
 * the previous page; *BEFORE 0 when absent) and "limit" (1 to MAX,
 * DEFAULT_LIMIT when absent). False with a 400 answered in RESP. */
__attribute__((warn_unused_result))
bool app_page_query(const struct http_request *req, long max, long default_limit,
                    long long *before, long *limit, struct http_response *resp);

/* The http_handler: routes REQ and fills RESP: 404 for an unknown path,
 * 405 for a known path with another method, else the route's handler.
 * APPV is a struct app. */
void app_dispatch(void *appv, const struct http_request *req, struct http_response *resp);

#endif
