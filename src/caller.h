/* caller: who is calling, from the token in the path. Token order: the API
 * secret, "SECRET.name", then a player token: read from the authdb Redis
 * when that link is set (as the original), else a table token, looked up
 * in auth_tokens or, for a write, guessed from the token cache and checked
 * by the write's own statement (caller_write owns that retry). Answers 401
 * or 503 itself when the caller cannot be known. */
#ifndef GANOMEDE_CALLER_H
#define GANOMEDE_CALLER_H

#include <stdbool.h>

#include "auth.h"
#include "http.h"
#include "redis_link.h"
#include "store.h"
#include "token_cache.h"

/* What resolving a token needs; all borrowed. */
struct caller_env {
    const char *api_secret;     /* "" when unset */
    struct store *store;
    struct token_cache *cache;  /* NULL: no cache */
    struct redis_link *authdb;  /* NULL: player tokens are table tokens */
};

struct caller {
    enum auth_kind kind;   /* AUTH_SECRET or AUTH_USER once known; AUTH_LOOKUP
                              for a table token not looked up (yet) */
    const char *username;  /* "$$" for the secret; NULL while unknown */
    const char *token;     /* the token itself (borrowed from the request) */
    bool guessed;          /* USERNAME is the cache's guess: a statement that
                              writes must check TOKEN (store_post_message) */
    char *owned;           /* a looked-up name, freed by caller_free */
    char cached[TOKEN_CACHE_MAX_USER_BYTES + 1];
};

/* Classifies TOKEN (may be NULL) without a database query: false, with 401
 * answered in RESP, when it cannot be valid. With the authdb link a player
 * token is read there (401 when unknown, 503 when Redis does not answer);
 * without it a table token is left AUTH_LOOKUP. */
__attribute__((warn_unused_result))
bool caller_classify(const struct caller_env *env, const char *token, struct caller *who,
                     struct http_response *resp, const char *req_id);

/* caller_classify, then a table token looked up (and its user remembered
 * in the cache): false with 401 or 503 answered when that fails. */
__attribute__((warn_unused_result))
bool caller_resolve(const struct caller_env *env, const char *token, struct caller *who,
                    struct http_response *resp, const char *req_id);

/* A statement that looked the table token up itself (get_room) found its
 * user NAME: the caller is now that user, NAME taken over (freed with WHO),
 * and remembered in the cache. */
void caller_learned(const struct caller_env *env, struct caller *who, char *name);

/* A write run as WHO; returns the store's result. */
typedef enum store_result caller_write_fn(void *cls, const struct caller *who);

/* Runs WRITE as the caller of TOKEN, in one round trip for a returning
 * user: a table token whose user the cache remembers is not looked up;
 * WRITE gets that user as a guess (who->guessed) and passes the token to
 * its statement, which checks it first. When that check fails
 * (STORE_BAD_TOKEN: token gone, expired or given to someone else) the token
 * is forgotten, looked up, and WRITE runs again with the real user. True
 * with WRITE's result in *R; false, with 401 or 503 answered in RESP, when
 * the caller cannot be known. */
__attribute__((warn_unused_result))
bool caller_write(const struct caller_env *env, const char *token, struct caller *who,
                  caller_write_fn *write, void *cls, enum store_result *r,
                  struct http_response *resp, const char *req_id);

void caller_free(struct caller *who);

#endif
