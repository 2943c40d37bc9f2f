/* events: the live routes (docs/api.md, "Live updates"): GET events, a
 * Server-Sent Events stream of the messages of the caller's rooms (or of
 * one room), and long-poll, GET history with ?after= (and ?wait=). */
#ifndef GANOMEDE_EVENTS_H
#define GANOMEDE_EVENTS_H

#include "app.h"

/* GET .../auth/:authToken/events?room=&user= */
void events_stream(struct app *app, const struct http_request *req, const struct route_match *m,
                   struct http_response *resp);

/* GET .../auth/:authToken/rooms/:roomId/messages?after=&wait= */
void events_long_poll(struct app *app, const struct http_request *req,
                      const struct route_match *m, struct http_response *resp);

/* The live hub's live_allowed_fn, APPV a struct app: TOKEN still names a
 * caller, and that caller is not banned. */
bool events_allowed(void *appv, const char *token, const char *user);

#endif
