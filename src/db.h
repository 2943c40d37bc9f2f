/* db: a pool of PostgreSQL connections shared by the HTTP worker threads,
 * each with every named query of sql/ prepared; failures mapped by SQLSTATE.
 * Statements are named by the ids generated from sql/ (sql_statements.h). */
#ifndef GANOMEDE_DB_H
#define GANOMEDE_DB_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "sql_statements.h"

struct db_pool;
struct db_session;

/* One run of a named statement: its id and its text parameters (NULL for
 * SQL NULL). Build it with DB_CALL (or DB_CALL0 for a statement without
 * parameters), which does not compile when the number of parameters is
 * not the statement's. */
struct db_call {
    enum sql_statement id;
    const char *const *params;
};

#define DB_COUNT_(...) (sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))
/* 0, or a compile error (an array of negative size) when COND is false. */
#define DB_CHECK_(cond) (0 * sizeof(char[(cond) ? 1 : -1]))
#define DB_CALL(id, ...)                                                                  \
    ((struct db_call){ (enum sql_statement)((id) + DB_CHECK_(DB_COUNT_(__VA_ARGS__) ==    \
                                                             id##_PARAMS)),               \
                       (const char *const[]){ __VA_ARGS__ } })
#define DB_CALL0(id) \
    ((struct db_call){ (enum sql_statement)((id) + DB_CHECK_(id##_PARAMS == 0)), NULL })

struct db_settings {
    const char *url;               /* libpq URI or conninfo; "" for PG* variables */
    size_t size;                   /* connections */
    long wait_ms;                  /* longest wait for a free connection */
    long connect_timeout_seconds;
    long statement_timeout_ms;     /* 0: none; also sets the client-side deadline */
    const char *application_name;
    bool transaction_pooling;      /* behind a transaction pooler (pgbouncer
                                      pool_mode=transaction): no session state
                                      at all, see db_connect and db_exec */
};

enum db_status {
    DB_OK,
    DB_UNAVAILABLE,   /* PostgreSQL down, restarting, overloaded, timed out: 503 */
    DB_ERROR,         /* anything else: 500, detail in the log only */
};

/* A pool of S->size connections, opened lazily. Never fails for a
 * PostgreSQL that is down: connections are (re)opened when used. Returns
 * NULL only when out of memory. Free with db_pool_free. */
struct db_pool *db_pool_new(const struct db_settings *s);

void db_pool_free(struct db_pool *pool);

/* Opens (and prepares) every connection of a pool that no thread uses yet,
 * stopping at the first that fails: those left are opened on first use.
 * Returns how many are open. */
size_t db_pool_open_all(struct db_pool *pool);

/* Runs CALL's prepared statement. On DB_OK, *RES holds a PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK result the caller must PQclear; otherwise *RES is NULL
 * and the failure has been logged with REQ_ID. A broken connection is
 * reopened; the query is re-run on it once when RETRY_SAFE (reads), and
 * serialization failures and deadlocks are always re-run (the transaction
 * rolled back). Waits at most the pool's wait_ms for a free connection. */
__attribute__((warn_unused_result))
enum db_status db_exec(struct db_pool *pool, struct db_call call, bool retry_safe,
                       PGresult **res, const char *req_id);

/* Holds one connection of POOL for statements that share a session
 * (advisory locks): NULL (logged) when none is free within wait_ms or it
 * cannot be opened. Close with db_session_close. */
struct db_session *db_session_open(struct db_pool *pool, const char *req_id);

/* db_exec on the session's connection. A connection that breaks is not
 * reopened (the session's state would be lost): DB_UNAVAILABLE. */
__attribute__((warn_unused_result))
enum db_status db_session_exec(struct db_session *s, struct db_call call, PGresult **res,
                               const char *req_id);

/* Gives the connection back to the pool (dropped if it broke); NULL ok. */
void db_session_close(struct db_session *s);

/* True when RES has NCOLS columns and MIN_ROWS to MAX_ROWS rows (-1: no
 * maximum). Otherwise false, with the statement, the shape expected and the
 * shape received logged as an error with REQ_ID (the caller answers 500). */
__attribute__((warn_unused_result))
bool db_result_shape(const PGresult *res, enum sql_statement id, int ncols, int min_rows,
                     int max_rows, const char *req_id);

/* How many connections the pool has, and how many serve a request now. */
void db_pool_stats(struct db_pool *pool, long *size, long *in_use);

/* Opens one plain connection (no prepared queries), for migrations and
 * checks. Returns NULL (logged) when PostgreSQL cannot be reached. Caller
 * PQfinish-es it. No startup parameter but the connect timeout and the
 * application name (poolers refuse `options`): the statement timeout is set
 * once as a session setting, or, with S->transaction_pooling, not at all
 * (each statement then sets it for its own transaction). */
PGconn *db_connect(const struct db_settings *s);

/* Runs CALL's prepared statement on PG and waits for its result without
 * trusting the server to answer: past DEADLINE_MS (0: none) or once *ABORT
 * (may be NULL) is set, it gives up, sets *GAVE_UP, and returns NULL; the
 * connection is then mid-query and must be closed. PostgreSQL's own
 * statement_timeout cannot fire when the server is frozen or the network
 * cut; this deadline can. Returns the last result (caller PQclear-s it), or
 * NULL when the connection broke. */
PGresult *db_run(PGconn *pg, struct db_call call, long deadline_ms, const atomic_bool *abort,
                 bool *gave_up);

/* Makes every query under way or to come give up at once (503): used at
 * shutdown, once the grace period for requests has passed. */
void db_pool_abort(struct db_pool *pool);

/* Prepares every named query of sql/ on PG. False (logged) on failure. */
__attribute__((warn_unused_result))
bool db_prepare_all(PGconn *pg);

/* The statement's name (its file in sql/ without .sql), for logs. */
const char *db_statement_name(enum sql_statement id);

#endif
