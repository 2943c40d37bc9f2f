/* inbox: the routes a client's room list needs beyond the original's:
 * GET rooms (my rooms with their newest message and unread count) and
 * POST rooms/:roomId/read (a read marker). docs/api.md. */
#ifndef GANOMEDE_INBOX_H
#define GANOMEDE_INBOX_H

#include "app.h"

void inbox_my_rooms(struct app *app, const struct http_request *req,
                    const struct route_match *m, struct http_response *resp);
void inbox_mark_read(struct app *app, const struct http_request *req,
                     const struct route_match *m, struct http_response *resp);

#endif
