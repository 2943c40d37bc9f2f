/*
 * Integration test harness: the real server as a child process, libcurl
 * for HTTP, libpq for setting up and checking the database. See harness.h.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

extern char **environ;

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

typedef struct envv {
    char **v;      /* NULL-terminated */
    size_t n, cap;
} envv_t;

typedef struct chunk_src {
    const char *p;
    size_t left;
} chunk_src_t;

static bool buf_add(buf_t *b, const void *data, size_t n);
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud);
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud);
static size_t on_read(char *ptr, size_t size, size_t nmemb, void *ud);
static void env_set(envv_t *e, const char *kv);
static void env_free(envv_t *e);
static void vec_push(envv_t *e, const char *s);
static void env_base(envv_t *e);
static char *read_file(const char *path);
static void print_log_tail(const char *path);
static void fail_context(resp_t *r);
static resp_t *http_vreq(const char *method, const char *body, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static bool wait_child(pid_t pid, int timeout_ms, int *status);
static void h_wrapper_argv(envv_t *argv);
static void h_wrapper_check(server_t *s);
static int wrapper_errors_at_setup, wrapper_errors_at_group_start;

server_t *h_srv;
static server_t *group_srv;
#define MAX_SCOPED 8
static server_t *scoped[MAX_SCOPED];
#define MAX_LIVE 64
static server_t *live[MAX_LIVE];   /* every started server, for h_stop_all */

static const char *chat_bin;
static const char *database_url;
static char logdir[256];
static int n_servers;
static PGconn *conn;

/* ---- suite ---------------------------------------------------------- */

const char *h_env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

const char *h_logdir(void)
{
    return logdir;
}

void h_remove_logdir(void)
{
    DIR *d = opendir(logdir);
    struct dirent *e;
    char path[512];

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", logdir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(logdir);
}

bool h_init(void)
{
    chat_bin = h_env("CHAT_BIN");
    database_url = h_env("DATABASE_URL");
    if (!chat_bin || !database_url) {
        fprintf(stderr, "integration tests: CHAT_BIN and DATABASE_URL must be set "
                        "(run them through scripts/test-integration.sh)\n");
        return false;
    }
    if (access(chat_bin, X_OK) != 0) {
        fprintf(stderr, "integration tests: CHAT_BIN=%s is not executable: %s\n",
                chat_bin, strerror(errno));
        return false;
    }
    snprintf(logdir, sizeof logdir, "/tmp/ganomede-chat-it.XXXXXX");
    if (!mkdtemp(logdir)) {
        fprintf(stderr, "integration tests: mkdtemp: %s\n", strerror(errno));
        return false;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "integration tests: curl_global_init failed\n");
        return false;
    }
    fprintf(stderr, "integration tests: server logs in %s\n", logdir);
    return true;
}

void h_cleanup(void)
{
    h_stop_all();
    h_redis_cleanup();
    if (conn) {
        PQfinish(conn);
        conn = NULL;
    }
    curl_global_cleanup();
    if (h_wrapper_errors > 0) {
        /* a CHAT_WRAPPER (valgrind) report fails the run, logs kept */
        fprintf(stderr, "integration tests: CHAT_WRAPPER reported errors in %d server(s); "
                        "server logs in %s\n", h_wrapper_errors, logdir);
        exit(1);
    }
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- environment for children ----------------------------------------- */

static void env_set(envv_t *e, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t name_len = eq ? (size_t)(eq - kv) : strlen(kv);

    for (size_t i = 0; i < e->n; i++) {
        if (strncmp(e->v[i], kv, name_len) == 0 && e->v[i][name_len] == '=') {
            free(e->v[i]);
            if (eq) {
                e->v[i] = strdup(kv);
            } else {
                memmove(&e->v[i], &e->v[i + 1], (e->n - i) * sizeof(char *));
                e->n--;
            }
            return;
        }
    }
    if (!eq)
        return;
    if (e->n + 2 > e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->v = realloc(e->v, e->cap * sizeof(char *));
    }
    e->v[e->n++] = strdup(kv);
    e->v[e->n] = NULL;
}

/* Appends a copy of s (argv building: posix_spawn wants char *const []). */
static void vec_push(envv_t *e, const char *s)
{
    if (e->n + 2 > e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->v = realloc(e->v, e->cap * sizeof(char *));
    }
    e->v[e->n++] = strdup(s);
    e->v[e->n] = NULL;
}

static void env_free(envv_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}

/* DATABASE_URL, plus what a sanitizer build or the loader may need. */
static void env_base(envv_t *e)
{
    /* HTTP_IO_THREADS passes through, so that the whole suite can run
     * with either request model (handlers on the socket threads, or on
     * request threads fed by them). */
    static const char *const pass[] = {
        "PATH", "LD_LIBRARY_PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS",
        "LSAN_OPTIONS", "TMPDIR", "HOME", "HTTP_IO_THREADS", NULL
    };
    char kv[4096];

    snprintf(kv, sizeof kv, "DATABASE_URL=%s", database_url);
    env_set(e, kv);
    for (size_t i = 0; pass[i]; i++) {
        const char *v = getenv(pass[i]);
        if (v) {
            snprintf(kv, sizeof kv, "%s=%s", pass[i], v);
            env_set(e, kv);
        }
    }
}

/* ---- processes ------------------------------------------------------ */

int h_free_port(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    buf_t b = { 0 };
    char tmp[8192];
    size_t n;

    if (!f)
        return strdup("");
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_add(&b, tmp, n);
    fclose(f);
    if (!b.p)
        return strdup("");
    return b.p;
}

static void print_log_tail(const char *path)
{
    char *log = read_file(path);
    size_t len = strlen(log);
    const char *from = len > 3000 ? log + len - 3000 : log;

    print_error("---- last lines of %s ----\n%s\n---- end of log ----\n", path, from);
    free(log);
}

/* Waits for pid up to timeout_ms; true when it exited (status set). */
static bool wait_child(pid_t pid, int timeout_ms, int *status)
{
    double end = now_s() + timeout_ms / 1000.0;

    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return true;
        if (r < 0 && errno != EINTR)
            return true;
        if (now_s() > end)
            return false;
        sleep_ms(20);
    }
}

bool server_alive(server_t *s)
{
    int st;

    if (!s || s->pid <= 0)
        return false;
    if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
        s->exit_status = st;
        s->pid = 0;
        return false;
    }
    return true;
}

static enum h_database_route database_route = H_DIRECT;

bool h_database_via(enum h_database_route route)
{
    if (route != H_DIRECT && (!h_env("PGBOUNCER_SESSION_URL") ||
                              !h_env("PGBOUNCER_TRANSACTION_URL"))) {
        print_error("pgbouncer is not running (PGBOUNCER_*_URL unset): install it with "
                    "scripts/deps.sh test\n");
        return false;
    }
    database_route = route;
    return true;
}

/* The DATABASE_* variables of a server for the current route. */
static void h_database_env(envv_t *env)
{
    char kv[600];
    if (database_route == H_DIRECT)
        return;
    snprintf(kv, sizeof kv, "DATABASE_URL=%s",
             h_env(database_route == H_PGBOUNCER_SESSION ? "PGBOUNCER_SESSION_URL"
                                                         : "PGBOUNCER_TRANSACTION_URL"));
    env_set(env, kv);
    if (database_route == H_PGBOUNCER_TRANSACTION) {
        env_set(env, "DATABASE_POOL_MODE=transaction");
        snprintf(kv, sizeof kv, "DATABASE_SESSION_URL=%s", h_env("PGBOUNCER_SESSION_URL"));
        env_set(env, kv);
    }
}

bool server_start(server_t *s, const char *const *overrides)
{
    envv_t env = { 0 };
    char kv[512];
    posix_spawn_file_actions_t fa;
    envv_t argv = { 0 };
    int fd;
    bool ok = false;

    memset(s, 0, sizeof *s);
    snprintf(s->prefix, sizeof s->prefix, "/chat/v1");
    s->port = h_free_port();
    if (s->port <= 0) {
        print_error("no free port\n");
        return false;
    }
    snprintf(s->log_path, sizeof s->log_path, "%s/server-%02d-port%d.log", logdir,
             ++n_servers, s->port);

    env_base(&env);
    snprintf(kv, sizeof kv, "PORT=%d", s->port);
    env_set(&env, kv);
    env_set(&env, "API_SECRET=" IT_SECRET);
    env_set(&env, "EXPIRY_INTERVAL_SECONDS=0");
    h_database_env(&env);
    if (h_policies_are_in_redis()) {
        env_set(&env, "REDIS_USERMETA_PORT_6379_TCP_ADDR=127.0.0.1");
        snprintf(kv, sizeof kv, "REDIS_USERMETA_PORT_6379_TCP_PORT=%d", h_redis_port());
        env_set(&env, kv);
    }
    for (size_t i = 0; overrides && overrides[i]; i++) {
        env_set(&env, overrides[i]);
        if (strncmp(overrides[i], "ROUTE_PREFIX=", 13) == 0) {
            const char *p = overrides[i] + 13;
            while (*p == '/')
                p++;
            snprintf(s->prefix, sizeof s->prefix, "/%s", p);
            size_t l = strlen(s->prefix);
            while (l > 1 && s->prefix[l - 1] == '/')
                s->prefix[--l] = '\0';
        }
    }

    fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        print_error("open %s: %s\n", s->log_path, strerror(errno));
        env_free(&env);
        return false;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    h_wrapper_argv(&argv);   /* CHAT_WRAPPER words first, when set */
    vec_push(&argv, chat_bin);
    vec_push(&argv, "serve");
    int rc = posix_spawnp(&s->pid, argv.v[0], &fa, NULL, argv.v, env.v);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    env_free(&env);
    env_free(&argv);
    if (rc != 0) {
        print_error("posix_spawn %s: %s\n", chat_bin, strerror(rc));
        s->pid = 0;
        return false;
    }

    char path[256];
    snprintf(path, sizeof path, "%s/ping/ready", s->prefix);
    double end = now_s() + 10.0 * h_slow_factor();
    while (now_s() < end) {
        if (!server_alive(s)) {
            print_error("server exited during start-up (status %d)\n", s->exit_status);
            break;
        }
        req_t rq = { .srv = s, .method = "GET", .path = path, .timeout_ms = 1000 };
        resp_t *r = http_do(&rq);
        long st = r->status;
        resp_free(r);
        if (st == 200) {
            ok = true;
            break;
        }
        sleep_ms(50);
    }
    if (!ok) {
        print_error("server did not become ready on port %d within %d s\n", s->port,
                    10 * h_slow_factor());
        print_log_tail(s->log_path);
        server_stop(s);
    }
    return ok;
}

bool server_stop_within(server_t *s, int ms, double *seconds)
{
    int st = 0;
    bool in_time = true;
    double t0 = now_s();

    if (seconds)
        *seconds = 0;
    if (!s || s->pid <= 0)
        return true;
    kill(s->pid, SIGTERM);
    if (!wait_child(s->pid, ms, &st)) {
        in_time = false;
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
    }
    if (seconds)
        *seconds = now_s() - t0;
    s->exit_status = st;
    s->pid = 0;
    h_wrapper_check(s);
    return in_time;
}

void server_stop(server_t *s)
{
    int wait_ms = 10000 * (h_slow_factor() > 1 ? 3 : 1);
    if (s && s->pid > 0 && !server_stop_within(s, wait_ms, NULL))
        print_error("server on port %d ignored SIGTERM for %d s; killed (log: %s)\n",
                    s->port, wait_ms / 1000, s->log_path);
}

server_t *server_new(const char *const *overrides)
{
    server_t *s = calloc(1, sizeof *s);

    if (!server_start(s, overrides)) {
        free(s);
        return NULL;
    }
    for (size_t i = 0; i < MAX_LIVE; i++)
        if (!live[i]) {
            live[i] = s;
            break;
        }
    return s;
}

void server_free(server_t *s)
{
    if (!s)
        return;
    server_stop(s);
    for (size_t i = 0; i < MAX_LIVE; i++)
        if (live[i] == s)
            live[i] = NULL;
    if (h_srv == s)
        h_srv = group_srv == s ? NULL : group_srv;
    free(s);
}

char *server_log(server_t *s)
{
    return read_file(s->log_path);
}

char *h_read_file(const char *path)
{
    return read_file(path);
}

int group_start(const char *const *overrides)
{
    wrapper_errors_at_group_start = h_wrapper_errors;
    group_srv = server_new(overrides);
    h_srv = group_srv;
    return group_srv ? 0 : -1;
}

int group_setup_default(void **state)
{
    (void)state;
    return group_start(NULL);
}

int group_teardown_server(void **state)
{
    (void)state;
    server_free(group_srv);
    group_srv = NULL;
    h_srv = NULL;
    return h_wrapper_errors > wrapper_errors_at_group_start ? -1 : 0;
}

server_t *scoped_server(const char *const *overrides)
{
    size_t i;

    for (i = 0; i < MAX_SCOPED && scoped[i]; i++) {
    }
    if (i == MAX_SCOPED) {
        print_error("too many scoped servers\n");
        fail();
    }
    scoped[i] = server_new(overrides);
    if (!scoped[i])
        fail_msg("could not start a server for this test");
    return scoped[i];
}

int std_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < MAX_SCOPED; i++) {
        server_free(scoped[i]);
        scoped[i] = NULL;
    }
    h_srv = group_srv;
    /* a server of this test that CHAT_WRAPPER (valgrind) found errors in */
    return h_wrapper_errors > wrapper_errors_at_setup ? -1 : 0;
}

void h_kill_all_now(void)
{
    h_redis_kill_now();
    for (size_t i = 0; i < MAX_LIVE; i++)
        if (live[i] && live[i]->pid > 0)
            kill(live[i]->pid, SIGKILL);
}

void h_stop_all(void)
{
    for (size_t i = 0; i < MAX_LIVE; i++)
        if (live[i])
            server_stop(live[i]);
}

int std_setup(void **state)
{
    (void)state;
    wrapper_errors_at_setup = h_wrapper_errors;
    db_reset();
    db_token(TOK_ALICE, "alice", NULL);
    db_token(TOK_BOB, "bob", NULL);
    db_token(TOK_CAROL, "carol", NULL);
    return 0;
}

int run_program(const char *path, const char *const *args, const char *const *overrides,
                int timeout_ms, bool stop_expected, char **out, char **err)
{
    envv_t env = { 0 }, argv = { 0 };
    char out_path[320], err_path[320];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st = 0, rc, result = -1;
    static int n_runs;

    vec_push(&argv, path);
    for (size_t i = 0; args && args[i]; i++)
        vec_push(&argv, args[i]);

    env_base(&env);
    for (size_t i = 0; overrides && overrides[i]; i++)
        env_set(&env, overrides[i]);

    n_runs++;
    snprintf(out_path, sizeof out_path, "%s/run-%02d.out", logdir, n_runs);
    snprintf(err_path, sizeof err_path, "%s/run-%02d.err", logdir, n_runs);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    rc = posix_spawn(&pid, path, &fa, NULL, argv.v, env.v);
    posix_spawn_file_actions_destroy(&fa);
    env_free(&env);
    if (rc != 0) {
        print_error("posix_spawn %s: %s\n", path, strerror(rc));
    } else if (!wait_child(pid, timeout_ms, &st)) {
        if (!stop_expected)
            print_error("%s %s still running after %d ms; killed\n", path,
                        argv.n > 1 ? argv.v[1] : "", timeout_ms);
        kill(pid, stop_expected ? SIGTERM : SIGKILL);
        if (!wait_child(pid, 10000, &st)) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
    } else if (WIFEXITED(st)) {
        result = WEXITSTATUS(st);
    }
    env_free(&argv);
    if (out)
        *out = read_file(out_path);
    if (err)
        *err = read_file(err_path);
    return result;
}

int run_chat(const char *const *args, const char *const *overrides,
             int timeout_s, char **out, char **err)
{
    return run_program(chat_bin, args, overrides, timeout_s * 1000, false, out, err);
}

int h_stalled_upload(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    char req[512];

    if (fd < 0)
        fail_msg("socket: %s", strerror(errno));
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        fail_msg("connect to port %d: %s", port, strerror(errno));
    int n = snprintf(req, sizeof req,
                     "POST /chat/v1/auth/%s/rooms HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
                     "{\"type\":\"t\",", IT_SECRET);
    if (write(fd, req, (size_t)n) != n)
        fail_msg("write: %s", strerror(errno));
    return fd;
}

void h_abort_upload(int port)
{
    close(h_stalled_upload(port));
}

char *h_raw_exchange(int port, const char *data, size_t len, int timeout_ms, bool *closed)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    buf_t b = { 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *closed = false;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        fail_msg("connect to port %d: %s", port, strerror(errno));
    for (size_t sent = 0; sent < len;) {
        ssize_t n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;   /* the server may close before taking it all */
        sent += (size_t)n;
    }
    double deadline = now_s() + timeout_ms / 1000.0;
    for (;;) {
        int left = (int)((deadline - now_s()) * 1000);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) {
            *closed = true;   /* EOF, or reset after the answer */
            break;
        }
        buf_add(&b, tmp, (size_t)n);
    }
    close(fd);
    return b.p ? b.p : strdup("");
}

long long h_server_hwm_kb(server_t *s)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "r");
    long long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtoll(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

bool h_log_contains(server_t *s, const char *needle)
{
    for (int i = 0; i < 40 * h_slow_factor(); i++) {
        char *log = server_log(s);
        bool found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return true;
        usleep(50 * 1000);
    }
    return false;
}

json_object *h_log_line(server_t *s, const char *req_id, const char *msg)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\"req_id\":\"%s\"", req_id);
    for (int i = 0; i < 40 * h_slow_factor(); i++) {
        char *log = server_log(s);
        for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
            if (!strstr(line, needle))
                continue;
            json_object *o = json_tokener_parse(line);
            json_object *m = NULL;
            if (o && json_object_object_get_ex(o, "msg", &m) &&
                strcmp(json_object_get_string(m), msg) == 0) {
                free(log);
                return o;
            }
            json_object_put(o);
        }
        free(log);
        usleep(50 * 1000);
    }
    return NULL;
}

int run_pg_script(const char *verb)
{
    const char *script = h_env("PG_SCRIPT"), *dir = h_env("PG_DIR");
    envv_t argv = { 0 };
    char log_path[320];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st = 0, rc;

    if (!script || !dir)
        return -1;
    snprintf(log_path, sizeof log_path, "%s/pg-script.log", logdir);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    vec_push(&argv, script);
    vec_push(&argv, verb);
    vec_push(&argv, dir);
    rc = posix_spawn(&pid, script, &fa, NULL, argv.v, environ);
    posix_spawn_file_actions_destroy(&fa);
    env_free(&argv);
    if (rc != 0)
        return -1;
    if (!wait_child(pid, 90000, &st)) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- HTTP ----------------------------------------------------------- */

static bool buf_add(buf_t *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    return buf_add(ud, ptr, size * nmemb) ? size * nmemb : 0;
}

/* Keeps only the last header block (drops 100 Continue and the like). */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf_t *b = ud;
    size_t n = size * nmemb;

    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
        b->len = 0;
    return buf_add(b, ptr, n) ? n : 0;
}

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *ud)
{
    chunk_src_t *src = ud;
    size_t n = size * nmemb;

    if (n > 700)
        n = 700;   /* several chunks on the wire */
    if (n > src->left)
        n = src->left;
    memcpy(ptr, src->p, n);
    src->p += n;
    src->left -= n;
    return n;
}

resp_t *http_do(const req_t *r)
{
    server_t *s = r->srv ? r->srv : h_srv;
    resp_t *res = calloc(1, sizeof *res);
    buf_t body = { 0 }, hdrs = { 0 };
    struct curl_slist *list = NULL;
    char url[64], line[512];
    chunk_src_t src = { 0 };
    size_t body_len = r->body ? (r->body_len ? r->body_len : strlen(r->body)) : 0;
    CURL *c = curl_easy_init();
    CURLcode cc;
    double t0;

    snprintf(res->method, sizeof res->method, "%s", r->method);
    snprintf(res->path, sizeof res->path, "%s", r->path);
    if (!s || !c) {
        snprintf(res->error, sizeof res->error, "no server running / curl init failed");
        if (c)
            curl_easy_cleanup(c);
        res->body = strdup("");
        res->headers = strdup("");
        return res;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_REQUEST_TARGET, r->path);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms ? r->timeout_ms : 15000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hdrs);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, res->error);
    if (r->accept_encoding)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, r->accept_encoding);

    list = curl_slist_append(list, "Expect:");
    if (r->body) {
        snprintf(line, sizeof line, "Content-Type: %s",
                 r->content_type ? r->content_type : "application/json");
        list = curl_slist_append(list, line);
    }
    for (size_t i = 0; r->headers && r->headers[i]; i++)
        list = curl_slist_append(list, r->headers[i]);

    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (r->body && r->chunked) {
        src.p = r->body;
        src.left = body_len;
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
        if (strcmp(r->method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    } else if (r->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        if (strcmp(r->method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);

    t0 = now_s();
    cc = curl_easy_perform(c);
    res->seconds = now_s() - t0;
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    } else {
        res->status = 0;
        if (!res->error[0])
            snprintf(res->error, sizeof res->error, "%s", curl_easy_strerror(cc));
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    res->body = body.p ? body.p : strdup("");
    res->len = body.len;
    res->headers = hdrs.p ? hdrs.p : strdup("");
    return res;
}

static resp_t *http_vreq(const char *method, const char *body, const char *fmt, va_list ap)
{
    char path[8192];
    req_t r = { 0 };

    vsnprintf(path, sizeof path, fmt, ap);
    r.method = method;
    r.path = path;
    r.body = body;
    return http_do(&r);
}

resp_t *http_get(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    resp_t *r = http_vreq("GET", NULL, fmt, ap);
    va_end(ap);
    return r;
}

resp_t *http_post(const char *body, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    resp_t *r = http_vreq("POST", body, fmt, ap);
    va_end(ap);
    return r;
}

resp_t *http_method(const char *method, const char *body, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    resp_t *r = http_vreq(method, body, fmt, ap);
    va_end(ap);
    return r;
}

void resp_free(resp_t *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->headers);
    if (r->json)
        json_object_put(r->json);
    free(r);
}

char *resp_header(const resp_t *r, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = r->headers;

    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t llen = eol ? (size_t)(eol - p) : strlen(p);
        if (llen > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            const char *end = p + llen;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
                end--;
            return strndup(v, (size_t)(end - v));
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

json_object *resp_json(resp_t *r)
{
    if (!r->json && r->len > 0) {
        json_tokener *tok = json_tokener_new_ex(1000);
        r->json = json_tokener_parse_ex(tok, r->body, (int)r->len);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            if (r->json)
                json_object_put(r->json);
            r->json = NULL;
        }
        json_tokener_free(tok);
    }
    return r->json;
}

static const char *enc_common(const char *s, bool only_slash)
{
    static char ring[16][8192];
    static unsigned next;
    static const char hex[] = "0123456789ABCDEF";
    char *out = ring[next++ % 16];
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < 8192; p++) {
        bool keep = only_slash ? (*p != '/')
                               : ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
                                  *p == '_' || *p == '~');
        if (keep) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return out;
}

const char *enc(const char *s)
{
    return enc_common(s, false);
}

const char *enc_slash(const char *s)
{
    return enc_common(s, true);
}

/* ---- assertions ----------------------------------------------------- */

static void fail_context(resp_t *r)
{
    if (r) {
        print_error("  request: %s %s\n  status: %ld (%.2f s)%s%s\n  body: %.*s\n",
                    r->method, r->path, r->status, r->seconds,
                    r->error[0] ? "  curl: " : "", r->error,
                    (int)(r->len > 2000 ? 2000 : r->len), r->body);
    }
    if (h_srv) {
        print_error("  server log: %s\n", h_srv->log_path);
        if (h_srv->pid > 0 && !server_alive(h_srv)) {
            int st = h_srv->exit_status;
            if (WIFSIGNALED(st))
                print_error("  the server is gone: killed by signal %d\n", WTERMSIG(st));
            else
                print_error("  the server is gone: exited with status %d\n", WEXITSTATUS(st));
        }
    }
}

void h_assert_status(resp_t *r, long status, const char *file, int line)
{
    if (r->status != status) {
        print_error("%s:%d: expected status %ld, got %ld\n", file, line, status, r->status);
        fail_context(r);
        _fail(file, line);
    }
}

void h_assert_header(resp_t *r, const char *name, const char *file, int line)
{
    char *v = resp_header(r, name);
    if (!v || !*v) {
        print_error("%s:%d: header %s missing\n  headers:\n%s\n", file, line, name, r->headers);
        free(v);
        fail_context(r);
        _fail(file, line);
    }
    free(v);
}

void h_assert_content_type(resp_t *r, const char *prefix, const char *file, int line)
{
    char *ct = resp_header(r, "Content-Type");
    if (!ct || strncasecmp(ct, prefix, strlen(prefix)) != 0) {
        print_error("%s:%d: Content-Type is %s, want %s\n  headers:\n%s\n", file, line,
                    ct ? ct : "(none)", prefix, r->headers);
        free(ct);
        fail_context(r);
        _fail(file, line);
    }
    free(ct);
}

void h_assert_error(resp_t *r, long status, const char *code, const char *message,
                    const char *file, int line)
{
    json_object *j, *v;
    char *ct;
    const char *why = NULL;

    h_assert_status(r, status, file, line);
    ct = resp_header(r, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        why = "Content-Type is not application/json";
    free(ct);
    if (!why && !(j = resp_json(r)))
        why = "body is not JSON";
    if (!why && !json_object_is_type(j, json_type_object))
        why = "body is not a JSON object";
    if (!why && (!json_object_object_get_ex(j, "code", &v) ||
                 !json_object_is_type(v, json_type_string) ||
                 strcmp(json_object_get_string(v), code) != 0))
        why = "wrong \"code\"";
    if (!why && (!json_object_object_get_ex(j, "message", &v) ||
                 !json_object_is_type(v, json_type_string) ||
                 (message && strcmp(json_object_get_string(v), message) != 0)))
        why = "wrong \"message\"";
    if (why) {
        print_error("%s:%d: %s; expected {\"code\":\"%s\",\"message\":%s%s%s}\n", file, line,
                    why, code, message ? "\"" : "", message ? message : "<any string>",
                    message ? "\"" : "");
        fail_context(r);
        _fail(file, line);
    }
    h_assert_header(r, "x-request-id", file, line);
}

void h_assert_empty_ok(resp_t *r, const char *file, int line)
{
    h_assert_status(r, 200, file, line);
    size_t i = 0, e = r->len;
    while (i < e && strchr(" \t\r\n", r->body[i]))
        i++;
    while (e > i && strchr(" \t\r\n", r->body[e - 1]))
        e--;
    if (!(e == i || (e - i == 2 && memcmp(r->body + i, "{}", 2) == 0))) {
        print_error("%s:%d: expected an empty body or {}\n", file, line);
        fail_context(r);
        _fail(file, line);
    }
}

void h_assert_json_str(json_object *o, const char *key, const char *want,
                       const char *file, int line)
{
    json_object *v;

    if (!o || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string) ||
        strcmp(json_object_get_string(v), want) != 0) {
        print_error("%s:%d: expected \"%s\": \"%s\" in %s\n", file, line, key, want,
                    o ? json_object_to_json_string(o) : "(null)");
        if (h_srv)
            print_error("  server log: %s\n", h_srv->log_path);
        _fail(file, line);
    }
}

json_object *h_assert_room(resp_t *r, const char *id, const char *type,
                           const char *const *users, size_t n_users,
                           size_t n_messages, const char *file, int line)
{
    json_object *j, *v, *m = NULL;
    char why[512] = "";

    h_assert_status(r, 200, file, line);
    j = resp_json(r);
    if (!j || !json_object_is_type(j, json_type_object)) {
        snprintf(why, sizeof why, "body is not a JSON object");
    } else if (json_object_object_length(j) != 4) {
        snprintf(why, sizeof why, "room has %d keys, want exactly id, type, users, messages",
                 json_object_object_length(j));
    } else if (!json_object_object_get_ex(j, "id", &v) ||
               !json_object_is_type(v, json_type_string) ||
               strcmp(json_object_get_string(v), id) != 0) {
        snprintf(why, sizeof why, "id is not \"%s\"", id);
    } else if (!json_object_object_get_ex(j, "type", &v) ||
               !json_object_is_type(v, json_type_string) ||
               strcmp(json_object_get_string(v), type) != 0) {
        snprintf(why, sizeof why, "type is not \"%s\"", type);
    } else if (!json_object_object_get_ex(j, "users", &v) ||
               !json_object_is_type(v, json_type_array) ||
               json_object_array_length(v) != n_users) {
        snprintf(why, sizeof why, "users is not an array of %zu", n_users);
    } else {
        for (size_t i = 0; i < n_users; i++) {
            json_object *u = json_object_array_get_idx(v, i);
            if (!json_object_is_type(u, json_type_string) ||
                strcmp(json_object_get_string(u), users[i]) != 0) {
                snprintf(why, sizeof why, "users[%zu] is not \"%s\"", i, users[i]);
                break;
            }
        }
        if (!why[0] && (!json_object_object_get_ex(j, "messages", &m) ||
                        !json_object_is_type(m, json_type_array) ||
                        json_object_array_length(m) != n_messages))
            snprintf(why, sizeof why, "messages is not an array of %zu", n_messages);
    }
    if (why[0]) {
        print_error("%s:%d: %s\n", file, line, why);
        fail_context(r);
        _fail(file, line);
    }
    return m;
}

void h_assert_msg(json_object *m, const char *ts_json, const char *from,
                  const char *type, const char *message, const char *file, int line)
{
    json_object *v;
    const char *why = NULL;

    if (!m || !json_object_is_type(m, json_type_object))
        why = "not an object";
    else if (json_object_object_length(m) != 4)
        why = "does not have exactly timestamp, from, type, message";
    else if (!json_object_object_get_ex(m, "timestamp", &v) ||
             strcmp(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), ts_json) != 0)
        why = "wrong timestamp";
    if (!why) {
        h_assert_json_str(m, "from", from, file, line);
        h_assert_json_str(m, "type", type, file, line);
        h_assert_json_str(m, "message", message, file, line);
        return;
    }
    print_error("%s:%d: message %s: %s; want timestamp %s from %s type %s message %s\n",
                file, line, m ? json_object_to_json_string(m) : "(null)", why, ts_json,
                from, type, message);
    if (h_srv)
        print_error("  server log: %s\n", h_srv->log_path);
    _fail(file, line);
}

/* ---- database ------------------------------------------------------- */

PGconn *db(void)
{
    if (conn && PQstatus(conn) == CONNECTION_OK)
        return conn;
    if (conn)
        PQfinish(conn);
    const char *const keys[] = { "dbname", "application_name", "connect_timeout", NULL };
    const char *const vals[] = { database_url, "ganomede-chat-integration-tests", "5", NULL };
    conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        print_error("cannot connect to DATABASE_URL: %s\n", PQerrorMessage(conn));
        PQfinish(conn);
        conn = NULL;
        fail();
    }
    PQclear(PQexec(conn, "SET client_min_messages = warning"));
    return conn;
}

PGresult *db_query(const char *sql, int n, const char *const *params)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        PGconn *c = db();
        PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
            return res;
        if (PQstatus(c) == CONNECTION_BAD && attempt == 0) {
            PQclear(res);
            continue;   /* db() reconnects */
        }
        /* A TRUNCATE between tests may deadlock with a running server's
         * read (the live poller reads messages and room_users): again. */
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "40P01") == 0 && attempt < 4) {
            PQclear(res);
            continue;
        }
        print_error("SQL failed: %s\n  %s\n", sql, PQresultErrorMessage(res));
        PQclear(res);
        break;
    }
    fail();
    return NULL;
}

void db_exec(const char *sql, int n, const char *const *params)
{
    PQclear(db_query(sql, n, params));
}

long long db_long(const char *sql, int n, const char *const *params)
{
    PGresult *res = db_query(sql, n, params);
    if (PQntuples(res) != 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0)) {
        print_error("expected one non-NULL value from: %s (got %d rows)\n", sql, PQntuples(res));
        PQclear(res);
        fail();
    }
    long long v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

char *db_text(const char *sql, int n, const char *const *params)
{
    PGresult *res = db_query(sql, n, params);
    char *v = NULL;
    if (PQntuples(res) >= 1 && !PQgetisnull(res, 0, 0))
        v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

void db_reset(void)
{
    db_exec("TRUNCATE rooms, room_users, messages, auth_tokens, usermeta CASCADE", 0, NULL);
    /* The record refuses TRUNCATE (its triggers): a superuser in replica
     * mode, which fires no ordinary trigger, empties it between tests. */
    db_exec("DO $$ BEGIN IF to_regclass('message_archive') IS NOT NULL THEN "
            "SET LOCAL session_replication_role = replica; "
            "TRUNCATE message_archive, message_archive_held, audit_log, legal_holds; "
            "END IF; "
            "IF to_regclass('idempotency_keys') IS NOT NULL THEN "
            "TRUNCATE idempotency_keys; END IF; END $$", 0, NULL);
    h_redis_flush();
}

void db_token(const char *token, const char *user, const char *expires)
{
    db_exec("INSERT INTO auth_tokens (token, username, expires_at) "
            "VALUES ($1, $2, CASE WHEN $3::text IS NULL THEN NULL "
            "ELSE now() + $3::interval END) "
            "ON CONFLICT (token) DO UPDATE SET username = EXCLUDED.username, "
            "expires_at = EXCLUDED.expires_at",
            PARAMS(token, user, expires));
}

void db_meta(const char *user, const char *key, const char *value)
{
    if (h_policies_are_in_redis()) {
        char k[512];
        snprintf(k, sizeof k, "%s:%s", user, key);
        REDIS("SET", k, value);
        return;
    }
    db_exec("INSERT INTO usermeta (username, key, value) VALUES ($1, $2, $3) "
            "ON CONFLICT (username, key) DO UPDATE SET value = EXCLUDED.value",
            PARAMS(user, key, value));
}

void db_meta_del(const char *user, const char *key)
{
    if (h_policies_are_in_redis()) {
        char k[512];
        snprintf(k, sizeof k, "%s:%s", user, key);
        REDIS("DEL", k);
        return;
    }
    db_exec("DELETE FROM usermeta WHERE username = $1 AND key = $2", PARAMS(user, key));
}

long long db_count_messages(const char *room_id)
{
    return db_long("SELECT count(*) FROM messages WHERE room_id = $1", PARAMS(room_id));
}

long long db_count_rooms(void)
{
    return db_long("SELECT count(*) FROM rooms", 0, NULL);
}

bool db_room_exists(const char *room_id)
{
    return db_long("SELECT count(*) FROM rooms WHERE id = $1", PARAMS(room_id)) == 1;
}

void db_expire_room(const char *room_id)
{
    db_exec("UPDATE rooms SET expires_at = now() - interval '1 second' WHERE id = $1",
            PARAMS(room_id));
}

void db_snapshot(long long out[3])
{
    out[0] = db_long("SELECT count(*) FROM rooms", 0, NULL);
    out[1] = db_long("SELECT count(*) FROM room_users", 0, NULL);
    out[2] = db_long("SELECT count(*) FROM messages", 0, NULL);
}

/* ---- API shortcuts -------------------------------------------------- */

void api_create_room(const char *body_json)
{
    resp_t *r = http_post(body_json, PFX "/auth/%s/rooms", IT_SECRET);
    assert_status(r, 200);
    resp_free(r);
}

void api_post_msg(const char *token, const char *room_id, const char *body_json)
{
    resp_t *r = http_post(body_json, PFX "/auth/%s/rooms/%s/messages", token, enc(room_id));
    assert_empty_ok(r);
    resp_free(r);
}

void api_room_of_two(const char *type, const char *u1, const char *u2)
{
    char body[256];
    snprintf(body, sizeof body, "{\"type\":\"%s\",\"users\":[\"%s\",\"%s\"]}", type, u1, u2);
    api_create_room(body);
}

void api_post_text(const char *token, const char *room_id, const char *text)
{
    char body[512];
    snprintf(body, sizeof body, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"%s\"}", text);
    api_post_msg(token, room_id, body);
}

/* ---- CHAT_WRAPPER, slow factor, waiting for an exit ------------------- */

int h_wrapper_errors;

int h_slow_factor(void)
{
    const char *f = h_env("IT_SLOW_FACTOR");
    if (f && atoi(f) >= 1)
        return atoi(f);
    return h_env("CHAT_WRAPPER") ? 10 : 1;
}

/* Pushes the words of CHAT_WRAPPER (split on spaces and tabs). */
static void h_wrapper_argv(envv_t *argv)
{
    const char *w = h_env("CHAT_WRAPPER");
    char word[1024];

    while (w && *w) {
        size_t n = strcspn(w, " \t");
        if (n > 0 && n < sizeof word) {
            memcpy(word, w, n);
            word[n] = '\0';
            vec_push(argv, word);
        }
        w += n;
        w += strspn(w, " \t");
    }
}

/* The exit code CHAT_WRAPPER gives on errors (--error-exitcode=N), or -1. */
static int h_wrapper_error_code(void)
{
    const char *w = h_env("CHAT_WRAPPER");
    const char *p = w ? strstr(w, "--error-exitcode=") : NULL;
    return p ? atoi(p + strlen("--error-exitcode=")) : -1;
}

static void h_wrapper_check(server_t *s)
{
    int code = h_wrapper_error_code();
    if (code <= 0 || !WIFEXITED(s->exit_status) || WEXITSTATUS(s->exit_status) != code)
        return;
    h_wrapper_errors++;
    print_error("server on port %d: CHAT_WRAPPER reported errors (exit code %d)\n", s->port,
                code);
    print_log_tail(s->log_path);
}

bool server_wait_exit(server_t *s, int ms, double *seconds)
{
    int st = 0;
    double t0 = now_s();

    if (seconds)
        *seconds = 0;
    if (!s || s->pid <= 0)
        return true;
    if (!wait_child(s->pid, ms, &st))
        return false;
    if (seconds)
        *seconds = now_s() - t0;
    s->exit_status = st;
    s->pid = 0;
    h_wrapper_check(s);
    return true;
}
