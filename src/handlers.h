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

/* The end of a read that only a room's members (or the secret) may see:
 * R, the store's answer, fails the request; the token's user (*FOUND,
 * taken) is remembered when TOKEN was looked up by the read; a caller not
 * in USERS gets 401. True when the read may be answered. */
bool handlers_member_of(struct app *app, struct caller *who, const char *token,
                        enum store_result r, char **found, struct json_object *users,
                        struct http_response *resp);

/* POST .../auth/:apiSecret/system-messages */
void handlers_system_message(struct app *app, const struct http_request *req,
                             const struct route_match *m, struct http_response *resp);

#endif
