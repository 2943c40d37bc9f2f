/* db: connection pool with lazy (re)connects and prepared named queries.
 *
 * A connection is checked on checkout: an idle connection that PostgreSQL
 * closed (restart, admin shutdown) has a readable socket, so it is reopened
 * before any statement is sent. That makes writes safe without a retry. */
#include "db.h"

#include "clock.h"
#include "log.h"
#include "text.h"

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

struct db_session {
    struct db_pool *pool;
    struct db_conn *conn;
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
static bool db_set_statement_timeout(PGconn *pg, long ms);
static bool db_send_pipelined(PGconn *pg, struct db_call call, long statement_timeout_ms);
static PGresult *db_wait(PGconn *pg, bool pipelined, int64_t deadline, const atomic_bool *abort,
                         bool *gave_up);
static bool db_conn_healthy(struct db_conn *c);
static struct db_conn *db_acquire(struct db_pool *pool);
static void db_release(struct db_pool *pool, struct db_conn *c);
static void db_drop(struct db_conn *c);
static bool db_ensure_open(struct db_pool *pool, struct db_conn *c);
static enum db_status db_classify_failure(PGconn *conn, const PGresult *res);
static long db_deadline_ms(const struct db_pool *pool);
static enum db_status db_exec_on(struct db_pool *pool, struct db_conn *c, struct db_call call,
                                 int reconnects, PGresult **res, const char *req_id);

PGconn *db_connect(const struct db_settings *s)
{
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%ld", s->connect_timeout_seconds);
    /* dbname first: with expand_dbname it may be a whole URI or conninfo,
     * and the keywords after it take precedence. Without a URL, libpq
     * reads the PG* variables. */
    const char *keys[4], *vals[4];
    size_t n = 0;
    if (*s->url) {
        keys[n] = "dbname";
        vals[n++] = s->url;
    }
    keys[n] = "connect_timeout";
    vals[n++] = timeout;
    keys[n] = "application_name";
    vals[n++] = s->application_name;
    keys[n] = NULL;
    vals[n] = NULL;
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg)
        return NULL;
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[1024];
        log_warn("cannot connect to PostgreSQL: %s",
                 text_joined_lines(PQerrorMessage(pg), msg, sizeof msg));
        PQfinish(pg);
        return NULL;
    }
    /* NOTICEs ("already exists, skipping") are not errors: keep stderr clean. */
    PQsetNoticeProcessor(pg, db_ignore_notice, NULL);
    if (!s->transaction_pooling && !db_set_statement_timeout(pg, s->statement_timeout_ms)) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* The session's statement_timeout (0: none, whatever the role's default):
 * a session setting survives a session pooler, a startup option does not
 * even get through one. */
static bool db_set_statement_timeout(PGconn *pg, long ms)
{
    char value[32];
    snprintf(value, sizeof value, "%ld", ms);
    const char *params[1] = { value };
    PGresult *r = PQexecParams(pg, "SELECT set_config('statement_timeout', $1, false)", 1,
                               NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        char msg[256];
        log_warn("cannot set statement_timeout: %s",
                 text_first_line(PQresultErrorMessage(r), msg, sizeof msg));
    }
    PQclear(r);
    return ok;
}

static void db_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

bool db_prepare_all(PGconn *pg)
{
    for (int i = 0; i < SQL_STATEMENT_COUNT; i++) {
        const struct sql_statement_def *d = &SQL_STATEMENTS[i];
        PGresult *r = PQprepare(pg, d->name, d->text, 0, NULL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            char msg[256];
            log_error("cannot prepare query %s: %s", d->name,
                      text_first_line(PQresultErrorMessage(r), msg, sizeof msg));
        }
        PQclear(r);
        if (!ok)
            return false;
    }
    return true;
}

const char *db_statement_name(enum sql_statement id)
{
    return (int)id >= 0 && id < SQL_STATEMENT_COUNT ? SQL_STATEMENTS[id].name : "unknown";
}

bool db_result_shape(const PGresult *res, enum sql_statement id, int ncols, int min_rows,
                     int max_rows, const char *req_id)
{
    int rows = PQntuples(res), cols = PQnfields(res);
    if (cols == ncols && rows >= min_rows && (max_rows < 0 || rows <= max_rows))
        return true;
    char want[48];
    if (max_rows < 0)
        snprintf(want, sizeof want, "%d+", min_rows);
    else if (max_rows == min_rows)
        snprintf(want, sizeof want, "%d", min_rows);
    else
        snprintf(want, sizeof want, "%d to %d", min_rows, max_rows);
    log_emit(LOG_ERROR, req_id, NULL,
             "query %s answered %d rows of %d columns, expected %s rows of %d columns",
             db_statement_name(id), rows, cols, want, ncols);
    return false;
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

PGresult *db_run(PGconn *pg, struct db_call call, long deadline_ms, const atomic_bool *abort,
                 bool *gave_up)
{
    *gave_up = false;
    const struct sql_statement_def *d = &SQL_STATEMENTS[call.id];
    if (!PQsendQueryPrepared(pg, d->name, d->nparams, call.params, NULL, NULL, 0))
        return NULL;
    return db_wait(pg, false, deadline_ms > 0 ? clock_now_ms() + deadline_ms : INT64_MAX, abort,
                   gave_up);
}

/* For a transaction pooler, which hands each transaction to any server
 * connection: one pipeline, one implicit transaction (committed at its
 * Sync), one round trip: the statement timeout for this transaction, then
 * the statement itself, unnamed (parsed and planned every time: a named
 * statement prepared on one server connection is unknown on the next). */
static bool db_send_pipelined(PGconn *pg, struct db_call call, long statement_timeout_ms)
{
    const struct sql_statement_def *d = &SQL_STATEMENTS[call.id];
    char value[32];
    snprintf(value, sizeof value, "%ld", statement_timeout_ms);
    const char *params[1] = { value };
    return PQenterPipelineMode(pg) &&
           PQsendQueryParams(pg, "SELECT set_config('statement_timeout', $1, true)", 1, NULL,
                             params, NULL, NULL, 0) &&
           PQsendQueryParams(pg, d->text, d->nparams, NULL, call.params, NULL, NULL, 0) &&
           PQpipelineSync(pg);
}

/* Keeps the result that answers for a pipeline: the first error (an error
 * of the commit at Sync included), else the statement's own, the second. */
static PGresult *db_pipeline_keep(PGresult *kept, PGresult *r, int index)
{
    bool r_error = PQresultStatus(r) == PGRES_FATAL_ERROR;
    bool kept_error = kept && PQresultStatus(kept) == PGRES_FATAL_ERROR;
    if (!kept_error && (r_error || index == 2)) {
        PQclear(kept);
        return r;
    }
    PQclear(r);
    return kept;
}

/* Waits for the answer to what was sent, without trusting the server to
 * answer: past DEADLINE (a clock_now_ms time) or once *ABORT is set it
 * gives up (*GAVE_UP). PIPELINED: the answer of db_send_pipelined, read
 * up to its Sync. */
static PGresult *db_wait(PGconn *pg, bool pipelined, int64_t deadline, const atomic_bool *abort,
                         bool *gave_up)
{
    *gave_up = false;
    PGresult *last = NULL;
    int results = 0;
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
            if (!r && !pipelined)
                return last;
            if (!r)
                continue;   /* the end of one query's results in the pipeline */
            if (pipelined && PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
                PQclear(r);
                PQexitPipelineMode(pg);
                return last;
            }
            if (pipelined) {
                last = db_pipeline_keep(last, r, ++results);
            } else {
                PQclear(last);
                last = r;
            }
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
    if (c->pg && !pool->settings.transaction_pooling && !db_prepare_all(c->pg))
        db_drop(c);
    return c->pg != NULL;
}

static enum db_status db_classify_failure(PGconn *conn, const PGresult *res)
{
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return DB_UNAVAILABLE;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return DB_UNAVAILABLE;
    /* 08: connection exception; 53: insufficient resources; 57: operator
     * intervention (shutdown, statement timeout, cannot connect now); 25006:
     * a write on a read-only server (a standby, or an old primary after a
     * failover): another server is the primary, retry there. */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strncmp(state, "57", 2) == 0 || strcmp(state, "25006") == 0)
        return DB_UNAVAILABLE;
    return DB_ERROR;
}

/* The client-side deadline of every query of POOL (0: none). */
static long db_deadline_ms(const struct db_pool *pool)
{
    return pool->settings.statement_timeout_ms
               ? pool->settings.statement_timeout_ms + DB_DEADLINE_MARGIN_MS
               : 0;
}

/* CALL on connection C (checked out), reopening it up to RECONNECTS - 1
 * times when it breaks (0: never reopened, not even when found broken). */
static enum db_status db_exec_on(struct db_pool *pool, struct db_conn *c, struct db_call call,
                                 int reconnects, PGresult **res, const char *req_id)
{
    const char *name = db_statement_name(call.id);
    enum db_status status = DB_UNAVAILABLE;
    int deadlocks = DB_MAX_DEADLOCK_RETRIES;
    bool may_open = reconnects > 0, retried_read_only = false;
    for (;;) {
        if (may_open ? !db_ensure_open(pool, c) : !db_conn_healthy(c))
            return DB_UNAVAILABLE;
        bool gave_up = false;
        long deadline = db_deadline_ms(pool);
        PGresult *r;
        if (pool->settings.transaction_pooling)
            r = db_send_pipelined(c->pg, call, pool->settings.statement_timeout_ms)
                    ? db_wait(c->pg, true, deadline > 0 ? clock_now_ms() + deadline : INT64_MAX,
                              &pool->aborting, &gave_up)
                    : NULL;
        else
            r = db_run(c->pg, call, deadline, &pool->aborting, &gave_up);
        if (gave_up) {
            log_emit(LOG_WARN, req_id, NULL,
                     "query %s: no answer from PostgreSQL within %ld ms%s; connection closed",
                     name, deadline, atomic_load(&pool->aborting) ? " (shutting down)" : "");
            db_drop(c);
            return DB_UNAVAILABLE;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            *res = r;
            return DB_OK;
        }
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) &&
            deadlocks-- > 0) {
            PQclear(r);
            continue;
        }
        status = db_classify_failure(c->pg, r);
        bool read_only = state && strcmp(state, "25006") == 0;
        char msg[256];
        log_emit(status == DB_UNAVAILABLE ? LOG_WARN : LOG_ERROR, req_id, NULL,
                 "query %s failed (SQLSTATE %s): %s", name, state ? state : "none",
                 text_first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg), msg,
                                 sizeof msg));
        PQclear(r);
        if (read_only && may_open && !retried_read_only) {
            /* The server became a standby under us (a failover): nothing
             * was written, so the statement runs again on a connection
             * opened anew, which a multi-host URL with
             * target_session_attrs=read-write points at the new primary. */
            retried_read_only = true;
            db_drop(c);
            continue;
        }
        if (read_only)
            db_drop(c);
        if (PQstatus(c->pg) == CONNECTION_OK)
            return status;
        db_drop(c);
        if (--reconnects <= 0)
            return status;
    }
}

enum db_status db_exec(struct db_pool *pool, struct db_call call, bool retry_safe,
                       PGresult **res, const char *req_id)
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
    enum db_status status = db_exec_on(pool, c, call, retry_safe ? 2 : 1, res, req_id);
    db_release(pool, c);
    return status;
}

struct db_session *db_session_open(struct db_pool *pool, const char *req_id)
{
    struct db_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->pool = pool;
    s->conn = atomic_load(&pool->aborting) ? NULL : db_acquire(pool);
    if (!s->conn) {
        log_emit(LOG_WARN, req_id, NULL, "no free PostgreSQL connection within %ld ms",
                 pool->settings.wait_ms);
    } else if (!db_ensure_open(pool, s->conn)) {
        db_release(pool, s->conn);
        s->conn = NULL;
    }
    if (!s->conn) {
        free(s);
        return NULL;
    }
    return s;
}

enum db_status db_session_exec(struct db_session *s, struct db_call call, PGresult **res,
                               const char *req_id)
{
    *res = NULL;
    if (atomic_load(&s->pool->aborting))
        return DB_UNAVAILABLE;
    return db_exec_on(s->pool, s->conn, call, 0, res, req_id);
}

void db_session_close(struct db_session *s)
{
    if (!s)
        return;
    db_release(s->pool, s->conn);
    free(s);
}
