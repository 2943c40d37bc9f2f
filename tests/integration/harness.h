/*
 * Integration test harness: starts and stops the real ganomede-chat binary,
 * drives it over HTTP with libcurl, and reads and writes the throwaway
 * PostgreSQL with libpq. Black box: nothing here knows the server's code.
 *
 * Environment (set by scripts/test-integration.sh):
 *   DATABASE_URL  the throwaway database (migrated by main.c at start)
 *   CHAT_BIN      path to build/ganomede-chat
 *   PG_SCRIPT, PG_DIR  `$PG_SCRIPT stop|start $PG_DIR` (outage test only)
 *
 * Test helpers call cmocka's fail() on broken preconditions, so they may only
 * be used from the test thread (not from the concurrency test's workers,
 * which call http_do() and inspect the result themselves).
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <libpq-fe.h>

/* The API secret every default server runs with. */
#define IT_SECRET "it-s3cret-Zq9Wm4"
/* Route prefix of a default server. */
#define PFX "/chat/v1"

/* Tokens that std_setup() stores in auth_tokens (no expiry). */
#define TOK_ALICE "tok-alice-7f3a"
#define TOK_BOB   "tok-bob-91c2"
#define TOK_CAROL "tok-carol-55e0"

/* A running server. */
typedef struct server {
    pid_t pid;            /* 0 when not running */
    int port;
    char prefix[128];     /* "/chat/v1" unless ROUTE_PREFIX was overridden */
    char log_path[512];   /* its stdout and stderr */
    int exit_status;      /* wait status once stopped */
} server_t;

/* One HTTP answer. All strings are owned by the answer (resp_free). */
typedef struct resp {
    long status;          /* 0 when the request itself failed (see error) */
    char *body;           /* NUL-terminated (body may hold NULs; see len) */
    size_t len;
    char *headers;        /* raw header block of the final answer */
    double seconds;       /* wall time of the request */
    char error[256];      /* curl's error text when status is 0 */
    char method[16];
    char path[512];       /* for failure messages */
    json_object *json;    /* lazily parsed by resp_json() */
} resp_t;

/* One HTTP request for http_do(). Unset fields take defaults. */
typedef struct req {
    server_t *srv;              /* NULL: the current server (h_srv) */
    const char *method;         /* "GET", "POST", "HEAD", ... */
    const char *path;           /* sent verbatim as the request target */
    const char *body;           /* NULL: no body */
    size_t body_len;            /* 0: strlen(body) */
    const char *content_type;   /* NULL with a body: application/json */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
    const char *accept_encoding;/* e.g. "gzip"; curl then decodes the answer */
    bool chunked;               /* stream the body with Transfer-Encoding: chunked */
    long timeout_ms;            /* 0: 15000 */
} req_t;

/* ---- suite ---------------------------------------------------------- */

/* Reads the environment, creates the log folder. false when CHAT_BIN or
 * DATABASE_URL is missing (message printed). */
bool h_init(void);
void h_cleanup(void);
const char *h_env(const char *name);  /* getenv, or NULL when unset/empty */
const char *h_logdir(void);
/* Removes the log folder and its files (after a clean run). */
void h_remove_logdir(void);

/* ---- servers -------------------------------------------------------- */

/* The server the short helpers (http_get ...) talk to; set by group setups. */
extern server_t *h_srv;

/* Starts `CHAT_BIN serve` on a free port with DATABASE_URL, API_SECRET=IT_SECRET,
 * EXPIRY_INTERVAL_SECONDS=0, LOG_LEVEL=info plus `overrides` ("NAME=value" sets,
 * a bare "NAME" unsets; NULL-terminated, may be NULL). Waits until
 * GET <prefix>/ping/ready answers 200 (10 s). false on failure, with the log
 * tail printed. */
bool server_start(server_t *s, const char *const *overrides);
/* SIGTERM, wait up to 10 s, then SIGKILL. Safe on a stopped server. */
void server_stop(server_t *s);
/* SIGTERM, wait up to ms; true when it exited by then (status in
 * s->exit_status), else SIGKILL and false. *seconds: time to exit. */
bool server_stop_within(server_t *s, int ms, double *seconds);
/* Heap-allocated server started with the overrides; NULL on failure. */
server_t *server_new(const char *const *overrides);
void server_free(server_t *s);   /* stops and frees; NULL ok */
/* true while the process is alive. */
bool server_alive(server_t *s);
/* Whole log file, caller frees; "" when unreadable. */
char *server_log(server_t *s);
/* Whole file at PATH, caller frees; "" when unreadable. */
char *h_read_file(const char *path);

/* Group fixtures. group_start() starts the group's server with overrides
 * (0 on success, for cmocka); group_setup_default() with none. */
int group_start(const char *const *overrides);
int group_setup_default(void **state);
int group_teardown_server(void **state);
/* Per-test fixtures: std_setup empties the tables and stores the three
 * standard tokens; std_teardown stops the test's scoped servers and points
 * h_srv back at the group's server. */
int std_setup(void **state);
int std_teardown(void **state);
#define T(fn) cmocka_unit_test_setup_teardown(fn, std_setup, std_teardown)
/* A server for the current test only, stopped by std_teardown (or at exit).
 * Fails the test when it cannot start. Does not change h_srv. */
server_t *scoped_server(const char *const *overrides);
#define OVERRIDES(...) ((const char *const[]){__VA_ARGS__, NULL})
/* Stops every server still running (called at exit). */
void h_stop_all(void);
/* SIGKILLs every server still running; async-signal-safe (signal handlers). */
void h_kill_all_now(void);

/* A port that was free a moment ago (bind to 0, read back, close). */
int h_free_port(void);

/* Runs CHAT_BIN with args (NULL-terminated) and the environment
 * DATABASE_URL + PATH + overrides; waits up to timeout_s, kills after.
 * Returns the exit code, or -1 on a signal/timeout. out/err: caller frees
 * (may be NULL to ignore). */
int run_chat(const char *const *args, const char *const *overrides,
             int timeout_s, char **out, char **err);
/* Runs the program at PATH likewise (same environment rules). With
 * STOP_EXPECTED, a program still running after TIMEOUT_MS is sent SIGTERM
 * without complaint (a server started to be looked at) and -1 returned. */
int run_program(const char *path, const char *const *args, const char *const *overrides,
                int timeout_ms, bool stop_expected, char **out, char **err);
/* Raw connection that sends a POST promising 500 body bytes, sends a few,
 * and hangs up (h_abort_upload) or stays connected (h_stalled_upload,
 * returns the socket; caller closes). */
void h_abort_upload(int port);
int h_stalled_upload(int port);
/* Sends LEN bytes of DATA as they are on a new connection to PORT, then
 * reads until the server closes the connection or TIMEOUT_MS pass. Returns
 * what was read (caller frees); *CLOSED: the server closed it. */
char *h_raw_exchange(int port, const char *data, size_t len, int timeout_ms, bool *closed);
/* The peak resident memory (VmHWM) of S's process in kB; -1 if unknown. */
long long h_server_hwm_kb(server_t *s);
/* True once S's log holds NEEDLE; waits up to 2 s (times the slow factor). */
bool h_log_contains(server_t *s, const char *needle);
/* The log line of S with this req_id and msg ("request"...), parsed
 * (caller puts); waits up to 2 s for it to be written. NULL if none. */
json_object *h_log_line(server_t *s, const char *req_id, const char *msg);

/* Runs `$PG_SCRIPT <verb> $PG_DIR`; returns its exit code. */
int run_pg_script(const char *verb);

/* ---- HTTP ----------------------------------------------------------- */

resp_t *http_do(const req_t *r);
resp_t *http_get(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* POST with a JSON body (NULL: no body). */
resp_t *http_post(const char *body, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Any method, optional JSON body. */
resp_t *http_method(const char *method, const char *body, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void resp_free(resp_t *r);
/* Header value (trimmed, case-insensitive name), caller frees; NULL if absent. */
char *resp_header(const resp_t *r, const char *name);
/* Parsed body, borrowed from r; NULL if not JSON. */
json_object *resp_json(resp_t *r);

/* Percent-encodes every byte but A-Z a-z 0-9 - . _ ~ (ring of static
 * buffers: valid until 16 more calls). */
const char *enc(const char *s);
/* Encodes only '/' as %2F (clients that do only that). Same ring. */
const char *enc_slash(const char *s);
/* Seconds since an arbitrary epoch. */
double now_s(void);

/* ---- assertions (print method, path, status, body on failure) -------- */

void h_assert_status(resp_t *r, long status, const char *file, int line);
void h_assert_error(resp_t *r, long status, const char *code, const char *message,
                    const char *file, int line);
void h_assert_empty_ok(resp_t *r, const char *file, int line);
void h_assert_json_str(json_object *o, const char *key, const char *want,
                       const char *file, int line);
void h_assert_header(resp_t *r, const char *name, const char *file, int line);
void h_assert_content_type(resp_t *r, const char *prefix, const char *file, int line);
/* Room JSON: id, type, users (n names, in order), and exactly the keys
 * id, type, users, messages; returns the messages array (borrowed). */
json_object *h_assert_room(resp_t *r, const char *id, const char *type,
                           const char *const *users, size_t n_users,
                           size_t n_messages, const char *file, int line);
/* Message object with exactly timestamp/from/type/message. timestamp is
 * compared as JSON text (json_object_to_json_string), e.g. "1.5" or "\"1\"". */
void h_assert_msg(json_object *m, const char *ts_json, const char *from,
                  const char *type, const char *message, const char *file, int line);

#define assert_status(r, st) h_assert_status((r), (st), __FILE__, __LINE__)
/* message NULL: any string */
#define assert_error(r, st, code, msg) h_assert_error((r), (st), (code), (msg), __FILE__, __LINE__)
#define assert_empty_ok(r) h_assert_empty_ok((r), __FILE__, __LINE__)
#define assert_json_str(o, k, v) h_assert_json_str((o), (k), (v), __FILE__, __LINE__)
#define assert_header(r, n) h_assert_header((r), (n), __FILE__, __LINE__)
/* Content-Type starts with prefix (case-insensitive), e.g. "text/plain". */
#define assert_content_type(r, p) h_assert_content_type((r), (p), __FILE__, __LINE__)
#define USERS(...) (const char *const[]){__VA_ARGS__}, \
    (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define assert_room(r, id, type, users_macro, nmsg) \
    h_assert_room((r), (id), (type), users_macro, (nmsg), __FILE__, __LINE__)
#define assert_msg(m, ts, from, type, text) \
    h_assert_msg((m), (ts), (from), (type), (text), __FILE__, __LINE__)

/* ---- database ------------------------------------------------------- */

/* The suite's own connection (reconnects when broken). */
PGconn *db(void);
/* Runs a parameterized statement; fails the test unless it succeeds.
 * Caller PQclears. */
PGresult *db_query(const char *sql, int n, const char *const *params);
void db_exec(const char *sql, int n, const char *const *params);
/* First column of the single row as a number / string (caller frees,
 * NULL for SQL NULL). */
long long db_long(const char *sql, int n, const char *const *params);
char *db_text(const char *sql, int n, const char *const *params);
#define PARAMS(...) \
    (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)), \
    (const char *const[]){__VA_ARGS__}

/* TRUNCATE rooms, room_users, messages, auth_tokens, usermeta CASCADE, and
 * the record (archive, holds, audit log) when it exists. */
void db_reset(void);
/* auth_tokens row; expires: NULL for NULL, else an interval added to now()
 * ("-1 hour", "1 day"). */
void db_token(const char *token, const char *user, const char *expires);
/* Upserts usermeta(username, key, value). */
void db_meta(const char *user, const char *key, const char *value);
void db_meta_del(const char *user, const char *key);
long long db_count_messages(const char *room_id);
long long db_count_rooms(void);
bool db_room_exists(const char *room_id);
/* UPDATE rooms SET expires_at = now() - 1 s. */
void db_expire_room(const char *room_id);
/* Row counts of rooms, room_users, messages. */
void db_snapshot(long long out[3]);

/* ---- Redis (harness_redis.c) ------------------------------------------ */

/* The suite's redis-server (the original's authdb and usermeta stand-in):
 * started on a free loopback port when first needed, its port returned;
 * fails the test when it cannot start. */
int h_redis_port(void);
/* Stops it (SIGTERM, waited for); the next h_redis_port() starts it again
 * on the same port, empty. */
void h_redis_stop(void);
/* SIGSTOP / SIGCONT: a Redis that accepts connections and never answers. */
void h_redis_pause(bool paused);
/* Runs one command (NULL-terminated ARGV); fails the test on an error. */
void h_redis(const char *const *argv);
#define REDIS(...) h_redis((const char *const[]){ __VA_ARGS__, NULL })
/* GET KEY (caller frees; NULL when missing). */
char *h_redis_get(const char *key);
/* FLUSHALL when it runs. */
void h_redis_flush(void);
/* From now on policies (db_meta, db_meta_del, db_reset) are written to the
 * Redis as ganomede-usermeta writes them ("user:key"), and every server
 * started reads them there (REDIS_USERMETA_PORT_6379_TCP_*); off: the
 * usermeta table. */
void h_policies_in_redis(bool on);
bool h_policies_are_in_redis(void);
void h_redis_cleanup(void);
/* SIGKILL, async-signal-safe (signal handlers). */
void h_redis_kill_now(void);

/* ---- the way servers reach PostgreSQL ---------------------------------- */

enum h_database_route {
    H_DIRECT,                 /* DATABASE_URL, PostgreSQL itself */
    H_PGBOUNCER_SESSION,      /* through pgbouncer's session pool */
    H_PGBOUNCER_TRANSACTION,  /* requests through its transaction pool
                                 (DATABASE_POOL_MODE=transaction), the
                                 dispatcher and expiry through its session
                                 pool (DATABASE_SESSION_URL) */
};
/* Every server started from now on reaches PostgreSQL this way (the
 * suite's own connection stays direct). False, with a message, when
 * pgbouncer is not running (PGBOUNCER_*_URL unset: scripts/deps.sh test). */
bool h_database_via(enum h_database_route route);

/* ---- API shortcuts (assert success) ---------------------------------- */

/* POST rooms with the secret; body is JSON text. Returns nothing. */
void api_create_room(const char *body_json);
/* POST a message as token into room_id (plain id, encoded here). */
void api_post_msg(const char *token, const char *room_id, const char *body_json);
/* POST rooms with the secret for the room TYPE/U1/U2 (U1, U2 sorted). */
void api_room_of_two(const char *type, const char *u1, const char *u2);
/* POST {"timestamp":1,"type":"text","message":TEXT} (TEXT plain) as TOKEN. */
void api_post_text(const char *token, const char *room_id, const char *text);

/* ---- faults helpers ---------------------------------------------------- */

/* CHAT_WRAPPER="valgrind --error-exitcode=99 ..." runs every server under
 * that command (split on spaces). Timing bounds are then multiplied by
 * h_slow_factor(): 10 under a wrapper, 1 otherwise, IT_SLOW_FACTOR when set.
 * A server that exits with the wrapper's --error-exitcode fails the test
 * that stopped it (std_teardown returns -1); h_wrapper_errors counts them. */
int h_slow_factor(void);
extern int h_wrapper_errors;
/* Waits up to ms for the server to exit on its own (no signal sent); true
 * when it did (status in s->exit_status). *seconds: how long it took. */
bool server_wait_exit(server_t *s, int ms, double *seconds);

#endif
