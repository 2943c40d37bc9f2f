/* watchdog: the slow-client watchdog. Cuts off clients that take too long
 * to send a request. A slow
 * client (one byte a second) keeps resetting libmicrohttpd's idle timeout;
 * the watchdog gives each connection a deadline for its next complete request
 * and shuts the socket down when it passes, so slow clients cannot hold
 * connections or threads. */
#ifndef GANOMEDE_WATCHDOG_H
#define GANOMEDE_WATCHDOG_H

#include <stdbool.h>

struct watchdog;
struct watchdog_conn;

/* Starts the watchdog thread: a connection gets DEADLINE_MS from its start
 * or from its last completed request. NULL when out of memory. */
struct watchdog *watchdog_start(long deadline_ms);

/* Stops the thread and frees every entry. */
void watchdog_stop(struct watchdog *g);

/* Tracks socket FD; NULL when out of memory (the connection is then only
 * under libmicrohttpd's own timeout). */
struct watchdog_conn *watchdog_open(struct watchdog *g, int fd);

/* Forgets C (the connection closed). */
void watchdog_close(struct watchdog *g, struct watchdog_conn *c);

/* A request is being answered: never cut it (statement timeouts bound it). */
void watchdog_set_busy(struct watchdog *g, struct watchdog_conn *c, bool busy);

/* A request completed: the next one has a fresh deadline. */
void watchdog_rearm(struct watchdog *g, struct watchdog_conn *c);

#endif
