/* rate_limit: a per-user limit on posts (RATE_LIMIT_POSTS_PER_MINUTE with a
 * burst of RATE_LIMIT_BURST), a token bucket per user kept by this server
 * alone: with several copies behind a load balancer each keeps its own, so
 * a user may post up to that many times the rate (docs/operations.md). A
 * fixed table of buckets by hash of the name; two users who share a slot
 * share a bucket (stricter for both, never looser) until it is idle and
 * full again. Thread-safe (a lock per stripe of slots). */
#ifndef GANOMEDE_RATE_LIMIT_H
#define GANOMEDE_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>

struct rate_limit;

/* NULL when PER_MINUTE is 0 (no limit) or without memory. */
struct rate_limit *rate_limit_new(long per_minute, long burst, size_t slots);
void rate_limit_free(struct rate_limit *rl);

/* Takes one post from USER's bucket: true when allowed. False with
 * *RETRY_AFTER_S, the whole seconds until the next post is allowed (at
 * least 1). RL NULL: always true. */
bool rate_limit_take(struct rate_limit *rl, const char *user, long *retry_after_s);

#endif
