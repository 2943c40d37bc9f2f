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

/* How long the rows this server queues stay its own (outbox_hand_over):
 * past the delivery timeout, with a margin. */
long outbox_lease_ms(const struct outbox_settings *s);

/* A notification this server's post just queued, leased to it (a
 * store_queued_fn, OBV the outbox; may be NULL): delivered from memory,
 * with no query to claim it. Never blocks on the delivery. */
void outbox_hand_over(void *obv, const char *id, const char *to_user, const char *type,
                      const char *data, const char *push);

#endif
