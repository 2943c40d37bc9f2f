/* token_cache: a direct-mapped table (a token's hash picks its one slot; a new
 * token evicts the old one) with a lock per stripe of slots. Eviction by
 * collision is fine for a cache whose miss costs one query; the hash is
 * seeded at random so that nobody can aim tokens at one slot. */
#include "token_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_CACHE_STRIPES 64

struct token_slot {
    uint64_t hash;   /* 0: empty */
    char token[TOKEN_CACHE_MAX_TOKEN_BYTES + 1];
    char user[TOKEN_CACHE_MAX_USER_BYTES + 1];
};

struct token_cache {
    struct token_slot *slots;
    size_t mask;
    uint64_t seed;
    pthread_mutex_t locks[TOKEN_CACHE_STRIPES];
};

static uint64_t token_cache_hash(const struct token_cache *c, const char *token, size_t len);
static struct token_slot *token_cache_lock(struct token_cache *c, const char *token, uint64_t *hash);
static void token_cache_unlock(struct token_cache *c, uint64_t hash);

struct token_cache *token_cache_new(size_t entries)
{
    if (entries == 0)
        return NULL;
    size_t n = 1;
    while (n < entries && n < ((size_t)1 << 30))
        n <<= 1;
    struct token_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->slots = calloc(n, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    /* Touched now, so the process holds its whole size from the start
     * rather than growing by a page now and then as users arrive. */
    memset(c->slots, 0, n * sizeof *c->slots);
    c->mask = n - 1;
    if (getrandom(&c->seed, sizeof c->seed, 0) != (ssize_t)sizeof c->seed)
        c->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    for (size_t i = 0; i < TOKEN_CACHE_STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    return c;
}

void token_cache_free(struct token_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < TOKEN_CACHE_STRIPES; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c->slots);
    free(c);
}

/* FNV-1a over the seed and the token; never 0 (0 marks an empty slot). */
static uint64_t token_cache_hash(const struct token_cache *c, const char *token, size_t len)
{
    uint64_t h = 14695981039346656037u ^ c->seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)token[i];
        h *= 1099511628211u;
    }
    return h ? h : 1;
}

/* The slot of TOKEN, its stripe locked; NULL (nothing locked) when the
 * cache is off or the token too long to cache. */
static struct token_slot *token_cache_lock(struct token_cache *c, const char *token, uint64_t *hash)
{
    size_t len = c && token ? strlen(token) : 0;
    if (len == 0 || len > TOKEN_CACHE_MAX_TOKEN_BYTES)
        return NULL;
    *hash = token_cache_hash(c, token, len);
    /* The stripe follows from the slot, so one slot always has one lock. */
    pthread_mutex_lock(&c->locks[(*hash & c->mask) % TOKEN_CACHE_STRIPES]);
    return &c->slots[*hash & c->mask];
}

static void token_cache_unlock(struct token_cache *c, uint64_t hash)
{
    pthread_mutex_unlock(&c->locks[(hash & c->mask) % TOKEN_CACHE_STRIPES]);
}

bool token_cache_get(struct token_cache *c, const char *token, char *user, size_t user_size)
{
    uint64_t hash = 0;
    struct token_slot *s = token_cache_lock(c, token, &hash);
    if (!s)
        return false;
    bool found = s->hash == hash && strcmp(s->token, token) == 0 && strlen(s->user) < user_size;
    if (found)
        strcpy(user, s->user);
    token_cache_unlock(c, hash);
    return found;
}

void token_cache_put(struct token_cache *c, const char *token, const char *user)
{
    if (!user || strlen(user) > TOKEN_CACHE_MAX_USER_BYTES)
        return;
    uint64_t hash = 0;
    struct token_slot *s = token_cache_lock(c, token, &hash);
    if (!s)
        return;
    s->hash = hash;
    strcpy(s->token, token);
    strcpy(s->user, user);
    token_cache_unlock(c, hash);
}

void token_cache_forget(struct token_cache *c, const char *token)
{
    uint64_t hash = 0;
    struct token_slot *s = token_cache_lock(c, token, &hash);
    if (!s)
        return;
    if (s->hash == hash && strcmp(s->token, token) == 0)
        s->hash = 0;
    token_cache_unlock(c, hash);
}
