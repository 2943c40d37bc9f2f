/* expiry: deletes expired rooms with their users and messages, in bounded
 * batches, at most one runner at a time across all servers. */
#ifndef GANOMEDE_EXPIRY_H
#define GANOMEDE_EXPIRY_H

#include <stdbool.h>

struct store;
struct expiry_job;

/* Runs the job once on ST (store_expire_rooms: one connection of its pool
 * holds the lock for the run). Returns the number of rooms deleted, 0 when
 * another server holds the lock, or -1 (logged) on a database failure. */
long expiry_run_once(struct store *st, long batch_size);

/* Starts a thread running the job every INTERVAL_SECONDS on ST (a store of
 * its own, see expiry_run_once). Returns NULL when the thread cannot start. */
struct expiry_job *expiry_start(struct store *st, long interval_seconds, long batch_size);

/* Wakes the thread, waits for the batch under way to finish, frees JOB. */
void expiry_stop(struct expiry_job *job);

#endif
