/* live: the hub of waiting clients. One mutex guards every subscription
 * (the maps, the buffers, the suspended flags): the poller and the timer
 * append and resume under it, libmicrohttpd's threads read under it. A
 * connection is suspended under the same mutex that a resume takes, so a
 * message appended between "nothing to send" and the suspension is never
 * left waiting. */
#include "live.h"

#include "buf.h"
#include "clock.h"
#include "http.h"
#include "live_pos.h"
#include "log.h"
#include "message.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_BUCKETS 4096
#define LIVE_POLL_BATCH 1000
#define LIVE_IDLE_POLL_MS 1000   /* with no one waiting, only the position moves */
#define LIVE_RETRY_MS 1000       /* after a failed poll */
#define LIVE_MIN_GAP_MS 4        /* between two polls while posts come */
#define LIVE_KNOWN_WAIT_MS 3000  /* a stream waits this long for the first poll */
#define LIVE_TICK_MS 250         /* heartbeats, long-poll deadlines, token checks */
#define LIVE_POLL_MAX_MESSAGES 100
#define LIVE_RETRY_FIELD "retry: 3000\n"

struct live_sub {
    struct live_hub *hub;
    uint64_t serial;             /* to find it again after the lock was let go */
    bool is_poll;
    char *owner;                 /* whose streams count against the per-user cap; NULL: the secret */
    char *user;                  /* a stream of every room of this user; NULL otherwise */
    char *room;                  /* a stream or long-poll of this room; NULL otherwise */
    char *token;                 /* checked again every recheck; NULL: never */
    struct live_pos pos;         /* the newest event given to it */
    struct buf out;              /* bytes to send; OUT_SENT of them sent */
    size_t out_sent;
    struct buf held;             /* events that came while resuming */
    bool resuming;
    void *conn;
    bool suspended;
    bool ended;                  /* nothing more will be added */
    bool failed;                 /* cut the connection (dropped) */
    int64_t last_append_ms;
    int64_t next_check_ms;
    /* long-poll */
    long long after;
    int64_t deadline_ms;
    struct json_object *found;   /* history-shaped messages, oldest first */
    bool ready;
    char *body;
    size_t body_len, body_sent;
    /* links */
    struct live_sub *next_owner; /* chain of the owner (or user) bucket */
    struct live_sub *next_room;  /* chain of the room bucket */
    struct live_sub *prev, *next; /* every subscription */
};

struct live_hub {
    struct live_settings s;
    struct db_pool *pool;        /* the poller's connection */
    pthread_mutex_t lock;
    pthread_cond_t wake;         /* the poller's */
    pthread_cond_t tick;         /* the timer's */
    pthread_cond_t known;        /* the first poll has set POS */
    pthread_t poller, timer;
    bool poller_started, timer_started;
    bool stopping;
    bool kicked;
    struct live_pos pos;
    bool pos_known;              /* a first poll has set POS */
    uint64_t serial;
    long waiting;
    struct live_sub *all;
    struct live_sub *by_owner[LIVE_BUCKETS];
    struct live_sub *by_room[LIVE_BUCKETS];
};

/* One message read by a poll, ready to hand out. */
struct live_event {
    struct live_pos pos;
    char *room;
    struct json_object *users;   /* array of names */
    char *frame;                 /* the SSE block */
    size_t frame_len;
    char *history;               /* the message as history shows it */
};

/* ------------------------------------------------------------ positions */

long live_waiting(struct live_hub *hub)
{
    if (!hub)
        return 0;
    pthread_mutex_lock(&hub->lock);
    long n = hub->waiting;
    pthread_mutex_unlock(&hub->lock);
    return n;
}

/* ------------------------------------------------------------- the maps */

static size_t live_bucket(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % LIVE_BUCKETS);
}

/* Links SUB into the maps (hub locked). */
static void live_link(struct live_hub *hub, struct live_sub *sub)
{
    sub->serial = ++hub->serial;
    sub->next = hub->all;
    if (hub->all)
        hub->all->prev = sub;
    hub->all = sub;
    const char *key = sub->user ? sub->user : sub->owner;
    if (key) {
        size_t b = live_bucket(key);
        sub->next_owner = hub->by_owner[b];
        hub->by_owner[b] = sub;
    }
    if (sub->room) {
        size_t b = live_bucket(sub->room);
        sub->next_room = hub->by_room[b];
        hub->by_room[b] = sub;
    }
    hub->waiting++;
}

static void live_unchain(struct live_sub **head, struct live_sub *sub, bool room_chain)
{
    for (struct live_sub **p = head; *p; p = room_chain ? &(*p)->next_room : &(*p)->next_owner) {
        if (*p == sub) {
            *p = room_chain ? sub->next_room : sub->next_owner;
            return;
        }
    }
}

static void live_unlink(struct live_hub *hub, struct live_sub *sub)
{
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        hub->all = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    const char *key = sub->user ? sub->user : sub->owner;
    if (key)
        live_unchain(&hub->by_owner[live_bucket(key)], sub, false);
    if (sub->room)
        live_unchain(&hub->by_room[live_bucket(sub->room)], sub, true);
    hub->waiting--;
}

/* The streams OWNER has open (hub locked). */
static long live_owner_streams(struct live_hub *hub, const char *owner)
{
    long n = 0;
    for (struct live_sub *s = hub->by_owner[live_bucket(owner)]; s; s = s->next_owner) {
        if (!s->is_poll && s->owner && strcmp(s->owner, owner) == 0)
            n++;
    }
    return n;
}

/* ------------------------------------------------- giving to subscribers */

/* Resumes SUB's connection if it waits (hub locked). */
static void live_wake(struct live_sub *sub)
{
    if (sub->suspended && sub->conn) {
        sub->suspended = false;
        http_connection_resume(sub->conn);
    }
}

/* SUB gets nothing more; FAILED cuts its connection (hub locked). */
static void live_end(struct live_sub *sub, bool failed)
{
    sub->ended = true;
    sub->failed = sub->failed || failed;
    live_wake(sub);
}

/* Appends LEN bytes to SUB's stream; a reader too far behind is dropped
 * (hub locked). */
static void live_append(struct live_sub *sub, const char *bytes, size_t len)
{
    if (sub->ended)
        return;
    struct buf *b = sub->resuming ? &sub->held : &sub->out;
    if (!buf_append(b, bytes, len)) {
        log_warn("live: a stream's reader is %zu bytes behind: dropped (it may resume)", b->len);
        live_end(sub, true);
        return;
    }
    sub->last_append_ms = clock_now_ms();
    if (!sub->resuming)
        live_wake(sub);
}

/* The block "event: end" with REASON, then the end of SUB (hub locked). */
static void live_end_with(struct live_sub *sub, const char *reason)
{
    if (sub->is_poll) {
        sub->ready = true;
        live_end(sub, false);
        return;
    }
    struct json_object *data = json_object_new_object();
    json_object_object_add(data, "reason", json_object_new_string(reason));
    const char *text = json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN);
    char *frame = NULL;
    int n = asprintf(&frame, "event: end\ndata: %s\n\n", text);
    json_object_put(data);
    if (n > 0)   /* after what is held for a resuming stream, with it */
        live_append(sub, frame, (size_t)n);
    free(frame);
    live_end(sub, false);
}

static void live_give_poll(struct live_sub *sub, const struct live_event *ev)
{
    if (sub->ended || ev->pos.id <= sub->after || !ev->history)
        return;
    if (!sub->found)
        sub->found = json_object_new_array();
    if (json_object_array_length(sub->found) < LIVE_POLL_MAX_MESSAGES)
        json_object_array_add(sub->found, json_tokener_parse(ev->history));
    sub->ready = true;
    live_wake(sub);
}

static void live_give(struct live_sub *sub, const struct live_event *ev)
{
    if (sub->is_poll) {
        live_give_poll(sub, ev);
        return;
    }
    if (sub->ended || live_pos_cmp(ev->pos, sub->pos) <= 0)
        return;
    sub->pos = ev->pos;
    live_append(sub, ev->frame, ev->frame_len);
}

/* Hands EV to every subscription that wants it (hub locked). */
static void live_dispatch(struct live_hub *hub, const struct live_event *ev)
{
    size_t n = ev->users ? json_object_array_length(ev->users) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *u = json_object_get_string(json_object_array_get_idx(ev->users, i));
        if (!u)
            continue;
        for (struct live_sub *s = hub->by_owner[live_bucket(u)]; s; s = s->next_owner)
            if (s->user && strcmp(s->user, u) == 0)
                live_give(s, ev);
    }
    for (struct live_sub *s = hub->by_room[live_bucket(ev->room)]; s; s = s->next_room)
        if (s->room && strcmp(s->room, ev->room) == 0)
            live_give(s, ev);
}

/* ------------------------------------------------------------- events */

/* Columns of live_poll.sql and live_resume.sql after their first. */
enum live_column { LC_XID = 1, LC_ID, LC_ROOM, LC_JSON, LC_TS, LC_TS_IS_STRING, LC_SENDER,
                   LC_TYPE, LC_MESSAGE, LC_USERS };

/* The message of ROW as the API shows it: its stored JSON, or its columns
 * for a message stored before migration 0004. */
static struct json_object *live_message(PGresult *res, int row)
{
    if (!PQgetisnull(res, row, LC_JSON))
        return json_tokener_parse(PQgetvalue(res, row, LC_JSON));
    return message_json(PQgetvalue(res, row, LC_TS), PQgetvalue(res, row, LC_TS_IS_STRING)[0] == 't',
                        PQgetvalue(res, row, LC_SENDER), PQgetvalue(res, row, LC_TYPE),
                        PQgetvalue(res, row, LC_MESSAGE));
}

static void live_event_free(struct live_event *ev)
{
    free(ev->room);
    json_object_put(ev->users);
    free(ev->frame);
    free(ev->history);
}

/* EV from ROW of a poll or resume (USERS_COL: the column of the room's
 * users, -1 for none); false without memory or for a bad row. */
static bool live_event_from(PGresult *res, int row, int users_col, struct live_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (!live_xid_parse(PQgetvalue(res, row, LC_XID), &ev->pos.xid))
        return false;
    ev->pos.id = strtoll(PQgetvalue(res, row, LC_ID), NULL, 10);
    struct json_object *msg = live_message(res, row);
    if (!msg)
        return false;
    ev->room = strdup(PQgetvalue(res, row, LC_ROOM));
    if (users_col >= 0 && !PQgetisnull(res, row, users_col))
        ev->users = json_tokener_parse(PQgetvalue(res, row, users_col));
    /* {"roomId", "id", then the message's own fields}: the SSE data. */
    struct json_object *data = json_object_new_object();
    json_object_object_add(data, "roomId", json_object_new_string(ev->room ? ev->room : ""));
    json_object_object_add(data, "id", json_object_new_int64(ev->pos.id));
    struct json_object *hist = json_object_new_object();
    json_object_object_add(hist, "id", json_object_new_int64(ev->pos.id));
    json_object_object_foreach(msg, key, val) {
        json_object_object_add(data, key, json_object_get(val));
        json_object_object_add(hist, key, json_object_get(val));
    }
    char id[48];
    live_pos_format(ev->pos, id, sizeof id);
    int n = asprintf(&ev->frame, "id: %s\nevent: message\ndata: %s\n\n", id,
                     json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
    const char *h = json_object_to_json_string_ext(hist, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    ev->history = h ? strdup(h) : NULL;
    json_object_put(data);
    json_object_put(hist);
    json_object_put(msg);
    if (n < 0) {
        ev->frame = NULL;
        live_event_free(ev);
        return false;
    }
    ev->frame_len = (size_t)n;
    if (!ev->room || !ev->history) {
        live_event_free(ev);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ the poller */

/* One poll from the hub's position; false when the database failed. Sets
 * *FULL when a whole batch came (poll again at once). */
static bool live_poll_once(struct live_hub *hub, bool *full)
{
    *full = false;
    pthread_mutex_lock(&hub->lock);
    struct live_pos from = hub->pos;
    bool listening = hub->waiting > 0 && hub->pos_known;
    pthread_mutex_unlock(&hub->lock);
    char xid[24], id[24], batch[16];
    snprintf(xid, sizeof xid, "%" PRIu64, from.xid);
    snprintf(id, sizeof id, "%" PRId64, from.id);
    snprintf(batch, sizeof batch, "%d", LIVE_POLL_BATCH);
    PGresult *res = NULL;
    /* With no one waiting, only the horizon: no table is read (or locked). */
    bool polled = listening
                  ? db_exec(hub->pool, DB_CALL(SQL_LIVE_POLL, xid, id, batch), true, &res,
                            NULL) == DB_OK &&
                        db_result_shape(res, SQL_LIVE_POLL, LC_USERS + 1, 1, -1, NULL)
                  : db_exec(hub->pool, DB_CALL0(SQL_LIVE_HORIZON), true, &res, NULL) == DB_OK &&
                        db_result_shape(res, SQL_LIVE_HORIZON, 1, 1, 1, NULL);
    if (!polled) {
        PQclear(res);
        return false;
    }
    uint64_t horizon = 0;
    (void)live_xid_parse(PQgetvalue(res, 0, 0), &horizon);
    int rows = !listening || PQgetisnull(res, 0, LC_XID) ? 0 : PQntuples(res);
    struct live_event *evs = rows ? calloc((size_t)rows, sizeof *evs) : NULL;
    if (rows && !evs) {   /* no memory: poll again later, from the same place */
        PQclear(res);
        return false;
    }
    int ok = 0;
    for (int i = 0; i < rows && evs; i++)
        if (live_event_from(res, i, LC_USERS, &evs[ok]))
            ok++;
    PQclear(res);
    pthread_mutex_lock(&hub->lock);
    for (int i = 0; i < ok; i++) {
        live_dispatch(hub, &evs[i]);
        if (live_pos_cmp(evs[i].pos, hub->pos) > 0)
            hub->pos = evs[i].pos;
    }
    struct live_pos top = { horizon, 0 };
    if (rows < LIVE_POLL_BATCH && live_pos_cmp(top, hub->pos) > 0)
        hub->pos = top;
    hub->pos_known = true;
    pthread_cond_broadcast(&hub->known);
    pthread_mutex_unlock(&hub->lock);
    for (int i = 0; i < ok; i++)
        live_event_free(&evs[i]);
    free(evs);
    *full = rows >= LIVE_POLL_BATCH;
    return true;
}

/* Waits until kicked, stopping, or MS passed (hub locked). */
static void live_wait(struct live_hub *hub, pthread_cond_t *cond, long ms, bool *flag)
{
    struct timespec deadline = clock_deadline(ms);
    while (!hub->stopping && !(flag && *flag) &&
           pthread_cond_timedwait(cond, &hub->lock, &deadline) != ETIMEDOUT) {
    }
}

static void *live_poller_main(void *arg)
{
    struct live_hub *hub = arg;
    bool failing = false;
    pthread_mutex_lock(&hub->lock);
    while (!hub->stopping) {
        hub->kicked = false;
        pthread_mutex_unlock(&hub->lock);
        bool full = false;
        bool ok = live_poll_once(hub, &full);
        if (!ok && !failing)
            log_warn("live: polling for new messages failed; retrying every %d ms", LIVE_RETRY_MS);
        else if (ok && failing)
            log_info("live: polling for new messages again");
        failing = !ok;
        pthread_mutex_lock(&hub->lock);
        if (full)
            continue;
        /* Posts that come close together share one poll: at most one
         * every LIVE_MIN_GAP_MS, however many kicks. */
        if (ok && hub->waiting > 0)
            live_wait(hub, &hub->wake, LIVE_MIN_GAP_MS, NULL);
        long ms = !ok ? LIVE_RETRY_MS : hub->waiting > 0 ? hub->s.poll_ms : LIVE_IDLE_POLL_MS;
        live_wait(hub, &hub->wake, ms, ok ? &hub->kicked : NULL);
    }
    pthread_mutex_unlock(&hub->lock);
    return NULL;
}

void live_kick(struct live_hub *hub)
{
    if (!hub)
        return;
    pthread_mutex_lock(&hub->lock);
    if (hub->waiting > 0 && !hub->kicked) {
        hub->kicked = true;
        pthread_cond_signal(&hub->wake);
    }
    pthread_mutex_unlock(&hub->lock);
}

/* ------------------------------------------------------------- the timer */

/* A stream whose token is to be checked, copied out of the lock. */
struct live_check {
    uint64_t serial;
    char *token;
    char *user;
};

static void live_heartbeat(struct live_sub *sub, int64_t now, long every_ms)
{
    if (sub->is_poll) {
        if (now >= sub->deadline_ms) {
            sub->ready = true;
            live_wake(sub);
        }
        return;
    }
    if (now - sub->last_append_ms >= every_ms)
        live_append(sub, ": heartbeat\n\n", 13);
}

/* Heartbeats and deadlines for everyone; the tokens due for a check into
 * *CHECKS (hub locked). */
static size_t live_timer_pass(struct live_hub *hub, struct live_check **checks)
{
    int64_t now = clock_now_ms();
    size_t n = 0, cap = 0;
    *checks = NULL;
    for (struct live_sub *s = hub->all; s; s = s->next) {
        if (s->ended)
            continue;
        live_heartbeat(s, now, hub->s.heartbeat_seconds * 1000);
        if (!s->token || !hub->s.allowed || now < s->next_check_ms)
            continue;
        s->next_check_ms = now + hub->s.recheck_seconds * 1000;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct live_check *more = realloc(*checks, ncap * sizeof *more);
            if (!more)
                break;
            *checks = more;
            cap = ncap;
        }
        (*checks)[n] = (struct live_check){ s->serial, strdup(s->token), strdup(s->owner) };
        n++;
    }
    return n;
}

/* Ends the stream of SERIAL, if it is still there (hub locked). */
static void live_end_serial(struct live_hub *hub, uint64_t serial, const char *reason)
{
    for (struct live_sub *s = hub->all; s; s = s->next)
        if (s->serial == serial) {
            live_end_with(s, reason);
            return;
        }
}

static void live_run_checks(struct live_hub *hub, struct live_check *checks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool ok = !checks[i].token || !checks[i].user ||
                  hub->s.allowed(hub->s.allowed_cls, checks[i].token, checks[i].user);
        if (!ok) {
            pthread_mutex_lock(&hub->lock);
            live_end_serial(hub, checks[i].serial, "the token is no longer valid, or the user is banned");
            pthread_mutex_unlock(&hub->lock);
        }
        free(checks[i].token);
        free(checks[i].user);
    }
    free(checks);
}

static void *live_timer_main(void *arg)
{
    struct live_hub *hub = arg;
    pthread_mutex_lock(&hub->lock);
    while (!hub->stopping) {
        struct live_check *checks = NULL;
        size_t n = live_timer_pass(hub, &checks);
        pthread_mutex_unlock(&hub->lock);
        live_run_checks(hub, checks, n);
        pthread_mutex_lock(&hub->lock);
        live_wait(hub, &hub->tick, LIVE_TICK_MS, NULL);
    }
    pthread_mutex_unlock(&hub->lock);
    return NULL;
}

/* ------------------------------------------------------- subscriptions */

static struct live_sub *live_sub_new(struct live_hub *hub, const char *owner, const char *user,
                                     const char *room, const char *token)
{
    struct live_sub *sub = calloc(1, sizeof *sub);
    if (!sub)
        return NULL;
    sub->hub = hub;
    sub->owner = owner ? strdup(owner) : NULL;
    sub->user = user ? strdup(user) : NULL;
    sub->room = room ? strdup(room) : NULL;
    sub->token = token ? strdup(token) : NULL;
    buf_init(&sub->out, (size_t)hub->s.buffer_bytes);
    buf_init(&sub->held, (size_t)hub->s.buffer_bytes);
    sub->last_append_ms = clock_now_ms();
    sub->next_check_ms = sub->last_append_ms + hub->s.recheck_seconds * 1000;
    if ((owner && !sub->owner) || (user && !sub->user) || (room && !sub->room) ||
        (token && !sub->token)) {
        live_sub_release(sub);
        return NULL;
    }
    return sub;
}

/* Admits SUB (hub locked): false with *WHY past a cap. */
static bool live_admit(struct live_hub *hub, struct live_sub *sub, enum live_refusal *why)
{
    if (hub->stopping || hub->waiting >= hub->s.max_waiting) {
        *why = LIVE_SERVER_FULL;
        return false;
    }
    if (!sub->is_poll && sub->owner &&
        live_owner_streams(hub, sub->owner) >= hub->s.max_streams_per_user) {
        *why = LIVE_USER_FULL;
        return false;
    }
    *why = LIVE_ADMITTED;
    live_link(hub, sub);
    return true;
}

/* The frames of what a resuming stream missed, from FROM to TO, into SUB's
 * output (hub unlocked: only SUB's creator touches OUT while resuming).
 * False when the database failed. */
static bool live_resume(struct live_hub *hub, struct live_sub *sub, struct live_pos from,
                        struct live_pos to, const char *req_id)
{
    char fx[24], fi[24], tx[24], ti[24], limit[24];
    snprintf(fx, sizeof fx, "%" PRIu64, from.xid);
    snprintf(fi, sizeof fi, "%" PRId64, from.id);
    snprintf(tx, sizeof tx, "%" PRIu64, to.xid);
    snprintf(ti, sizeof ti, "%" PRId64, to.id);
    snprintf(limit, sizeof limit, "%ld", hub->s.resume_max + 1);
    PGresult *res = NULL;
    if (db_exec(hub->s.pool, DB_CALL(SQL_LIVE_RESUME, sub->user, sub->room, fx, fi, tx, ti, limit),
                true, &res, req_id) != DB_OK)
        return false;
    if (!db_result_shape(res, SQL_LIVE_RESUME, LC_MESSAGE + 1, 1, -1, req_id)) {
        PQclear(res);
        return false;
    }
    bool gap = PQgetvalue(res, 0, 0)[0] == 't';
    int rows = PQgetisnull(res, 0, LC_XID) ? 0 : PQntuples(res);
    bool ok = true;
    if (gap || rows > hub->s.resume_max) {
        char id[48], *frame = NULL;
        live_pos_format(to, id, sizeof id);
        int n = asprintf(&frame, "id: %s\nevent: reset\ndata: {\"reason\":\"%s\"}\n\n", id,
                         gap ? "messages missed since Last-Event-ID were trimmed: reload the rooms"
                             : "too many messages missed since Last-Event-ID: reload the rooms");
        ok = n > 0 && buf_append(&sub->out, frame, (size_t)n);
        free(frame);
    } else {
        for (int i = 0; i < rows && ok; i++) {
            struct live_event ev;
            if (!live_event_from(res, i, -1, &ev))
                continue;
            ok = buf_append(&sub->out, ev.frame, ev.frame_len);
            live_event_free(&ev);
        }
    }
    PQclear(res);
    if (!ok)
        log_warn("live: what a stream missed does not fit its buffer: it gets a reset");
    return true;
}

/* Ends SUB's resumption: what came meanwhile follows what it missed. */
static void live_resumed(struct live_hub *hub, struct live_sub *sub)
{
    pthread_mutex_lock(&hub->lock);
    sub->resuming = false;
    if (sub->held.len && !buf_append(&sub->out, sub->held.data, sub->held.len)) {
        log_warn("live: a resumed stream's reader is too far behind: dropped (it may resume)");
        live_end(sub, true);
    }
    buf_free(&sub->held);
    live_wake(sub);
    pthread_mutex_unlock(&hub->lock);
}

/* Waits (hub locked) for the first poll to set the position, at most
 * LIVE_KNOWN_WAIT_MS: a stream must start from a position, or what is
 * posted before the first poll would be skipped. */
static bool live_position_known(struct live_hub *hub)
{
    struct timespec deadline = clock_deadline(LIVE_KNOWN_WAIT_MS);
    while (!hub->pos_known && !hub->stopping &&
           pthread_cond_timedwait(&hub->known, &hub->lock, &deadline) != ETIMEDOUT) {
    }
    return hub->pos_known;
}

struct live_sub *live_stream_open(struct live_hub *hub, const char *user, const char *room,
                                  const char *token, const struct live_pos *from,
                                  enum live_refusal *why, const char *req_id)
{
    *why = LIVE_ADMITTED;
    struct live_sub *sub = live_sub_new(hub, token ? user : NULL, room ? NULL : user, room, token);
    if (!sub)
        return NULL;
    pthread_mutex_lock(&hub->lock);
    if (!live_position_known(hub)) {
        pthread_mutex_unlock(&hub->lock);
        *why = LIVE_UNAVAILABLE;
        live_sub_release(sub);
        return NULL;
    }
    struct live_pos now = hub->pos;
    struct live_pos start = from ? *from : now;
    bool resume = from && live_pos_cmp(*from, now) < 0;
    sub->pos = resume ? now : start;
    sub->resuming = resume;
    char id[48], first[96];
    live_pos_format(start, id, sizeof id);
    int n = snprintf(first, sizeof first, LIVE_RETRY_FIELD "id: %s\n\n", id);
    bool ok = buf_append(&sub->out, first, (size_t)n) && live_admit(hub, sub, why);
    if (ok) {
        hub->kicked = true;   /* poll now: it has a listener */
        pthread_cond_signal(&hub->wake);
    }
    pthread_mutex_unlock(&hub->lock);
    if (!ok) {
        live_sub_release(sub);
        return NULL;
    }
    if (resume && !live_resume(hub, sub, start, now, req_id)) {
        *why = LIVE_UNAVAILABLE;
        live_sub_release(sub);
        return NULL;
    }
    live_resumed(hub, sub);
    return sub;
}

struct live_sub *live_poll_open(struct live_hub *hub, const char *room, long long after,
                                long wait_seconds, enum live_refusal *why)
{
    *why = LIVE_ADMITTED;
    struct live_sub *sub = live_sub_new(hub, NULL, NULL, room, NULL);
    if (!sub)
        return NULL;
    sub->is_poll = true;
    sub->after = after;
    sub->deadline_ms = clock_now_ms() + wait_seconds * 1000;
    pthread_mutex_lock(&hub->lock);
    bool known = live_position_known(hub);
    if (!known)
        *why = LIVE_UNAVAILABLE;
    bool ok = known && live_admit(hub, sub, why);
    if (ok) {
        hub->kicked = true;
        pthread_cond_signal(&hub->wake);
    }
    pthread_mutex_unlock(&hub->lock);
    if (!ok) {
        live_sub_release(sub);
        return NULL;
    }
    return sub;
}

void live_sub_bind(void *subv, void *conn)
{
    struct live_sub *sub = subv;
    pthread_mutex_lock(&sub->hub->lock);
    sub->conn = conn;
    pthread_mutex_unlock(&sub->hub->lock);
}

/* The long-poll's answer: {"messages": newest first, "next": the newest
 * id (the next "after"), or "after" when nothing came} (hub locked). */
static void live_poll_body(struct live_sub *sub)
{
    struct json_object *answer = json_object_new_object();
    struct json_object *messages = json_object_new_array();
    long long next = sub->after;
    size_t n = sub->found ? json_object_array_length(sub->found) : 0;
    for (size_t i = n; i-- > 0;) {
        struct json_object *m = json_object_array_get_idx(sub->found, i);
        struct json_object *id = NULL;
        if (json_object_object_get_ex(m, "id", &id) && json_object_get_int64(id) > next)
            next = json_object_get_int64(id);
        json_object_array_add(messages, json_object_get(m));
    }
    char next_text[24];
    snprintf(next_text, sizeof next_text, "%lld", next);
    json_object_object_add(answer, "messages", messages);
    json_object_object_add(answer, "next", json_object_new_string(next_text));
    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        answer, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    sub->body = text ? strndup(text, len) : NULL;
    sub->body_len = sub->body ? len : 0;
    json_object_put(answer);
    if (!sub->body)
        sub->failed = true;
}

/* Copies what is ready of SUB into BUF (hub locked): bytes, 0 for none
 * yet, or an HTTP_STREAM_* end. */
static long live_take(struct live_sub *sub, char *buf, size_t max)
{
    if (sub->failed)
        return HTTP_STREAM_FAILED;
    if (sub->is_poll) {
        if (!sub->body && sub->ready)
            live_poll_body(sub);
        if (sub->failed)
            return HTTP_STREAM_FAILED;
        if (!sub->body)
            return 0;
        size_t n = sub->body_len - sub->body_sent < max ? sub->body_len - sub->body_sent : max;
        memcpy(buf, sub->body + sub->body_sent, n);
        sub->body_sent += n;
        return n ? (long)n : HTTP_STREAM_END;
    }
    if (sub->out_sent < sub->out.len) {
        size_t n = sub->out.len - sub->out_sent < max ? sub->out.len - sub->out_sent : max;
        memcpy(buf, sub->out.data + sub->out_sent, n);
        sub->out_sent += n;
        if (sub->out_sent == sub->out.len) {
            sub->out_sent = 0;
            sub->out.len = 0;
            if (sub->out.cap > 4096)   /* an idle stream keeps no big buffer */
                buf_free(&sub->out);
        }
        return (long)n;
    }
    return sub->ended ? HTTP_STREAM_END : 0;
}

long live_sub_read(void *subv, char *buf, size_t max)
{
    struct live_sub *sub = subv;
    pthread_mutex_lock(&sub->hub->lock);
    long n = live_take(sub, buf, max);
    if (n == 0 && sub->conn) {
        /* Nothing yet: park the connection until live_wake. */
        sub->suspended = true;
        http_connection_suspend(sub->conn);
    }
    pthread_mutex_unlock(&sub->hub->lock);
    return n;
}

void live_sub_release(void *subv)
{
    struct live_sub *sub = subv;
    if (!sub)
        return;
    struct live_hub *hub = sub->hub;
    pthread_mutex_lock(&hub->lock);
    if (sub->serial)
        live_unlink(hub, sub);
    pthread_mutex_unlock(&hub->lock);
    buf_free(&sub->out);
    buf_free(&sub->held);
    json_object_put(sub->found);
    free(sub->body);
    free(sub->owner);
    free(sub->user);
    free(sub->room);
    free(sub->token);
    free(sub);
}

/* --------------------------------------------------------- start, stop */

struct live_hub *live_start(const struct live_settings *s)
{
    struct live_hub *hub = calloc(1, sizeof *hub);
    if (!hub)
        return NULL;
    hub->s = *s;
    struct db_settings ds = s->db;
    ds.size = 1;
    hub->pool = db_pool_new(&ds);
    pthread_mutex_init(&hub->lock, NULL);
    clock_cond_init(&hub->wake);
    clock_cond_init(&hub->tick);
    clock_cond_init(&hub->known);
    hub->poller_started = hub->pool &&
                          pthread_create(&hub->poller, NULL, live_poller_main, hub) == 0;
    hub->timer_started = hub->poller_started &&
                         pthread_create(&hub->timer, NULL, live_timer_main, hub) == 0;
    if (!hub->timer_started) {
        log_error("live: cannot start its threads");
        live_stop(hub);
        return NULL;
    }
    return hub;
}

void live_close_all(struct live_hub *hub)
{
    if (!hub)
        return;
    pthread_mutex_lock(&hub->lock);
    hub->stopping = true;
    for (struct live_sub *s = hub->all; s; s = s->next)
        live_end_with(s, "the server is stopping: reconnect");
    pthread_cond_broadcast(&hub->wake);
    pthread_cond_broadcast(&hub->tick);
    pthread_mutex_unlock(&hub->lock);
}

void live_stop(struct live_hub *hub)
{
    if (!hub)
        return;
    live_close_all(hub);
    if (hub->poller_started)
        pthread_join(hub->poller, NULL);
    if (hub->timer_started)
        pthread_join(hub->timer, NULL);
    /* Subscriptions still linked belong to connections the HTTP server
     * frees (live_sub_release) when it stops: the hub must outlive it. */
    db_pool_free(hub->pool);
    pthread_cond_destroy(&hub->wake);
    pthread_cond_destroy(&hub->tick);
    pthread_cond_destroy(&hub->known);
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}
