/* outbox: delivery of the transactional outbox.
 *
 * One thread, one PostgreSQL connection that LISTENs on chat_outbox, one
 * libcurl multi handle. The thread sleeps in curl_multi_poll on the
 * transfers and the LISTEN socket together, with a timeout that ends when
 * the next retry is due, so an idle server sends one query a minute (a
 * sweep for leases a crashed peer left).
 *
 * The notifications of this server's own posts are queued in PostgreSQL
 * already leased to it and handed over in memory (outbox_hand_over): no
 * query at all until the batched DELETE of the delivered ones. Everything
 * else (retries, rows whose server died, rows queued with no lease and a
 * NOTIFY, such as re-queued failures) is claimed with SKIP LOCKED and
 * leased, so several servers share the outbox without sending a
 * notification twice in the normal case; a server killed mid-delivery
 * leaves leases that expire, and the rows are sent again. */
#include "outbox.h"

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "text.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* How long a claimed row stays invisible to other dispatchers beyond the
 * delivery timeout. */
#define OUTBOX_LEASE_MARGIN_MS 5000
#define OUTBOX_RECONNECT_MIN_MS 1000
#define OUTBOX_RECONNECT_MAX_MS 30000
/* An idle dispatcher still looks once a minute, for rows whose lease a
 * crashed peer left behind (nobody NOTIFYs for those). */
#define OUTBOX_IDLE_WAIT_MS 60000
#define OUTBOX_STOP_GRACE_MS 3000
/* The dispatcher's queries are short; past this PostgreSQL is not answering. */
#define OUTBOX_QUERY_DEADLINE_MS 10000
/* Handed-over notifications waiting for a free delivery slot. Past this,
 * more are left to their lease's end and claimed then. */
#define OUTBOX_HANDOVER_MAX 8192
/* Delivered rows are deleted together, at most this long after the first
 * of them: one statement for many deliveries rather than one each. A crash
 * meanwhile only means those few are sent again (at least once). */
#define OUTBOX_FLUSH_MS 20
#define OUTBOX_FLUSH_BYTES 65536

/* Columns of outbox_claim.sql. */
enum outbox_claim_column { OC_ID, OC_TO_USER, OC_TYPE, OC_DATA, OC_PUSH, OC_ATTEMPTS, OC_COLUMNS };

/* A notification of this server's own post, leased to it until LEASE_END_MS
 * (monotonic). */
struct handover {
    char id[24];
    char *body;
    int64_t lease_end_ms;
};

/* One delivery slot. Its easy handle lives as long as the dispatcher:
 * set up once, then only the body changes from one notification to the
 * next (an init and cleanup per notification measured as a fifth of the
 * dispatcher's CPU). */
struct delivery {
    CURL *easy;          /* NULL until the slot is first used */
    bool busy;           /* in the multi handle */
    char id[24];
    long attempts;
    char *body;
    char error[CURL_ERROR_SIZE];
};

struct outbox {
    struct outbox_settings s;
    pthread_t thread;
    atomic_bool stopping;
    CURLM *multi;
    struct curl_slist *headers;
    PGconn *pg;
    long in_flight;
    struct delivery *slots;    /* s.concurrency entries; in flight when busy */
    atomic_bool wake_sent;     /* a hand-over woke the thread, which has not looked yet */
    bool more_due;         /* the last claim was full: claim again soon */
    int64_t due_at_ms;     /* monotonic time of the next due row; <0 none */
    int64_t reconnect_ms;  /* wait before the next connection attempt */
    int64_t next_connect_ms; /* no attempt before this time, however often a
                                post wakes the thread (a failover must not
                                turn every post into a connect storm) */
    int64_t last_claim_ms;
    struct buf delivered;  /* "{id,id,...": deleted in one statement per OUTBOX_FLUSH_MS */
    int64_t delivered_since_ms;    /* when the first of them was delivered; <0 none */
    pthread_mutex_t handover_mu;   /* guards the ring below and handover_lease_end_ms */
    struct handover *handovers;    /* ring of OUTBOX_HANDOVER_MAX */
    size_t handover_head, handover_len;
    int64_t handover_dropped_ms;   /* lease end of the last one not taken; <0 none */
};

static bool outbox_connect(struct outbox *ob);
static void outbox_disconnect(struct outbox *ob);
static PGresult *outbox_query(struct outbox *ob, struct db_call call);
static long outbox_backoff_ms(long attempts, long base_ms, long max_ms);
static bool outbox_drain_notifies(struct outbox *ob);
static char *outbox_body(struct outbox *ob, const char *to, const char *type, const char *data,
                         const char *push);
static void outbox_claim(struct outbox *ob);
static void outbox_refresh_due(struct outbox *ob);
static void outbox_start_delivery(struct outbox *ob, const char *id, long attempts, char *body);
static void outbox_start_claimed(struct outbox *ob, PGresult *res, int row);
static void outbox_take_handovers(struct outbox *ob);
static bool outbox_handovers_waiting(struct outbox *ob);
static void outbox_finish(struct outbox *ob, CURL *easy, CURLcode code);
static void outbox_collect(struct outbox *ob);
static void outbox_flush_delivered(struct outbox *ob, bool now);
static CURL *outbox_easy(struct outbox *ob, struct delivery *d);
static void outbox_release(struct outbox *ob, struct delivery *d);
static size_t outbox_discard(char *data, size_t size, size_t n, void *ud);
static void *outbox_main(void *arg);

/* The delay before attempt ATTEMPTS + 1, after ATTEMPTS failed ones:
 * base * 2^(attempts-1), capped; without jitter (the caller adds it). */
static long outbox_backoff_ms(long attempts, long base_ms, long max_ms)
{
    long delay = base_ms;
    for (long i = 1; i < attempts && delay < max_ms; i++)
        delay *= 2;
    return delay < max_ms ? delay : max_ms;
}

static bool outbox_connect(struct outbox *ob)
{
    ob->pg = db_connect(&ob->s.db);
    if (!ob->pg)
        return false;
    /* A lost DELETE only means a notification sent twice after a crash (at
     * least once, as the lease gives anyway): no need to wait for fsync. */
    PGresult *r = PQexec(ob->pg, "LISTEN chat_outbox; SET synchronous_commit = off");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && db_prepare_all(ob->pg);
    PQclear(r);
    if (!ok) {
        log_warn("outbox: cannot LISTEN or prepare; retrying");
        outbox_disconnect(ob);
        return false;
    }
    /* Rows may have been queued while we were away. */
    ob->more_due = true;
    return true;
}

/* Drops the connection; the next one is not tried for reconnect_ms (a
 * connection that fails as soon as it is used, an old primary turned
 * standby, is tried once a second at most). */
static void outbox_disconnect(struct outbox *ob)
{
    if (ob->pg)
        PQfinish(ob->pg);
    ob->pg = NULL;
    ob->next_connect_ms = clock_now_ms() + ob->reconnect_ms;
}

/* Runs a prepared query; NULL (connection dropped, logged) on failure. */
static PGresult *outbox_query(struct outbox *ob, struct db_call call)
{
    if (!ob->pg)
        return NULL;
    bool gave_up = false;
    PGresult *r = db_run(ob->pg, call, OUTBOX_QUERY_DEADLINE_MS, &ob->stopping, &gave_up);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    char msg[256];
    log_warn("outbox: query %s failed: %s", db_statement_name(call.id),
             text_first_line(PQresultErrorMessage(r), msg, sizeof msg));
    PQclear(r);
    outbox_disconnect(ob);
    return NULL;
}

/* True when a NOTIFY arrived. Drops the connection when it broke. */
static bool outbox_drain_notifies(struct outbox *ob)
{
    if (!ob->pg)
        return false;
    if (!PQconsumeInput(ob->pg)) {
        log_warn("outbox: lost the PostgreSQL connection");
        outbox_disconnect(ob);
        return false;
    }
    bool woke = false;
    PGnotify *n;
    while ((n = PQnotifies(ob->pg)) != NULL) {
        woke = true;
        PQfreemem(n);
    }
    return woke;
}

/* The notification as the notifications service takes it. */
static char *outbox_body(struct outbox *ob, const char *to, const char *type, const char *data,
                         const char *push)
{
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "from", json_object_new_string("chat/v1"));
    json_object_object_add(body, "to", json_object_new_string(to));
    json_object_object_add(body, "type", json_object_new_string(type));
    json_object_object_add(body, "secret", json_object_new_string(ob->s.api_secret));
    json_object_object_add(body, "data", json_tokener_parse(data));
    if (push)
        json_object_object_add(body, "push", json_tokener_parse(push));
    const char *text = json_object_to_json_string_ext(
        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = text ? strdup(text) : NULL;   /* NULL: out of memory, sent later */
    json_object_put(body);
    return copy;
}

static size_t outbox_discard(char *data, size_t size, size_t n, void *ud)
{
    (void)data;
    (void)ud;
    return size * n;
}

/* The slot's easy handle, set up on first use; NULL without memory. */
static CURL *outbox_easy(struct outbox *ob, struct delivery *d)
{
    if (d->easy)
        return d->easy;
    CURL *easy = curl_easy_init();
    if (!easy)
        return NULL;
    curl_easy_setopt(easy, CURLOPT_URL, ob->s.url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, ob->headers);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ob->s.timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, ob->s.timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, outbox_discard);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, d->error);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, d);
    d->easy = easy;
    return easy;
}

/* Starts sending BODY (taken over: freed here on failure) for row ID, its
 * ATTEMPTS-th attempt. With no free slot or no memory the body is dropped:
 * the row's lease ends and it is claimed again. */
static void outbox_start_delivery(struct outbox *ob, const char *id, long attempts, char *body)
{
    long slot = 0;
    while (slot < ob->s.concurrency && ob->slots[slot].busy)
        slot++;
    struct delivery *d = slot < ob->s.concurrency && body ? &ob->slots[slot] : NULL;
    CURL *easy = d ? outbox_easy(ob, d) : NULL;
    if (!easy) {
        free(body);
        return;
    }
    d->body = body;
    d->attempts = attempts;
    d->error[0] = '\0';
    snprintf(d->id, sizeof d->id, "%s", id);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, d->body);
    if (curl_multi_add_handle(ob->multi, easy) != CURLM_OK) {
        free(body);
        d->body = NULL;
        return;
    }
    d->busy = true;
    ob->in_flight++;
    metrics_set_outbox_in_flight(ob->in_flight);
}

/* Row ROW of outbox_claim's answer. */
static void outbox_start_claimed(struct outbox *ob, PGresult *res, int row)
{
    char *body = outbox_body(ob, PQgetvalue(res, row, OC_TO_USER), PQgetvalue(res, row, OC_TYPE),
                             PQgetvalue(res, row, OC_DATA),
                             PQgetisnull(res, row, OC_PUSH) ? NULL : PQgetvalue(res, row, OC_PUSH));
    outbox_start_delivery(ob, PQgetvalue(res, row, OC_ID),
                          strtol(PQgetvalue(res, row, OC_ATTEMPTS), NULL, 10), body);
}

static bool outbox_handovers_waiting(struct outbox *ob)
{
    pthread_mutex_lock(&ob->handover_mu);
    bool waiting = ob->handover_len > 0;
    pthread_mutex_unlock(&ob->handover_mu);
    return waiting;
}

/* Starts the handed-over notifications while slots are free. One whose
 * lease would end before its delivery could time out is left to the claim
 * at that lease's end, so that no other server sends it at the same time. */
static void outbox_take_handovers(struct outbox *ob)
{
    pthread_mutex_lock(&ob->handover_mu);
    int64_t now = clock_now_ms();
    while (ob->handover_len > 0 && ob->in_flight < ob->s.concurrency) {
        struct handover h = ob->handovers[ob->handover_head];
        ob->handover_head = (ob->handover_head + 1) % OUTBOX_HANDOVER_MAX;
        ob->handover_len--;
        if (now + ob->s.timeout_ms < h.lease_end_ms) {
            outbox_start_delivery(ob, h.id, 1, h.body);
        } else {
            free(h.body);
            ob->handover_dropped_ms = h.lease_end_ms;
        }
    }
    int64_t dropped = ob->handover_dropped_ms;
    ob->handover_dropped_ms = -1;
    pthread_mutex_unlock(&ob->handover_mu);
    if (dropped >= 0 && (ob->due_at_ms < 0 || dropped < ob->due_at_ms))
        ob->due_at_ms = dropped;
}

static void outbox_release(struct outbox *ob, struct delivery *d)
{
    curl_multi_remove_handle(ob->multi, d->easy);
    d->busy = false;
    ob->in_flight--;
    metrics_set_outbox_in_flight(ob->in_flight);
    free(d->body);
    d->body = NULL;
}

static void outbox_claim(struct outbox *ob)
{
    long want = ob->s.concurrency - ob->in_flight;
    if (want <= 0 || !ob->pg)
        return;
    char limit[24], lease[24];
    snprintf(limit, sizeof limit, "%ld", want);
    snprintf(lease, sizeof lease, "%ld", ob->s.timeout_ms + OUTBOX_LEASE_MARGIN_MS);
    ob->last_claim_ms = clock_now_ms();
    PGresult *res = outbox_query(ob, DB_CALL(SQL_OUTBOX_CLAIM, limit, lease));
    if (!res)
        return;
    int n = db_result_shape(res, SQL_OUTBOX_CLAIM, OC_COLUMNS, 0, -1, NULL) ? PQntuples(res) : 0;
    for (int i = 0; i < n; i++)
        outbox_start_claimed(ob, res, i);
    PQclear(res);
    ob->more_due = n == want;
    if (!ob->more_due)
        outbox_refresh_due(ob);
}

/* Sets when the next row falls due (a retry, or a lease that expires). */
static void outbox_refresh_due(struct outbox *ob)
{
    PGresult *res = outbox_query(ob, DB_CALL0(SQL_OUTBOX_NEXT_DUE));
    ob->due_at_ms = -1;
    if (!res)
        return;
    if (db_result_shape(res, SQL_OUTBOX_NEXT_DUE, 1, 1, 1, NULL) && !PQgetisnull(res, 0, 0)) {
        long long in_ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        ob->due_at_ms = clock_now_ms() + (in_ms > 0 ? in_ms : 0);
    }
    PQclear(res);
}

static void outbox_finish(struct outbox *ob, CURL *easy, CURLcode code)
{
    struct delivery *d = NULL;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&d);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_OK && status >= 200 && status < 300) {
        /* If the list cannot grow (out of memory), the row's lease expires
         * and it is sent again: at least once, as after a crash. */
        if (ob->delivered.len == 0)
            ob->delivered_since_ms = clock_now_ms();
        bool listed = buf_append(&ob->delivered, ob->delivered.len ? "," : "{", 1) &&
                      buf_append(&ob->delivered, d->id, strlen(d->id));
        if (!listed)
            log_warn("outbox: notification %s delivered but not recorded; it will be sent again",
                     d->id);
        metrics_count_delivered();
    } else {
        char error[CURL_ERROR_SIZE + 64];
        if (code != CURLE_OK)
            snprintf(error, sizeof error, "%s", d->error[0] ? d->error : curl_easy_strerror(code));
        else
            snprintf(error, sizeof error, "HTTP %ld", status);
        bool give_up = d->attempts >= ob->s.max_attempts;
        long delay = outbox_backoff_ms(d->attempts, ob->s.backoff_base_ms, ob->s.backoff_max_ms);
        uint16_t jitter = 0;
        if (getrandom(&jitter, sizeof jitter, 0) == (ssize_t)sizeof jitter)
            delay += (long)(jitter % (delay / 10 + 1));
        if (delay > ob->s.backoff_max_ms)
            delay = ob->s.backoff_max_ms;
        char delay_text[24];
        snprintf(delay_text, sizeof delay_text, "%ld", delay);
        PQclear(outbox_query(ob, DB_CALL(SQL_OUTBOX_RETRY, d->id, delay_text, error,
                                         give_up ? "t" : "f")));
        if (give_up)
            metrics_count_given_up();
        else
            metrics_count_retry();
        log_emit(give_up ? LOG_ERROR : LOG_WARN, NULL, NULL,
                 "notification %s attempt %ld failed (%s)%s", d->id, d->attempts, error,
                 give_up ? ": giving up, kept as failed in notification_outbox" : "");
        int64_t retry_at = clock_now_ms() + delay;
        if (!give_up && (ob->due_at_ms < 0 || retry_at < ob->due_at_ms))
            ob->due_at_ms = retry_at;
    }
    outbox_release(ob, d);
}

/* Deletes the delivered rows: when NOW, or OUTBOX_FLUSH_MS after the
 * first of them, or once the list is long. */
static void outbox_flush_delivered(struct outbox *ob, bool now)
{
    if (ob->delivered.len == 0)
        return;
    if (!now && ob->delivered.len < OUTBOX_FLUSH_BYTES &&
        clock_now_ms() - ob->delivered_since_ms < OUTBOX_FLUSH_MS)
        return;
    if (buf_append(&ob->delivered, "}", 1)) {
        PQclear(outbox_query(ob, DB_CALL(SQL_OUTBOX_DELIVERED, ob->delivered.data)));
    }
    buf_free(&ob->delivered);
    ob->delivered_since_ms = -1;
}

static void outbox_collect(struct outbox *ob)
{
    int running = 0, left = 0;
    curl_multi_perform(ob->multi, &running);
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(ob->multi, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE)
            outbox_finish(ob, msg->easy_handle, msg->data.result);
    outbox_flush_delivered(ob, atomic_load(&ob->stopping));
}

static void *outbox_main(void *arg)
{
    struct outbox *ob = arg;
    int64_t stop_deadline = -1;
    for (;;) {
        bool stopping = atomic_load(&ob->stopping);
        if (stopping && stop_deadline < 0)
            stop_deadline = clock_now_ms() + OUTBOX_STOP_GRACE_MS;
        if (stopping && (ob->in_flight == 0 || clock_now_ms() >= stop_deadline))
            break;
        if (!ob->pg && !stopping && clock_now_ms() >= ob->next_connect_ms) {
            if (outbox_connect(ob)) {
                ob->reconnect_ms = OUTBOX_RECONNECT_MIN_MS;
            } else {
                ob->next_connect_ms = clock_now_ms() + ob->reconnect_ms;
                ob->reconnect_ms = ob->reconnect_ms * 2 < OUTBOX_RECONNECT_MAX_MS
                                       ? ob->reconnect_ms * 2
                                       : OUTBOX_RECONNECT_MAX_MS;
            }
        }
        bool woke = outbox_drain_notifies(ob);
        bool sweep = clock_now_ms() - ob->last_claim_ms >= OUTBOX_IDLE_WAIT_MS;
        bool due = ob->due_at_ms >= 0 && clock_now_ms() >= ob->due_at_ms;
        if (!stopping && (woke || due || sweep || ob->more_due))
            outbox_claim(ob);
        if (!stopping) {
            /* Cleared before the ring is read: a hand-over after this
             * point wakes the thread again, one before it is taken now. */
            atomic_store(&ob->wake_sent, false);
            outbox_take_handovers(ob);
        }
        outbox_collect(ob);
        /* libpq may have read a NOTIFY while one of our queries ran: it then
         * sits in libpq's queue, not on the socket, and poll() would miss it. */
        if (outbox_drain_notifies(ob))
            ob->more_due = true;

        int64_t wait = OUTBOX_IDLE_WAIT_MS;
        if (!ob->pg)
            wait = ob->next_connect_ms - clock_now_ms();
        else if ((ob->more_due || outbox_handovers_waiting(ob)) &&
                 ob->in_flight < ob->s.concurrency)
            wait = 0;
        else if (ob->due_at_ms >= 0)
            wait = ob->due_at_ms - clock_now_ms();
        if (ob->delivered_since_ms >= 0 &&
            ob->delivered_since_ms + OUTBOX_FLUSH_MS - clock_now_ms() < wait)
            wait = ob->delivered_since_ms + OUTBOX_FLUSH_MS - clock_now_ms();
        if (stopping)
            wait = 100;
        if (wait < 0)
            wait = 0;
        struct curl_waitfd extra = { .fd = ob->pg ? PQsocket(ob->pg) : -1,
                                     .events = CURL_WAIT_POLLIN };
        curl_multi_poll(ob->multi, ob->pg ? &extra : NULL, ob->pg ? 1 : 0, (int)wait, NULL);
    }
    /* Whatever is still in flight is abandoned: its lease expires and it is
     * sent again, by this server's next start or by another one. */
    for (long i = 0; i < ob->s.concurrency; i++)
        if (ob->slots[i].busy)
            outbox_release(ob, &ob->slots[i]);
    outbox_flush_delivered(ob, true);
    outbox_disconnect(ob);
    return NULL;
}

struct outbox *outbox_start(const struct outbox_settings *s)
{
    struct outbox *ob = calloc(1, sizeof *ob);
    if (!ob)
        return NULL;
    ob->s = *s;
    ob->due_at_ms = -1;
    ob->reconnect_ms = OUTBOX_RECONNECT_MIN_MS;
    buf_init(&ob->delivered, 1u << 20);
    ob->delivered_since_ms = -1;
    ob->handover_dropped_ms = -1;
    atomic_init(&ob->stopping, false);
    atomic_init(&ob->wake_sent, false);
    ob->multi = curl_multi_init();
    ob->headers = curl_slist_append(NULL, "Content-Type: application/json");
    ob->slots = calloc((size_t)s->concurrency, sizeof *ob->slots);
    ob->handovers = calloc(OUTBOX_HANDOVER_MAX, sizeof *ob->handovers);
    pthread_mutex_init(&ob->handover_mu, NULL);
    if (ob->multi) {
        curl_multi_setopt(ob->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, s->concurrency);
        curl_multi_setopt(ob->multi, CURLMOPT_MAXCONNECTS, s->concurrency);
    }
    if (!ob->multi || !ob->headers || !ob->slots || !ob->handovers ||
        pthread_create(&ob->thread, NULL, outbox_main, ob) != 0) {
        log_error("outbox: cannot start the dispatcher");
        pthread_mutex_destroy(&ob->handover_mu);
        free(ob->handovers);
        free(ob->slots);
        curl_slist_free_all(ob->headers);
        if (ob->multi)
            curl_multi_cleanup(ob->multi);
        free(ob);
        return NULL;
    }
    log_info("outbox: delivering notifications to %s", s->url);
    return ob;
}

void outbox_stop(struct outbox *ob)
{
    if (!ob)
        return;
    atomic_store(&ob->stopping, true);
    curl_multi_wakeup(ob->multi);
    pthread_join(ob->thread, NULL);
    for (long i = 0; i < ob->s.concurrency; i++)
        if (ob->slots[i].easy)
            curl_easy_cleanup(ob->slots[i].easy);
    curl_multi_cleanup(ob->multi);
    curl_slist_free_all(ob->headers);
    buf_free(&ob->delivered);
    /* Handed over but never started: their leases end and they are claimed. */
    for (size_t i = 0; i < ob->handover_len; i++)
        free(ob->handovers[(ob->handover_head + i) % OUTBOX_HANDOVER_MAX].body);
    free(ob->handovers);
    pthread_mutex_destroy(&ob->handover_mu);
    free(ob->slots);
    free(ob);
}

long outbox_lease_ms(const struct outbox_settings *s)
{
    return s->timeout_ms + OUTBOX_LEASE_MARGIN_MS;
}

void outbox_hand_over(void *obv, const char *id, const char *to_user, const char *type,
                      const char *data, const char *push)
{
    struct outbox *ob = obv;
    if (!ob)
        return;
    /* Built here, on the request's thread, not on the dispatcher's. */
    char *body = outbox_body(ob, to_user, type, data, push);
    int64_t lease_end = clock_now_ms() + outbox_lease_ms(&ob->s);
    pthread_mutex_lock(&ob->handover_mu);
    bool taken = body && ob->handover_len < OUTBOX_HANDOVER_MAX;
    if (taken) {
        struct handover *h =
            &ob->handovers[(ob->handover_head + ob->handover_len) % OUTBOX_HANDOVER_MAX];
        snprintf(h->id, sizeof h->id, "%s", id);
        h->body = body;
        h->lease_end_ms = lease_end;
        ob->handover_len++;
    } else {
        ob->handover_dropped_ms = lease_end;
    }
    pthread_mutex_unlock(&ob->handover_mu);
    if (!taken)
        free(body);
    /* One wake-up until the thread looks: posts that arrive meanwhile are
     * taken in the same round. */
    if (!atomic_exchange(&ob->wake_sent, true))
        curl_multi_wakeup(ob->multi);
}
