/* token_cache: a bounded cache of table token -> username, so that a post from
 * a returning user needs no lookup of its own. A cached name is only ever a
 * claim: the statement that writes checks that the token still belongs to
 * that user (chat_post_message's p_token), so a deleted, expired or
 * reassigned token is refused or looked up again on the very next request.
 * Thread-safe. */
#ifndef GANOMEDE_TOKEN_CACHE_H
#define GANOMEDE_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>

/* Longer tokens or names are not cached (they are looked up every time). */
#define TOKEN_CACHE_MAX_TOKEN_BYTES 128
#define TOKEN_CACHE_MAX_USER_BYTES 128

struct token_cache;

/* A cache of about ENTRIES entries (rounded up to a power of two), or NULL
 * when ENTRIES is 0 (caching off) or memory runs out. The other functions
 * accept NULL and then cache nothing. */
struct token_cache *token_cache_new(size_t entries);
void token_cache_free(struct token_cache *c);

/* Copies the name cached for TOKEN into USER (USER_SIZE bytes): true when
 * there is one. */
bool token_cache_get(struct token_cache *c, const char *token, char *user, size_t user_size);

/* Remembers that TOKEN belongs to USER, replacing whatever shared its slot. */
void token_cache_put(struct token_cache *c, const char *token, const char *user);

/* Forgets TOKEN (its owner changed or it is no longer valid). */
void token_cache_forget(struct token_cache *c, const char *token);

#endif
