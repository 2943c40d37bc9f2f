/* rate_limit: buckets refilled lazily from CLOCK_MONOTONIC at each take. */
#include "rate_limit.h"

#include "clock.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define RATE_LIMIT_STRIPES 64

struct rate_bucket {
    uint64_t hash;      /* whose bucket (0: nobody's yet) */
    double tokens;
    int64_t at_ms;      /* when TOKENS was last brought up to date */
};

struct rate_limit {
    double per_ms;      /* tokens gained per millisecond */
    double burst;
    size_t mask;
    struct rate_bucket *buckets;
    pthread_mutex_t locks[RATE_LIMIT_STRIPES];
};

struct rate_limit *rate_limit_new(long per_minute, long burst, size_t slots)
{
    if (per_minute <= 0)
        return NULL;
    size_t n = 1;
    while (n < slots)
        n <<= 1;
    struct rate_limit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->buckets = calloc(n, sizeof *rl->buckets);
    if (!rl->buckets) {
        free(rl);
        return NULL;
    }
    rl->mask = n - 1;
    rl->per_ms = (double)per_minute / 60000.0;
    rl->burst = (double)(burst > 0 ? burst : 1);
    for (int i = 0; i < RATE_LIMIT_STRIPES; i++)
        pthread_mutex_init(&rl->locks[i], NULL);
    return rl;
}

void rate_limit_free(struct rate_limit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < RATE_LIMIT_STRIPES; i++)
        pthread_mutex_destroy(&rl->locks[i]);
    free(rl->buckets);
    free(rl);
}

static uint64_t rate_limit_hash(const char *user)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)user; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ? h : 1;
}

/* Whole seconds covering WAIT_MS, at least 1 (Retry-After is in seconds). */
static long rate_limit_seconds_until(double wait_ms)
{
    double s = wait_ms / 1000.0;
    long whole = (long)s;
    if ((double)whole < s)
        whole++;
    return whole < 1 ? 1 : whole;
}

bool rate_limit_take(struct rate_limit *rl, const char *user, long *retry_after_s)
{
    *retry_after_s = 0;
    if (!rl || !user)
        return true;
    uint64_t h = rate_limit_hash(user);
    size_t slot = (size_t)h & rl->mask;
    pthread_mutex_t *lock = &rl->locks[slot % RATE_LIMIT_STRIPES];
    int64_t now = clock_now_ms();
    pthread_mutex_lock(lock);
    struct rate_bucket *b = &rl->buckets[slot];
    double tokens = b->hash ? b->tokens + (double)(now - b->at_ms) * rl->per_ms : rl->burst;
    if (tokens > rl->burst)
        tokens = rl->burst;
    /* Another user's bucket: taken over once it is full again (that user
     * is idle), shared (stricter for both) until then. */
    if (b->hash != h && tokens >= rl->burst)
        b->hash = h;
    bool allowed = tokens >= 1.0;
    if (allowed)
        tokens -= 1.0;
    else
        *retry_after_s = rate_limit_seconds_until((1.0 - tokens) / rl->per_ms);
    b->tokens = tokens;
    b->at_ms = now;
    if (!b->hash)
        b->hash = h;
    pthread_mutex_unlock(lock);
    return allowed;
}
