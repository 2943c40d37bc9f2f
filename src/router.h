/* router: turns a method and a raw (still percent-encoded) path into a
 * route and its decoded parameters. Pure: no I/O, no global state. */
#ifndef GANOMEDE_ROUTER_H
#define GANOMEDE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

enum route {
    ROUTE_NONE,            /* unknown path: 404 ResourceNotFound */
    ROUTE_ABOUT,
    ROUTE_PING,
    ROUTE_CREATE_ROOM,
    ROUTE_GET_ROOM,
    ROUTE_POST_MESSAGE,
    ROUTE_SYSTEM_MESSAGE,
    ROUTE_METRICS,         /* Prometheus text */
    ROUTE_HEALTH,          /* for load balancers */
    ROUTE_HISTORY,         /* the record, for members */
    ROUTE_RECORD_SEARCH,   /* moderation, with the API secret */
    ROUTE_RECORD_EXPORT,
    ROUTE_REDACT_MESSAGE,
    ROUTE_REDACT_USER,
    ROUTE_HOLDS,
    ROUTE_HOLD_SET,
    ROUTE_HOLD_LIFT,
    ROUTE_AUDIT,
    ROUTE_MY_ROOMS,        /* the caller's rooms, with unread counts */
    ROUTE_READ_MARKER,
    ROUTE_EVENTS,          /* Server-Sent Events of new messages */
    ROUTE_CONSOLE,         /* the moderation console's page (CONSOLE=on) */
    ROUTE_CONSOLE_FILE,    /* its script and style */
    ROUTE_LAST = ROUTE_CONSOLE_FILE,
};

/* One row of the route table: everything about a route but its handler
 * (app.c binds those). Its log name, metric label, statsd key and 405
 * answers all follow from the row. */
struct route_def {
    enum route route;
    const char *name;      /* logs and metrics: "get_room" */
    const char *pattern;   /* below the prefix, ":name" for a parameter; a
                              leading '/' means from the root ("/about") */
    unsigned methods;      /* ROUTER_GET | ROUTER_HEAD | ROUTER_POST */
};

#define ROUTER_GET 1u
#define ROUTER_HEAD 2u
#define ROUTER_POST 4u

struct route_match {
    enum route route;      /* ROUTE_NONE: unknown path (404) */
    int row;               /* the route table's row, -1 for none */
    bool method_allowed;   /* false: known path, wrong method (405) */
    /* Decoded parameters, owned (router_match_free). NULL when the route has
     * no such parameter, or when its bytes are not clean UTF-8 (a NUL, an
     * invalid sequence): no token or room can have such a name. */
    char *token;           /* :authToken, or the ping's :token */
    char *room_id;         /* :roomId */
    char *subject;         /* :messageId, :username or :holdId */
    bool token_present;    /* the route has the parameter, even if unusable */
    bool room_present;
    bool subject_present;
};

/* Matches METHOD and the raw PATH (no query string) against the route
 * table under PREFIX (e.g. "chat/v1"). The path is split on '/', then each
 * parameter segment is decoded once, so an encoded "%2F" inside a room id
 * never splits it and a room id ending in "/messages" is routed by the
 * number of segments. Returns false only when out of memory. */
__attribute__((warn_unused_result))
bool router_match(const char *method, const char *path, const char *prefix,
                  struct route_match *out);

void router_match_free(struct route_match *m);

/* Row ROW of the route table, or NULL when out of range. Static. */
const struct route_def *router_row(int row);

/* The route's name for logs and metrics ("get_room"...; "not_found" for
 * ROUTE_NONE). Static. */
const char *router_route_name(enum route r);

/* Row ROW's name as restify derived it (method and path pattern without
 * punctuation, e.g. "postchatv1authauthtokenrooms"), for the statsd keys
 * the original service sent; "invalid_route" for no row. Into OUT. */
void router_restify_name(int row, const char *method, const char *prefix, char *out,
                         size_t outlen);

/* A copy of PATH safe to log or echo: the segment after "auth", and any
 * segment containing SECRET (when non-empty), become "[redacted]". Caller
 * frees; NULL when out of memory. */
char *router_redact_path(const char *path, const char *secret);

#endif
