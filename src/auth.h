/* auth: what a token is, before any database lookup. Token order: the API
 * secret, then "API_SECRET.username", then the auth_tokens table. */
#ifndef GANOMEDE_AUTH_H
#define GANOMEDE_AUTH_H

#include <stddef.h>

enum auth_kind {
    AUTH_INVALID,   /* refuse with 401 UnauthorizedError */
    AUTH_SECRET,    /* the API secret: every room, sender "$$" */
    AUTH_USER,      /* "SECRET.name": authenticated as name */
    AUTH_LOOKUP,    /* look the token up in auth_tokens */
};

/* Classifies TOKEN (may be NULL: invalid) against SECRET ("" when unset:
 * then only table tokens exist). For AUTH_USER, *USERNAME points into TOKEN
 * (borrowed). Secrets are compared in constant time. */
enum auth_kind auth_classify(const char *token, const char *secret, const char **username);

#endif
