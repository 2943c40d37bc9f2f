/* recent_writers: FNV-1a of the name picks a slot holding the last write's
 * monotonic time. */
#include "recent_writers.h"

#include "clock.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

struct recent_writers {
    size_t mask;
    _Atomic int64_t *at;   /* ms of CLOCK_MONOTONIC; 0: never */
};

struct recent_writers *recent_writers_new(size_t slots)
{
    size_t n = 1;
    while (n < slots)
        n <<= 1;
    struct recent_writers *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->at = calloc(n, sizeof *w->at);
    if (!w->at) {
        free(w);
        return NULL;
    }
    w->mask = n - 1;
    return w;
}

void recent_writers_free(struct recent_writers *w)
{
    if (!w)
        return;
    free(w->at);
    free(w);
}

static size_t recent_writers_slot(const struct recent_writers *w, const char *user)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)user; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)h & w->mask;
}

void recent_writers_mark(struct recent_writers *w, const char *user)
{
    if (w && user)
        atomic_store(&w->at[recent_writers_slot(w, user)], clock_now_ms());
}

bool recent_writers_wrote_within(struct recent_writers *w, const char *user, long within_ms)
{
    if (!w || !user)
        return false;
    int64_t at = atomic_load(&w->at[recent_writers_slot(w, user)]);
    return at > 0 && clock_now_ms() - at <= within_ms;
}
