/* live: new messages pushed to waiting clients (GET events as Server-Sent
 * Events, long-poll on GET history), from any server copy.
 *
 * One poller thread per server reads the messages committed since its
 * position, in (transaction id, message id) order, up to the horizon: the
 * oldest transaction still running anywhere (sql/live_poll.sql). Below it
 * no transaction can still commit, so a position (xid, id) is a cursor
 * with no gap and no repeat, the same on every copy: it is the SSE event
 * id. Posts through this server wake the poller at once; posts through
 * other copies are seen at its next poll (LIVE_POLL_MS).
 *
 * A waiting client costs no thread: its connection is suspended
 * (http_connection_suspend) while its buffer is empty, and resumed when
 * the poller or the timer thread (heartbeats, long-poll deadlines, token
 * re-checks) gives it something. */
#ifndef GANOMEDE_LIVE_H
#define GANOMEDE_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "live_pos.h"

struct live_hub;
struct live_sub;

/* Says whether the stream of TOKEN, for USER, may go on (the token still
 * valid, the user not banned). Runs on the timer thread; a dependency that
 * does not answer must answer true (the stream is checked again later). */
typedef bool live_allowed_fn(void *cls, const char *token, const char *user);

struct live_settings {
    struct db_settings db;        /* the poller's own connection */
    struct db_pool *pool;         /* borrowed: the requests' (resumes read there) */
    long poll_ms;                 /* longest time between two polls */
    long heartbeat_seconds;       /* an idle stream gets a comment this often */
    long recheck_seconds;         /* each stream's token is checked this often */
    long max_waiting;             /* streams and long-polls on this server */
    long max_streams_per_user;
    long buffer_bytes;            /* a stream further behind is dropped */
    long resume_max;              /* events sent on resume before a reset */
    live_allowed_fn *allowed;
    void *allowed_cls;
};

/* Starts the poller and timer threads. NULL when they cannot start
 * (logged). A PostgreSQL that is down is no failure: the poller retries. */
struct live_hub *live_start(const struct live_settings *s);

/* Ends every stream and long-poll (each answered or closed at once), then
 * stops the threads. Call before the HTTP server stops. */
void live_close_all(struct live_hub *hub);
void live_stop(struct live_hub *hub);

/* A post through this server committed: poll now. HUB may be NULL. */
void live_kick(struct live_hub *hub);

enum live_refusal {
    LIVE_ADMITTED,
    LIVE_SERVER_FULL,   /* max_waiting reached: 503 */
    LIVE_USER_FULL,     /* max_streams_per_user reached: 429 */
    LIVE_UNAVAILABLE,   /* what was missed cannot be read now: 503 */
};

/* A stream of the messages of every room USER is in (ROOM NULL), or of
 * room ROOM, for the caller of TOKEN (checked again every recheck_seconds;
 * NULL: never, the API secret). Events after FROM (NULL: from now) are
 * sent; the missed ones are read from the database first (live_resume).
 * Returns NULL with *WHY when refused or out of memory (LIVE_ADMITTED).
 * USER is the stream's owner for the per-user cap when TOKEN is set. */
struct live_sub *live_stream_open(struct live_hub *hub, const char *user, const char *room,
                                  const char *token, const struct live_pos *from,
                                  enum live_refusal *why, const char *req_id);

/* A long-poll of ROOM waiting for a message newer than message id AFTER,
 * for at most WAIT_SECONDS. Register before reading what is already there,
 * so nothing committed in between is missed; drop it (live_sub_release)
 * when that read answers. */
struct live_sub *live_poll_open(struct live_hub *hub, const char *room, long long after,
                                long wait_seconds, enum live_refusal *why);

/* The connection of SUB's answer (the http_response's stream_bind). */
void live_sub_bind(void *sub, void *conn);

/* The http_stream_fn of a stream or long-poll: SSE frames, or the
 * long-poll's JSON once it is ready; 0 (suspended) while there is none. */
long live_sub_read(void *sub, char *buf, size_t max);

/* Unregisters and frees SUB (the answer is done or was never sent). */
void live_sub_release(void *sub);

/* How many clients wait now (metrics). */
long live_waiting(struct live_hub *hub);

#endif
