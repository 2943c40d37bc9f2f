/* redis_link: one of the original's Redis links (authdb, usermeta), read
 * with MGET over a small pool of hiredis connections shared by the HTTP
 * worker threads. Every connect and every answer has a deadline; a Redis
 * that failed is not tried again for a moment (requests meanwhile fail at
 * once), so a dead or paused Redis costs 503s, never a pile of threads
 * waiting on it. A failed connection is dropped and opened again by the
 * next request after that moment: the link heals by itself. */
#ifndef GANOMEDE_REDIS_LINK_H
#define GANOMEDE_REDIS_LINK_H

#include <stddef.h>

struct redis_link;

enum redis_result {
    REDIS_OK,
    REDIS_DOWN,   /* no answer (refused, timed out, broken, error reply) */
};

/* A link named NAME ("authdb", for the logs) to HOST:PORT with at most
 * POOL_SIZE connections, each call bounded by TIMEOUT_MS. Connects lazily:
 * never fails but for memory (NULL). */
struct redis_link *redis_link_new(const char *name, const char *host, long port, long timeout_ms,
                                  size_t pool_size);

void redis_link_free(struct redis_link *link);

/* MGET of the N KEYS: VALUES[i] is the string value of KEYS[i] (malloc'd,
 * caller frees) or NULL when the key is missing or holds no string. On
 * REDIS_DOWN every VALUES[i] is NULL and a warning is logged with REQ_ID. */
__attribute__((warn_unused_result))
enum redis_result redis_link_mget(struct redis_link *link, const char *const *keys, size_t n,
                                  char **values, const char *req_id);

/* Frees VALUES[0..N) and sets them NULL. */
void redis_link_values_free(char **values, size_t n);

#endif
