/* outbox: the dispatcher thread that delivers the notifications queued in
 * notification_outbox to the ganomede notifications service, with libcurl's
 * multi interface. Chat requests never wait for it. */
#ifndef GANOMEDE_OUTBOX_H
#define GANOMEDE_OUTBOX_H

#include <stdbool.h>

#include "db.h"

struct outbox;

struct outbox_settings {
    struct db_settings db;         /* for its own connection (LISTEN and queries) */
    const char *url;               /* POST target: <base>/notifications/v1/messages */
    const char *api_secret;        /* added to every notification body */
    long timeout_ms;               /* per delivery */
    long concurrency;              /* deliveries in flight */
    long max_attempts;
    long backoff_base_ms;
    long backoff_max_ms;
};

/* Starts the dispatcher. S's strings are borrowed and must outlive it.
 * Returns NULL when the thread or libcurl cannot start (logged). A
 * PostgreSQL that is down is no failure: the dispatcher reconnects. */
struct outbox *outbox_start(const struct outbox_settings *s);

/* Stops claiming, gives deliveries under way a moment to finish, frees OB.
 * Deliveries still unfinished are retried later (their lease expires). */
void outbox_stop(struct outbox *ob);

/* Wakes the dispatcher at once: this server just queued notifications
 * (cheaper than the NOTIFY that wakes the other servers). OB may be NULL. */
void outbox_wake(struct outbox *ob);

/* The delay before attempt ATTEMPTS + 1, after ATTEMPTS failed ones:
 * base * 2^(attempts-1), capped; without jitter (the caller adds it). */
long outbox_backoff_ms(long attempts, long base_ms, long max_ms);

#endif
