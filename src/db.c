/* db: connection pool with lazy (re)connects and prepared named queries.
 *
 * A connection is checked on checkout: an idle connection that PostgreSQL
 * closed (restart, admin shutdown) has a readable socket, so it is reopened
 * before any statement is sent. That makes writes safe without a retry. */
#include "db.h"

#include "clock.h"
#include "embedded.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_MAX_DEADLOCK_RETRIES 3
/* The client-side deadline of a query: the server's statement_timeout plus
 * this, so the server normally answers first (with a clean 57014). */
#define DB_DEADLINE_MARGIN_MS 500
/* How often a wait for a result looks at the abort flag. */
#define DB_POLL_SLICE_MS 100

struct db_conn {
    PGconn *pg;   /* NULL until first used, or after a failure */
};

struct db_pool {
    struct db_settings settings;
    pthread_mutex_t lock;
    pthread_cond_t available;
    struct db_conn *conns;
    size_t *free_stack;   /* indexes of idle connections */
    size_t nfree;
    atomic_bool aborting; /* shutdown: give up every query */
};

static void db_ignore_notice(void *arg, const char *message);
static bool db_conn_healthy(struct db_conn *c);
static struct db_conn *db_acquire(struct db_pool *pool);
static void db_release(struct db_pool *pool, struct db_conn *c);
static void db_drop(struct db_conn *c);
static bool db_ensure_open(struct db_pool *pool, struct db_conn *c);

PGconn *db_connect(const struct db_settings *s)
{
    char timeout[32], options[64];
    snprintf(timeout, sizeof timeout, "%ld", s->connect_timeout_seconds);
    snprintf(options, sizeof options, "-c statement_timeout=%ld", s->statement_timeout_ms);
    /* dbname first: with expand_dbname it may be a whole URI or conninfo,
     * and the keywords after it take precedence. Without a URL, libpq
     * reads the PG* variables. */
    const char *keys[6], *vals[6];
    size_t n = 0;
    if (*s->url) {
        keys[n] = "dbname";
        vals[n++] = s->url;
    }
    keys[n] = "connect_timeout";
    vals[n++] = timeout;
    keys[n] = "application_name";
    vals[n++] = s->application_name;
    keys[n] = "options";
    vals[n++] = options;
    keys[n] = NULL;
    vals[n] = NULL;
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg)
        return NULL;
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        log_warn("cannot connect to PostgreSQL: %s", msg);
        PQfinish(pg);
        return NULL;
    }
    /* NOTICEs ("already exists, skipping") are not errors: keep stderr clean. */
    PQsetNoticeProcessor(pg, db_ignore_notice, NULL);
    return pg;
}

static void db_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

bool db_prepare_all(PGconn *pg)
{
    for (const struct embedded_file *f = EMBEDDED_FILES; f->path; f++) {
        if (strncmp(f->path, "sql/", 4) != 0)
            continue;
        char name[128];
        snprintf(name, sizeof name, "%s", f->path + 4);
        name[strcspn(name, ".")] = '\0';
        PGresult *r = PQprepare(pg, name, f->text, 0, NULL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
            msg[strcspn(msg, "\n")] = '\0';
            log_error("cannot prepare query %s: %s", name, msg);
        }
        PQclear(r);
        if (!ok)
            return false;
    }
    return true;
}

struct db_pool *db_pool_new(const struct db_settings *s)
{
    struct db_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->settings = *s;
    pool->conns = calloc(s->size, sizeof *pool->conns);
    pool->free_stack = calloc(s->size, sizeof *pool->free_stack);
    if (!pool->conns || !pool->free_stack || pthread_mutex_init(&pool->lock, NULL) != 0 ||
        clock_cond_init(&pool->available) != 0) {
        free(pool->conns);
        free(pool->free_stack);
        free(pool);
        return NULL;
    }
    for (size_t i = 0; i < s->size; i++)
        pool->free_stack[i] = s->size - 1 - i;
    pool->nfree = s->size;
    return pool;
}

void db_pool_free(struct db_pool *pool)
{
    if (!pool)
        return;
    for (size_t i = 0; i < pool->settings.size; i++)
        db_drop(&pool->conns[i]);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->available);
    free(pool->conns);
    free(pool->free_stack);
    free(pool);
}

size_t db_pool_open_all(struct db_pool *pool)
{
    size_t opened = 0;
    while (opened < pool->settings.size && db_ensure_open(pool, &pool->conns[opened]))
        opened++;
    return opened;
}

void db_pool_abort(struct db_pool *pool)
{
    if (pool)
        atomic_store(&pool->aborting, true);
}

PGresult *db_run(PGconn *pg, const char *name, int nparams, const char *const *params,
                 long deadline_ms, const atomic_bool *abort, bool *gave_up)
{
    *gave_up = false;
    if (!PQsendQueryPrepared(pg, name, nparams, params, NULL, NULL, 0))
        return NULL;
    int64_t deadline = deadline_ms > 0 ? clock_now_ms() + deadline_ms : INT64_MAX;
    PGresult *last = NULL;
    /* Wait first, read after: the answer cannot be there the moment the
     * query left, and a read that finds nothing is a wasted syscall. */
    for (;;) {
        int flushed = PQflush(pg);
        if (flushed < 0)
            break;
        int64_t now = clock_now_ms();
        if (now >= deadline || (abort && atomic_load(abort))) {
            *gave_up = true;
            break;
        }
        int64_t slice = deadline - now < DB_POLL_SLICE_MS ? deadline - now : DB_POLL_SLICE_MS;
        struct pollfd pfd = { .fd = PQsocket(pg), .events = POLLIN | (flushed ? POLLOUT : 0) };
        int ready = poll(&pfd, 1, (int)slice);
        if (ready < 0 && errno != EINTR)
            break;
        if (ready <= 0)
            continue;
        if (!PQconsumeInput(pg))
            break;
        while (!PQisBusy(pg)) {
            PGresult *r = PQgetResult(pg);
            if (!r)
                return last;
            PQclear(last);
            last = r;
        }
    }
    PQclear(last);
    return NULL;
}

void db_pool_stats(struct db_pool *pool, long *size, long *in_use)
{
    pthread_mutex_lock(&pool->lock);
    *size = (long)pool->settings.size;
    *in_use = (long)(pool->settings.size - pool->nfree);
    pthread_mutex_unlock(&pool->lock);
}

static struct db_conn *db_acquire(struct db_pool *pool)
{
    struct timespec deadline = clock_deadline(pool->settings.wait_ms);
    struct db_conn *c = NULL;
    pthread_mutex_lock(&pool->lock);
    while (pool->nfree == 0) {
        if (pthread_cond_timedwait(&pool->available, &pool->lock, &deadline) == ETIMEDOUT)
            break;
    }
    if (pool->nfree > 0)
        c = &pool->conns[pool->free_stack[--pool->nfree]];
    pthread_mutex_unlock(&pool->lock);
    return c;
}

static void db_release(struct db_pool *pool, struct db_conn *c)
{
    pthread_mutex_lock(&pool->lock);
    pool->free_stack[pool->nfree++] = (size_t)(c - pool->conns);
    pthread_cond_signal(&pool->available);
    pthread_mutex_unlock(&pool->lock);
}

static void db_drop(struct db_conn *c)
{
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
}

/* An idle connection has nothing to read: a readable socket means the
 * server sent a FATAL (shutdown) or closed it. */
static bool db_conn_healthy(struct db_conn *c)
{
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK ||
        PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return false;
    struct pollfd pfd = { .fd = PQsocket(c->pg), .events = POLLIN };
    int n = poll(&pfd, 1, 0);
    return n == 0;
}

static bool db_ensure_open(struct db_pool *pool, struct db_conn *c)
{
    if (db_conn_healthy(c))
        return true;
    db_drop(c);
    c->pg = db_connect(&pool->settings);
    if (c->pg && !db_prepare_all(c->pg))
        db_drop(c);
    return c->pg != NULL;
}

enum db_status db_classify_failure(PGconn *conn, const PGresult *res)
{
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return DB_UNAVAILABLE;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return DB_UNAVAILABLE;
    /* 08: connection exception; 53: insufficient resources; 57: operator
     * intervention (shutdown, statement timeout, cannot connect now). */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strncmp(state, "57", 2) == 0)
        return DB_UNAVAILABLE;
    return DB_ERROR;
}

enum db_status db_exec(struct db_pool *pool, const char *name, int nparams,
                       const char *const *params, bool retry_safe, PGresult **res,
                       const char *req_id)
{
    *res = NULL;
    if (atomic_load(&pool->aborting))
        return DB_UNAVAILABLE;
    struct db_conn *c = db_acquire(pool);
    if (!c) {
        log_emit(LOG_WARN, req_id, NULL, "no free PostgreSQL connection within %ld ms",
                 pool->settings.wait_ms);
        return DB_UNAVAILABLE;
    }
    enum db_status status = DB_UNAVAILABLE;
    int reconnects = retry_safe ? 2 : 1;
    int deadlocks = DB_MAX_DEADLOCK_RETRIES;
    while (reconnects > 0) {
        if (!db_ensure_open(pool, c)) {
            status = DB_UNAVAILABLE;
            break;
        }
        long deadline = pool->settings.statement_timeout_ms
                            ? pool->settings.statement_timeout_ms + DB_DEADLINE_MARGIN_MS
                            : 0;
        bool gave_up = false;
        PGresult *r = db_run(c->pg, name, nparams, params, deadline, &pool->aborting, &gave_up);
        if (gave_up) {
            log_emit(LOG_WARN, req_id, NULL,
                     "query %s: no answer from PostgreSQL within %ld ms%s; connection closed",
                     name, deadline, atomic_load(&pool->aborting) ? " (shutting down)" : "");
            db_drop(c);
            status = DB_UNAVAILABLE;
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            *res = r;
            status = DB_OK;
            break;
        }
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) &&
            deadlocks-- > 0) {
            PQclear(r);
            continue;
        }
        status = db_classify_failure(c->pg, r);
        char msg[256];
        snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg));
        msg[strcspn(msg, "\n")] = '\0';
        log_emit(status == DB_UNAVAILABLE ? LOG_WARN : LOG_ERROR, req_id, NULL,
                 "query %s failed (SQLSTATE %s): %s", name, state ? state : "none", msg);
        PQclear(r);
        if (PQstatus(c->pg) != CONNECTION_OK) {
            db_drop(c);
            reconnects--;
            continue;
        }
        break;
    }
    db_release(pool, c);
    return status;
}
