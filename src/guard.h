/* guard: cuts off clients that take too long to send a request. A slow
 * client (one byte a second) keeps resetting libmicrohttpd's idle timeout;
 * the guard gives each connection a deadline for its next complete request
 * and shuts the socket down when it passes, so slow clients cannot hold
 * connections or threads. */
#ifndef GANOMEDE_GUARD_H
#define GANOMEDE_GUARD_H

#include <stdbool.h>

struct guard;
struct guard_conn;

/* Starts the watchdog thread: a connection gets DEADLINE_MS from its start
 * or from its last completed request. NULL when out of memory. */
struct guard *guard_start(long deadline_ms);

/* Stops the thread and frees every entry. */
void guard_stop(struct guard *g);

/* Tracks socket FD; NULL when out of memory (the connection is then only
 * under libmicrohttpd's own timeout). */
struct guard_conn *guard_open(struct guard *g, int fd);

/* Forgets C (the connection closed). */
void guard_close(struct guard *g, struct guard_conn *c);

/* A request is being answered: never cut it (statement timeouts bound it). */
void guard_set_busy(struct guard *g, struct guard_conn *c, bool busy);

/* A request completed: the next one has a fresh deadline. */
void guard_rearm(struct guard *g, struct guard_conn *c);

#endif
