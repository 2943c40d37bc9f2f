/* replica: whether the read replica (DATABASE_READ_URL) may serve reads
 * now. A thread asks it once a second how far its replay is behind: when
 * it answers within REPLICA_MAX_LAG_MS, reads may go there; when it is
 * down, or lagging past the bound, reads go to the primary until it
 * catches up. Transitions are logged. */
#ifndef GANOMEDE_REPLICA_H
#define GANOMEDE_REPLICA_H

#include <stdbool.h>

#include "db.h"

struct replica_monitor;

/* Starts watching the replica of S (its URL; one connection of its own)
 * with the lag bound MAX_LAG_MS. NULL when the thread cannot start. */
struct replica_monitor *replica_monitor_start(const struct db_settings *s, long max_lag_ms);

/* True while the last check found the replica up and within the bound.
 * M may be NULL (no replica: false). */
bool replica_usable(const struct replica_monitor *m);

void replica_monitor_stop(struct replica_monitor *m);

#endif
