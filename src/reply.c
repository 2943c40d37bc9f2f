/* reply: the contract's error bodies (docs/api.md, Errors). */
#include "reply.h"

#include <stdio.h>

void reply_store_failure(struct http_response *resp, enum store_result r)
{
    switch (r) {
    case STORE_NOT_FOUND:
        http_response_error(resp, 404, "NotFound", "");
        return;
    case STORE_NOT_MEMBER:
        http_response_error(resp, 401, "Unauthorized", "");
        return;
    case STORE_BANNED:
    case STORE_CHAT_DISABLED:
        http_response_error(resp, 403, "Forbidden", "");
        return;
    case STORE_BAD_TOKEN:
        reply_not_authorized(resp);
        return;
    case STORE_CONFLICT:
        /* Says nothing of the stored room: not its type, not its users. */
        http_response_error(resp, 409, "Conflict",
                            "another room has this id: a room is its type and its users, "
                            "and a live room of this id has another type or other users");
        return;
    case STORE_HELD:
        http_response_error(resp, 409, "Conflict",
                            "a legal hold covers some of these messages: their content cannot "
                            "be erased until the hold is lifted");
        return;
    case STORE_UNAVAILABLE:
        http_response_error(resp, 503, "ServiceUnavailable", "database unavailable, retry later");
        return;
    case STORE_POLICIES_DOWN:
        reply_link_down(resp, "usermeta");
        return;
    case STORE_KEY_MISMATCH:
        http_response_error(resp, 422, "UnprocessableEntity",
                            "this Idempotency-Key was used with another request body: use a "
                            "new key for a new request");
        return;
    case STORE_RATE_LIMITED:
        http_response_error(resp, 429, "TooManyRequests",
                            "too many messages: wait for Retry-After seconds");
        return;
    case STORE_OK:
    case STORE_VALID:
    case STORE_MUTED:
    case STORE_DUPLICATE:
    case STORE_ERROR:
        break;
    }
    http_response_error(resp, 500, "InternalServer", "");
}

void reply_link_down(struct http_response *resp, const char *link)
{
    char msg[96];
    snprintf(msg, sizeof msg, "%s unavailable, retry later", link);
    http_response_error(resp, 503, "ServiceUnavailable", msg);
}

void reply_not_authorized(struct http_response *resp)
{
    http_response_error(resp, 401, "UnauthorizedError", "not authorized");
}
