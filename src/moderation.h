/* moderation: the record's routes for the API secret (docs/api.md,
 * Moderation): search and export, redaction of one message or of everything
 * one user sent, legal holds, the audit log. Every destructive call names
 * its actor and reason, and is recorded by the store in the same
 * transaction; an export is recorded when it starts. */
#ifndef GANOMEDE_MODERATION_H
#define GANOMEDE_MODERATION_H

#include "app.h"

/* GET .../archive/messages?user=&room=&since=&until=&before=&limit= */
void moderation_search(struct app *app, const struct http_request *req,
                       const struct route_match *m, struct http_response *resp);

/* GET .../archive/export?user=&room=&since=&until=&format=ndjson|csv&actor=&reason=
 * streamed, in batches: the server's memory stays flat whatever the size. */
void moderation_export(struct app *app, const struct http_request *req,
                       const struct route_match *m, struct http_response *resp);

/* POST .../archive/messages/:messageId/redact {actor, reason} */
void moderation_redact_message(struct app *app, const struct http_request *req,
                               const struct route_match *m, struct http_response *resp);

/* POST .../archive/users/:username/redact {actor, reason, since?, erase?} */
void moderation_redact_user(struct app *app, const struct http_request *req,
                            const struct route_match *m, struct http_response *resp);

/* GET .../holds?all=true */
void moderation_holds(struct app *app, const struct http_request *req,
                      const struct route_match *m, struct http_response *resp);

/* POST .../holds {user | room, actor, reason} */
void moderation_hold_set(struct app *app, const struct http_request *req,
                         const struct route_match *m, struct http_response *resp);

/* POST .../holds/:holdId/lift {actor, reason} */
void moderation_hold_lift(struct app *app, const struct http_request *req,
                          const struct route_match *m, struct http_response *resp);

/* GET .../audit?before=&limit= */
void moderation_audit(struct app *app, const struct http_request *req,
                      const struct route_match *m, struct http_response *resp);

#endif
