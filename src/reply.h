/* reply: the error answers the routes share, each cause in one place: a
 * store result that is not a success, and a token that is not valid. */
#ifndef GANOMEDE_REPLY_H
#define GANOMEDE_REPLY_H

#include "http.h"
#include "store.h"

/* Fills RESP with the answer for R (404 NotFound, 401 Unauthorized, 403
 * Forbidden, 409 Conflict, 503 ServiceUnavailable; 500 InternalServer for
 * STORE_ERROR and for results that are not failures). */
void reply_store_failure(struct http_response *resp, enum store_result r);

/* 401 {"code":"UnauthorizedError","message":"not authorized"}: the token is
 * invalid, unknown or expired. */
void reply_not_authorized(struct http_response *resp);

/* 503 {"code":"ServiceUnavailable","message":"LINK unavailable, retry
 * later"}: one of the Redis links (authdb, usermeta) does not answer. */
void reply_link_down(struct http_response *resp, const char *link);

#endif
