/* handlers: the contract's four routes (docs/api.md), each reading like
 * its section there: who is calling, the checks in the original's order,
 * one call to the store, the answer. */
#ifndef GANOMEDE_HANDLERS_H
#define GANOMEDE_HANDLERS_H

#include "app.h"

/* POST .../auth/:authToken/rooms */
void handlers_create_room(struct app *app, const struct http_request *req,
                          const struct route_match *m, struct http_response *resp);

/* GET .../auth/:authToken/rooms/:roomId */
void handlers_get_room(struct app *app, const struct http_request *req,
                       const struct route_match *m, struct http_response *resp);

/* POST .../auth/:authToken/rooms/:roomId/messages */
void handlers_post_message(struct app *app, const struct http_request *req,
                           const struct route_match *m, struct http_response *resp);

/* GET .../auth/:authToken/rooms/:roomId/messages?before=&limit=: the room's
 * history from the record, for members. */
void handlers_history(struct app *app, const struct http_request *req,
                      const struct route_match *m, struct http_response *resp);

/* POST .../auth/:apiSecret/system-messages */
void handlers_system_message(struct app *app, const struct http_request *req,
                             const struct route_match *m, struct http_response *resp);

#endif
