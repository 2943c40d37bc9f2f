/* recent_writers: which users wrote through this server lately, so that
 * their next reads go to the primary rather than a replica that may not
 * have replayed their write yet (read-your-writes with DATABASE_READ_URL).
 * A fixed array of times indexed by a hash of the name: a slot two users
 * share answers for both, so a collision only sends a read to the primary
 * that could have gone to the replica, never the other way. Lock-free. */
#ifndef GANOMEDE_RECENT_WRITERS_H
#define GANOMEDE_RECENT_WRITERS_H

#include <stdbool.h>
#include <stddef.h>

struct recent_writers;

/* NULL without memory; SLOTS is rounded up to a power of two. */
struct recent_writers *recent_writers_new(size_t slots);
void recent_writers_free(struct recent_writers *w);

/* USER wrote now. W may be NULL (no replica: nothing to remember). */
void recent_writers_mark(struct recent_writers *w, const char *user);

/* True when USER (may be NULL) may have written within the last WITHIN_MS. */
bool recent_writers_wrote_within(struct recent_writers *w, const char *user, long within_ms);

#endif
