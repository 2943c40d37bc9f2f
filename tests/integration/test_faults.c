/*
 * Faults: what a client sees when things break under it.
 *
 *   - PostgreSQL stopped for ~3 s under load: only 200 or a 503
 *     ServiceUnavailable JSON, each quickly; ping up throughout; service back
 *     soon after PostgreSQL; every message that got 200 is stored.
 *   - The server SIGKILLed under load: every 200 is stored, nothing is
 *     half-written, and a new server carries on.
 *   - SIGTERM with a request in flight: it still gets its 200, new
 *     connections are refused, the process exits 0; with a request stuck
 *     on a lock, it exits within the 5 s grace.
 *   - PostgreSQL frozen (SIGSTOP: no answer, no reset): 503, not a hang.
 *   - The PostgreSQL pool exhausted: 503 after DB_POOL_WAIT_MS, then 200.
 *   - A slow client is cut off after HTTP_REQUEST_TIMEOUT_SECONDS while
 *     others are served; 1000 idle connections do not stop others being
 *     served; HTTP_MAX_CONNECTIONS holds.
 *   - Size and character limits; SQL metacharacters stored verbatim.
 *
 * Requests that block on purpose hold a row lock on the room from a
 * connection of the test (lock_room), so that the server's own statement
 * waits. This group restarts PostgreSQL: it runs just before "outage".
 * Timing bounds are multiplied by h_slow_factor() (CHAT_WRAPPER=valgrind).
 */
#include "harness.h"
#include "tests.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define ROOM_AB "t/alice/bob"
#define ROOM_BC "t/bob/carol"
static const char *const ROOM_AB_BODY = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";
static const char *const ROOM_BC_BODY = "{\"type\":\"t\",\"users\":[\"bob\",\"carol\"]}";

/* ---- small helpers ------------------------------------------------------ */

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Seconds, scaled for slow runs (valgrind). */
static double slow(double seconds)
{
    return seconds * h_slow_factor();
}

/* A loopback TCP connection to port, or -1 with errno set. connect() and
 * later reads and writes give up after timeout_ms. */
static int raw_connect(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* What a raw connection got back within timeout_ms. */
enum raw_outcome { RAW_ANSWERED, RAW_CLOSED, RAW_SILENT, RAW_SEND_FAILED };

/* Sends req on fd, waits up to timeout_ms for the first bytes of an
 * answer. *status: the HTTP status when answered. */
static enum raw_outcome raw_exchange(int fd, const char *req, int timeout_ms, int *status)
{
    *status = 0;
    size_t len = strlen(req);
    if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
        return RAW_SEND_FAILED;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return RAW_SILENT;
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return RAW_CLOSED;
    buf[n] = '\0';
    if (strncmp(buf, "HTTP/1.", 7) == 0 && n >= 12)
        *status = atoi(buf + 9);
    return RAW_ANSWERED;
}

/* true when body is {"code":"ServiceUnavailable","message":<string>}. */
static bool is_unavailable_json(const char *body, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *j = json_tokener_parse_ex(tok, body, (int)len);
    bool ok = false;
    if (json_tokener_get_error(tok) == json_tokener_success && j &&
        json_object_is_type(j, json_type_object)) {
        json_object *c = NULL, *m = NULL;
        ok = json_object_object_get_ex(j, "code", &c) &&
             json_object_is_type(c, json_type_string) &&
             strcmp(json_object_get_string(c), "ServiceUnavailable") == 0 &&
             json_object_object_get_ex(j, "message", &m) &&
             json_object_is_type(m, json_type_string);
    }
    json_object_put(j);
    json_tokener_free(tok);
    return ok;
}

/* Our own connection holding `SELECT ... FOR UPDATE` on the room row:
 * any server statement that writes the room waits until unlock_room. */
static PGconn *lock_room(const char *room_id)
{
    const char *const keys[] = { "dbname", "application_name", NULL };
    const char *const vals[] = { h_env("DATABASE_URL"), "ganomede-chat-faults-lock", NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("lock connection: %s\n", PQerrorMessage(c));
        PQfinish(c);
        fail();
    }
    PQclear(PQexec(c, "BEGIN"));
    const char *params[] = { room_id };
    PGresult *r = PQexecParams(c, "SELECT id FROM rooms WHERE id = $1 FOR UPDATE", 1, NULL,
                               params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (!ok)
        print_error("could not lock room %s: %s\n", room_id, PQresultErrorMessage(r));
    PQclear(r);
    if (!ok) {
        PQfinish(c);
        fail();
    }
    return c;
}

static void unlock_room(PGconn *c)
{
    if (!c)
        return;
    PQclear(PQexec(c, "COMMIT"));
    PQfinish(c);
}

/* Waits (bounded) until n statements of a ganomede-chat server wait for a
 * lock; true when they do. */
static bool wait_blocked_statements(long long n, double seconds)
{
    double end = now_s() + seconds;
    while (now_s() < end) {
        if (db_long("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'ganomede-chat' AND wait_event_type = 'Lock'", 0, NULL) >= n)
            return true;
        nap_ms(20);
    }
    return false;
}

/* One request in a thread of its own. */
typedef struct bg {
    pthread_t th;
    req_t rq;
    char path[512];
    char body[512];
    resp_t *r;
    atomic_int done;
} bg_t;

static void *bg_main(void *arg)
{
    bg_t *b = arg;
    b->r = http_do(&b->rq);
    atomic_store(&b->done, 1);
    return NULL;
}

static void bg_start(bg_t *b, server_t *s, const char *method, const char *path,
                     const char *body, long timeout_ms)
{
    memset(b, 0, sizeof *b);
    snprintf(b->path, sizeof b->path, "%s", path);
    if (body)
        snprintf(b->body, sizeof b->body, "%s", body);
    b->rq.srv = s;
    b->rq.method = method;
    b->rq.path = b->path;
    b->rq.body = body ? b->body : NULL;
    b->rq.timeout_ms = timeout_ms;
    if (pthread_create(&b->th, NULL, bg_main, b) != 0)
        fail_msg("pthread_create failed");
}

static resp_t *bg_join(bg_t *b)
{
    pthread_join(b->th, NULL);
    return b->r;
}

/* Creates ROOM_AB, holds its row lock on a connection of the test, and
 * starts a POST of {TIMESTAMP, MESSAGE} to it in the background that blocks
 * on that lock (waits until it does). Returns the lock's connection
 * (unlock_room). */
static PGconn *post_blocked_on_lock(server_t *s, bg_t *bg, int timestamp, const char *message,
                                    long timeout_ms)
{
    api_create_room(ROOM_AB_BODY);
    PGconn *lk = lock_room(ROOM_AB);
    char path[256], body[128];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM_AB));
    snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"%s\"}",
             timestamp, message);
    bg_start(bg, s, "POST", path, body, timeout_ms);
    if (!wait_blocked_statements(1, slow(5.0))) {
        unlock_room(lk);
        resp_free(bg_join(bg));
        fail_msg("the POST never waited for the row lock");
    }
    return lk;
}

/* ---- posters: threads that post messages in a loop ------------------------ */

typedef struct rec {
    double t0, t1;    /* request start and end (now_s) */
    long status;      /* 0: no answer (connection failed, timeout) */
    bool good503;     /* 503 with a ServiceUnavailable JSON body */
} rec_t;

#define MAX_RECS 200000

typedef struct poster {
    pthread_t th;
    int id;
    int port;
    const char *tag;       /* texts are "<tag>-t<id>-<index>" */
    char path[512];        /* POST .../messages of its room */
    bool stop_on_error;    /* stop at the first answer that is not 200 */
    rec_t *recs;
    size_t n, cap;
    long bad_status;       /* first status other than 200 and a good 503 */
    char bad_body[256];
    atomic_int finished;   /* its loop is over */
} poster_t;

static atomic_int posters_stop;
/* Microseconds (now_s) from which a 200 counts as recovery, and the end of
 * the first such 200; 0 while unset. */
static _Atomic long long recovery_from_us, first_ok_after_us;

typedef struct sink {
    char b[2048];
    size_t len;
} sink_t;

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sink_t *s = ud;
    size_t n = size * nmemb;
    size_t room = sizeof s->b - 1 - s->len;
    memcpy(s->b + s->len, ptr, n < room ? n : room);
    s->len += n < room ? n : room;
    s->b[s->len] = '\0';
    return n;
}

static void poster_text(char *out, size_t outlen, const char *tag, int id, size_t i)
{
    snprintf(out, outlen, "%s-t%d-%06zu", tag, id, i);
}

static void *poster_main(void *arg)
{
    poster_t *p = arg;
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    char url[64], body[256], text[96];
    sink_t sink;

    snprintf(url, sizeof url, "http://127.0.0.1:%d/", p->port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_REQUEST_TARGET, p->path);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    while (!atomic_load(&posters_stop) && p->n < MAX_RECS) {
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 1024;
            p->recs = realloc(p->recs, p->cap * sizeof *p->recs);
        }
        size_t i = p->n;
        poster_text(text, sizeof text, p->tag, p->id, i);
        snprintf(body, sizeof body, "{\"timestamp\":%zu,\"type\":\"text\",\"message\":\"%s\"}",
                 i, text);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        sink.len = 0;
        sink.b[0] = '\0';
        rec_t *r = &p->recs[i];
        r->t0 = now_s();
        CURLcode cc = curl_easy_perform(c);
        r->t1 = now_s();
        r->status = 0;
        r->good503 = false;
        if (cc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        if (r->status == 503) {
            char *ct = NULL;
            curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
            r->good503 = ct && strncasecmp(ct, "application/json", 16) == 0 &&
                         is_unavailable_json(sink.b, sink.len);
        }
        if (r->status == 200) {
            long long from = atomic_load(&recovery_from_us);
            long long zero = 0;
            if (from > 0 && (long long)(r->t0 * 1e6) >= from)
                atomic_compare_exchange_strong(&first_ok_after_us, &zero,
                                               (long long)(r->t1 * 1e6));
        } else if (!r->good503 && !p->bad_status) {
            p->bad_status = r->status ? r->status : -1;
            snprintf(p->bad_body, sizeof p->bad_body, "%s",
                     cc == CURLE_OK ? sink.b : curl_easy_strerror(cc));
        }
        p->n++;
        if (r->status != 200 && p->stop_on_error)
            break;
        if (r->status == 0)
            nap_ms(20);   /* no busy loop on a refused connection */
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    atomic_store(&p->finished, 1);
    return NULL;
}

/* Pings every 100 ms while the posters run. */
typedef struct pinger {
    pthread_t th;
    int port;
    int sent, failed;
    double max_s;
    long first_bad;
} pinger_t;

static void *pinger_main(void *arg)
{
    pinger_t *pg = arg;
    char path[64];
    snprintf(path, sizeof path, PFX "/ping/faults");
    server_t fake = { .port = pg->port };
    while (!atomic_load(&posters_stop)) {
        req_t rq = { .srv = &fake, .method = "GET", .path = path, .timeout_ms = 10000 };
        resp_t *r = http_do(&rq);
        pg->sent++;
        if (r->seconds > pg->max_s)
            pg->max_s = r->seconds;
        if (r->status != 200 || strcmp(r->body, "pong/faults") != 0) {
            pg->failed++;
            if (!pg->first_bad)
                pg->first_bad = r->status ? r->status : -1;
        }
        resp_free(r);
        nap_ms(100);
    }
    return NULL;
}

/* Room and token of poster i: two rooms, users and the secret mixed. */
static void poster_route(int i, const char **room, const char **token)
{
    static const char *const tokens[8] = { TOK_ALICE, TOK_BOB, TOK_BOB, TOK_CAROL,
                                           IT_SECRET, IT_SECRET, TOK_ALICE, TOK_CAROL };
    *room = i % 2 == 0 ? ROOM_AB : ROOM_BC;
    *token = tokens[i % 8];
}

static void posters_start(poster_t *ps, int n, server_t *s, const char *tag, bool stop_on_error)
{
    atomic_store(&posters_stop, 0);
    atomic_store(&recovery_from_us, 0);
    atomic_store(&first_ok_after_us, 0);
    for (int i = 0; i < n; i++) {
        const char *room, *token;
        poster_route(i, &room, &token);
        memset(&ps[i], 0, sizeof ps[i]);
        ps[i].id = i;
        ps[i].port = s->port;
        ps[i].tag = tag;
        ps[i].stop_on_error = stop_on_error;
        snprintf(ps[i].path, sizeof ps[i].path, "%s/auth/%s/rooms/%s/messages", s->prefix,
                 token, enc(room));
        if (pthread_create(&ps[i].th, NULL, poster_main, &ps[i]) != 0)
            fail_msg("pthread_create failed");
    }
}

static void posters_join(poster_t *ps, int n)
{
    atomic_store(&posters_stop, 1);
    for (int i = 0; i < n; i++)
        pthread_join(ps[i].th, NULL);
}

static void posters_free(poster_t *ps, int n)
{
    for (int i = 0; i < n; i++) {
        free(ps[i].recs);
        ps[i].recs = NULL;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The stored texts of both rooms, sorted (for bsearch); *n their number. */
static char **stored_texts(size_t *n)
{
    PGresult *res = db_query("SELECT message FROM messages WHERE room_id IN ($1, $2)",
                             PARAMS(ROOM_AB, ROOM_BC));
    *n = (size_t)PQntuples(res);
    char **v = calloc(*n + 1, sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = strdup(PQgetvalue(res, (int)i, 0));
    PQclear(res);
    qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static bool text_stored(char **texts, size_t n, const char *text)
{
    return bsearch(&text, texts, n, sizeof *texts, cmp_str) != NULL;
}

static void free_texts(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* No half-written message: every row complete, last_seq = max(seq) = the
 * number of messages (no trim at MAX_MESSAGES=100000, so no gap either). */
static void assert_rooms_consistent(void)
{
    long long incomplete = db_long(
        "SELECT count(*) FROM messages WHERE sender = '' OR type = '' OR message = '' "
        "OR ts = '' OR sender IS NULL OR type IS NULL OR message IS NULL OR ts IS NULL",
        0, NULL);
    long long bad_seq = db_long(
        "SELECT count(*) FROM rooms r WHERE r.last_seq <> "
        "(SELECT coalesce(max(seq), 0) FROM messages m WHERE m.room_id = r.id)", 0, NULL);
    long long gaps = db_long(
        "SELECT count(*) FROM rooms r WHERE r.last_seq <> "
        "(SELECT count(*) FROM messages m WHERE m.room_id = r.id)", 0, NULL);
    long long over = db_long(
        "SELECT count(*) FROM (SELECT room_id FROM messages GROUP BY room_id "
        "HAVING count(*) > 100000) x", 0, NULL);
    if (incomplete || bad_seq || gaps || over) {
        PGresult *res = db_query(
            "SELECT r.id, r.last_seq, count(m.seq), max(m.seq) FROM rooms r "
            "LEFT JOIN messages m ON m.room_id = r.id GROUP BY r.id, r.last_seq", 0, NULL);
        for (int i = 0; i < PQntuples(res); i++)
            print_error("room %s: last_seq %s, %s messages, max(seq) %s\n",
                        PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                        PQgetvalue(res, i, 3));
        PQclear(res);
        print_error("incomplete rows %lld, rooms with last_seq <> max(seq) %lld, rooms with "
                    "gaps %lld, rooms over MAX_MESSAGES %lld\n", incomplete, bad_seq, gaps, over);
    }
    assert_int_equal(incomplete, 0);
    assert_int_equal(bad_seq, 0);
    assert_int_equal(gaps, 0);
    assert_int_equal(over, 0);
}

/* ---- 1. PostgreSQL stopped under load -------------------------------------- */

#define N_POSTERS 8
static bool pg_down;
/* PostgreSQL processes a test stopped with SIGSTOP (frozen database) */
static pid_t frozen[512];
static int n_frozen;

static void pg_thaw(void)
{
    for (int i = 0; i < n_frozen; i++)
        kill(frozen[i], SIGCONT);
    n_frozen = 0;
}

static int faults_teardown(void **state)
{
    atomic_store(&posters_stop, 1);
    pg_thaw();
    if (pg_down) {
        if (run_pg_script("start") != 0)
            print_error("could not restart PostgreSQL (see %s/pg-script.log)\n", h_logdir());
        pg_down = false;
    }
    return std_teardown(state);
}

static void test_postgres_stopped_under_load(void **state)
{
    (void)state;
    if (!h_env("PG_SCRIPT") || !h_env("PG_DIR")) {
        print_message("PG_SCRIPT/PG_DIR not set: PostgreSQL stop test skipped\n");
        skip();
    }
    server_t *s = scoped_server(OVERRIDES("MAX_MESSAGES=100000"));
    h_srv = s;
    api_create_room(ROOM_AB_BODY);
    api_create_room(ROOM_BC_BODY);

    static poster_t ps[N_POSTERS];
    pinger_t pinger = { .port = s->port };
    posters_start(ps, N_POSTERS, s, "pgstop", false);
    if (pthread_create(&pinger.th, NULL, pinger_main, &pinger) != 0)
        fail_msg("pthread_create failed");

    nap_ms(1000);
    double t_stop0 = now_s();
    pg_down = true;
    int rc_stop = run_pg_script("stop");
    double t_stop1 = now_s();
    nap_ms(3000);
    double t_start0 = now_s();
    int rc_start = run_pg_script("start");
    double t_start1 = now_s();
    if (rc_start == 0)
        pg_down = false;
    atomic_store(&recovery_from_us, (long long)(t_start1 * 1e6));
    /* ~3 s more of posting, and until a post succeeded again (bounded) */
    double end_min = t_start1 + 3.0, end_max = t_start1 + slow(12.0);
    while (now_s() < end_max && !(now_s() >= end_min && atomic_load(&first_ok_after_us)))
        nap_ms(50);
    posters_join(ps, N_POSTERS);
    pthread_join(pinger.th, NULL);

    assert_int_equal(rc_stop, 0);
    assert_int_equal(rc_start, 0);

    double first_ok = (double)atomic_load(&first_ok_after_us) / 1e6;
    size_t total = 0, n200 = 0, n503 = 0, nbad = 0, n200_while_down = 0, n503_after = 0;
    double max_503 = 0, max_any = 0;
    for (int i = 0; i < N_POSTERS; i++) {
        for (size_t k = 0; k < ps[i].n; k++) {
            rec_t *r = &ps[i].recs[k];
            double lat = r->t1 - r->t0;
            total++;
            if (lat > max_any)
                max_any = lat;
            if (r->status == 200) {
                n200++;
                if (r->t0 > t_stop1 && r->t1 < t_start0)
                    n200_while_down++;
            } else if (r->good503) {
                n503++;
                if (lat > max_503)
                    max_503 = lat;
                if (first_ok > 0 && r->t0 > first_ok + 1.0)
                    n503_after++;
            } else {
                nbad++;
            }
        }
        if (ps[i].bad_status)
            print_error("poster %d: first answer that is neither 200 nor a 503 JSON: "
                        "status %ld: %s\n", i, ps[i].bad_status, ps[i].bad_body);
    }

    size_t nstored = 0, lost = 0, stored_after_503 = 0;
    char **texts = stored_texts(&nstored);
    char text[96];
    for (int i = 0; i < N_POSTERS; i++) {
        for (size_t k = 0; k < ps[i].n; k++) {
            poster_text(text, sizeof text, "pgstop", i, k);
            bool in = text_stored(texts, nstored, text);
            if (ps[i].recs[k].status == 200 && !in) {
                if (lost < 5)
                    print_error("answered 200 but not stored: %s\n", text);
                lost++;
            } else if (ps[i].recs[k].status != 200 && in) {
                stored_after_503++;
            }
        }
    }
    free_texts(texts, nstored);

    double recover_s = first_ok > 0 ? first_ok - t_start1 : -1;
    print_message("PostgreSQL stopped under load: down %.2f s (stop took %.2f s, start %.2f s); "
                  "%zu requests: %zu x 200, %zu x 503 ServiceUnavailable, %zu other; "
                  "slowest 503 %.3f s, slowest request %.3f s; first 200 %.2f s after "
                  "PostgreSQL was back; %zu x 503 later than 1 s after that; messages lost: "
                  "%zu; answered 503 but stored: %zu; pings %d, failed %d, slowest %.3f s\n",
                  t_start1 - t_stop0, t_stop1 - t_stop0, t_start1 - t_start0, total, n200,
                  n503, nbad, max_503, max_any, recover_s, n503_after, lost, stored_after_503,
                  pinger.sent, pinger.failed, pinger.max_s);
    bool alive = server_alive(s);
    posters_free(ps, N_POSTERS);

    assert_true(alive);
    assert_int_equal(nbad, 0);
    assert_true(n503 > 0);                     /* the outage was seen */
    assert_true(max_any < 10.0);
    assert_int_equal(n200_while_down, 0);
    assert_true(recover_s >= 0 && recover_s < 10.0);
    assert_int_equal(n503_after, 0);
    assert_int_equal(pinger.failed, 0);
    assert_true(pinger.max_s < 10.0);
    assert_int_equal(lost, 0);
    assert_rooms_consistent();
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM_AB));
    assert_status(r, 200);
    resp_free(r);
}

/* ---- 2. SIGKILL under load ----------------------------------------------- */

static void test_sigkill_under_load_loses_no_answered_message(void **state)
{
    (void)state;
    const char *const over[] = { "MAX_MESSAGES=100000", NULL };
    server_t *s = scoped_server(over);
    h_srv = s;
    api_create_room(ROOM_AB_BODY);
    api_create_room(ROOM_BC_BODY);

    static poster_t ps[N_POSTERS];
    posters_start(ps, N_POSTERS, s, "kill", true);
    nap_ms(1000);
    double t_kill = now_s();
    kill(s->pid, SIGKILL);
    bool gone = server_wait_exit(s, 10000, NULL);
    /* the posters stop at their first failure; give them a moment */
    double end = now_s() + 5.0;
    while (now_s() < end) {
        bool all = true;
        for (int i = 0; i < N_POSTERS; i++)
            all = all && atomic_load(&ps[i].finished);
        if (all)
            break;
        nap_ms(20);
    }
    posters_join(ps, N_POSTERS);
    assert_true(gone);
    assert_true(WIFSIGNALED(s->exit_status) && WTERMSIG(s->exit_status) == SIGKILL);

    /* a new server on the same database */
    server_t *s2 = scoped_server(over);
    h_srv = s2;

    size_t n200 = 0, not200_before_kill = 0, unanswered = 0, unanswered_stored = 0, lost = 0;
    size_t nstored = 0;
    char **texts = stored_texts(&nstored);
    char text[96];
    for (int i = 0; i < N_POSTERS; i++) {
        for (size_t k = 0; k < ps[i].n; k++) {
            rec_t *r = &ps[i].recs[k];
            poster_text(text, sizeof text, "kill", i, k);
            bool in = text_stored(texts, nstored, text);
            if (r->status == 200) {
                n200++;
                if (!in) {
                    if (lost < 5)
                        print_error("answered 200 but not stored: %s\n", text);
                    lost++;
                }
            } else {
                if (r->t1 < t_kill)
                    not200_before_kill++;
                unanswered++;
                unanswered_stored += in;
            }
        }
    }
    free_texts(texts, nstored);
    print_message("SIGKILL under load: %zu messages answered 200, %zu stored, %zu requests cut "
                  "by the kill (%zu of them stored anyway), lost: %zu\n", n200, nstored,
                  unanswered, unanswered_stored, lost);
    posters_free(ps, N_POSTERS);

    assert_int_equal(not200_before_kill, 0);
    assert_int_equal(lost, 0);
    /* nothing stored that was not sent */
    assert_int_equal(nstored, n200 + unanswered_stored);
    assert_rooms_consistent();

    /* the new server reads and extends the same rooms */
    long long before = db_count_messages(ROOM_AB);
    char *newest = db_text("SELECT message FROM messages WHERE room_id = $1 "
                           "ORDER BY seq DESC LIMIT 1", PARAMS(ROOM_AB));
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM_AB));
    json_object *m = assert_room(r, ROOM_AB, "t", USERS("alice", "bob"), (size_t)before);
    assert_non_null(newest);
    assert_json_str(json_object_array_get_idx(m, 0), "message", newest);
    free(newest);
    resp_free(r);
    api_post_msg(TOK_BOB, ROOM_AB, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"after\"}");
    assert_int_equal(db_count_messages(ROOM_AB), before + 1);
    assert_rooms_consistent();
}

/* ---- 3. SIGTERM with a request in flight ------------------------------------- */

static void test_sigterm_lets_the_request_in_flight_finish(void **state)
{
    (void)state;
    server_t *s = scoped_server(OVERRIDES("DB_STATEMENT_TIMEOUT_MS=30000"));
    h_srv = s;
    bg_t bg;
    PGconn *lk = post_blocked_on_lock(s, &bg, 7, "in flight", 30000);

    double t_term = now_s();
    kill(s->pid, SIGTERM);
    /* new connections are refused soon after SIGTERM */
    bool refused = false;
    int served_after = 0;
    double refused_at = 0;
    while (now_s() < t_term + slow(3.0)) {
        int fd = raw_connect(s->port, 1000);
        if (fd < 0) {
            refused = errno == ECONNREFUSED;
            refused_at = now_s() - t_term;
            if (!refused)
                print_error("connect after SIGTERM failed with %s, not ECONNREFUSED\n",
                            strerror(errno));
            break;
        }
        int st = 0;
        if (raw_exchange(fd, "GET " PFX "/ping/x HTTP/1.1\r\nHost: x\r\n\r\n", 300, &st) ==
            RAW_ANSWERED)
            served_after++;
        close(fd);
        nap_ms(20);
    }
    resp_t *r = http_get(PFX "/ping/after-sigterm");
    long late_status = r->status;
    resp_free(r);
    bool still_waiting = !atomic_load(&bg.done);

    nap_ms(1000);
    double t_unlock = now_s();
    unlock_room(lk);
    r = bg_join(&bg);
    double answered_after = now_s() - t_unlock;
    double exit_s = 0;
    bool exited = server_wait_exit(s, (int)(slow(10.0) * 1000), &exit_s);
    double exit_after_term = now_s() - t_term;
    print_message("SIGTERM with a request in flight: new connections refused %.3f s after "
                  "SIGTERM (%d served before that); the request in flight answered %ld %.3f s "
                  "after its lock was released; exit %.2f s after SIGTERM, status 0x%x\n",
                  refused_at, served_after, r->status, answered_after, exit_after_term,
                  s->exit_status);

    assert_true(refused);
    assert_true(served_after <= 2);
    assert_int_equal(late_status, 0);
    assert_true(still_waiting);
    assert_empty_ok(r);
    resp_free(r);
    if (!exited) {
        print_error("still running %.1f s after SIGTERM (log: %s)\n", now_s() - t_term,
                    s->log_path);
        server_stop(s);
    }
    assert_true(exited);
    assert_true(exit_after_term < slow(10.0));
    assert_true(WIFEXITED(s->exit_status));
    assert_int_equal(WEXITSTATUS(s->exit_status), 0);
    assert_int_equal(db_long("SELECT count(*) FROM messages WHERE room_id = $1 AND message = "
                             "'in flight'", PARAMS(ROOM_AB)), 1);
}


/* ---- 3b. SIGTERM with a request stuck past the 5 s grace ----------------------- */

/* Blocks a POST on a row lock, sends SIGTERM and keeps the lock for up to
 * hold_s: the process must exit 0 within limit_s of SIGTERM. */
static void sigterm_with_stuck_request(const char *const *overrides, double limit_s,
                                       double hold_s)
{
    server_t *s = scoped_server(overrides);
    h_srv = s;
    bg_t bg;
    PGconn *lk = post_blocked_on_lock(s, &bg, 7, "stuck", 60000);
    double t_term = now_s();
    kill(s->pid, SIGTERM);
    bool exited = server_wait_exit(s, (int)(hold_s * 1000), NULL);
    double exit_s = now_s() - t_term;
    bool answered_before_exit = atomic_load(&bg.done);
    unlock_room(lk);
    resp_t *r = bg_join(&bg);
    if (!exited)
        exited = server_wait_exit(s, 10000, NULL);
    print_message("SIGTERM with a request stuck on a lock: %s %.2f s after SIGTERM (status "
                  "0x%x); the stuck request got %ld%s%s after %.2f s%s\n",
                  exited ? "exit" : "still running", exited ? exit_s : now_s() - t_term,
                  s->exit_status, r->status, r->status ? "" : ": ", r->error, r->seconds,
                  answered_before_exit ? " (before the exit)" : "");
    long st = r->status;
    resp_free(r);
    if (s->pid > 0)
        server_stop(s);
    assert_true(exited);
    assert_true(exit_s < limit_s);
    assert_true(WIFEXITED(s->exit_status));
    assert_int_equal(WEXITSTATUS(s->exit_status), 0);
    /* a 503 (statement timeout) or the connection closed by the exit */
    assert_true(st == 503 || st == 0);
}

static void test_sigterm_with_a_stuck_request_exits_within_the_statement_timeout(void **state)
{
    (void)state;
    /* default DB_STATEMENT_TIMEOUT_MS=5000 = the 5 s grace */
    sigterm_with_stuck_request(NULL, slow(8.0), slow(20.0));
}

static void test_sigterm_grace_is_5s_whatever_the_statement_timeout(void **state)
{
    (void)state;
    sigterm_with_stuck_request(OVERRIDES("DB_STATEMENT_TIMEOUT_MS=30000"), slow(8.0), 15.0);
}

/* ---- 3c. PostgreSQL frozen (no answer, no reset) ------------------------------- */

/* The postmaster (PG_DIR/postmaster.pid) and its children. */
static int pg_pids(pid_t *out, int max)
{
    char path[512];
    snprintf(path, sizeof path, "%s/postmaster.pid", h_env("PG_DIR"));
    FILE *f = fopen(path, "r");
    int pm = 0, n = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%d", &pm) != 1)
        pm = 0;
    fclose(f);
    if (pm <= 0)
        return 0;
    out[n++] = pm;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < max) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *sf = fopen(path, "r");
        if (!sf)
            continue;
        int ppid = 0;
        char comm[256], state;
        if (fscanf(sf, "%*d (%255[^)]) %c %d", comm, &state, &ppid) == 3 && ppid == pm)
            out[n++] = pid;
        fclose(sf);
    }
    if (d)
        closedir(d);
    return n;
}

/* A database that stops answering without closing anything (a hung host,
 * a network partition): SIGSTOP on every PostgreSQL process for <= 12 s.
 * Requests should get 503 within the documented database bounds
 * (DB_STATEMENT_TIMEOUT_MS, DB_CONNECT_TIMEOUT_SECONDS), and ping, which
 * needs no database, should keep answering. */
static void test_frozen_postgres_gives_503_not_a_hang(void **state)
{
    (void)state;
    if (!h_env("PG_DIR"))
        skip();
    server_t *s = scoped_server(NULL);   /* 8 HTTP threads, pool of 8 */
    h_srv = s;
    api_create_room(ROOM_AB_BODY);
    /* open all 8 pool connections: 8 POSTs held on a row lock at once */
    PGconn *lk = lock_room(ROOM_AB);
    bg_t warm[8];
    char path[256];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM_AB));
    for (int i = 0; i < 8; i++) {
        bg_start(&warm[i], s, "POST", path,
                 "{\"timestamp\":1,\"type\":\"text\",\"message\":\"w\"}", 20000);
        nap_ms(150);
    }
    bool all_open = wait_blocked_statements(8, slow(5.0));
    unlock_room(lk);
    for (int i = 0; i < 8; i++)
        resp_free(bg_join(&warm[i]));
    assert_true(all_open);

    n_frozen = pg_pids(frozen, 512);
    assert_true(n_frozen > 0);
    for (int i = 0; i < n_frozen; i++)
        kill(frozen[i], SIGSTOP);
    double t0 = now_s();
    /* one GET per HTTP thread (a busy thread accepts no new connection) */
    bg_t many[8];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM_AB));
    for (int i = 0; i < 8; i++) {
        bg_start(&many[i], s, "GET", path, NULL, 20000);
        nap_ms(150);
    }
    nap_ms(500);
    req_t prq = { .method = "GET", .path = PFX "/ping/frozen", .timeout_ms = 5000 };
    resp_t *p = http_do(&prq);
    long ping_status = p->status;
    double ping_s = p->seconds;
    resp_free(p);
    /* answers due by now: 5 s statement timeout + 3 s connect timeout */
    double end = t0 + 12.0;
    int done = 0;
    while (now_s() < end) {
        done = 0;
        for (int i = 0; i < 8; i++)
            done += atomic_load(&many[i].done);
        if (done == 8)
            break;
        nap_ms(100);
    }
    double frozen_s = now_s() - t0;
    pg_thaw();
    double max_s = 0;
    int n503 = 0;
    for (int i = 0; i < 8; i++) {
        resp_t *r = bg_join(&many[i]);
        if (r->seconds > max_s)
            max_s = r->seconds;
        n503 += r->status == 503;
        resp_free(r);
    }
    print_message("PostgreSQL frozen %.1f s: %d of 8 GETs answered while frozen (%d x 503), "
                  "slowest %.2f s; ping %ld after %.2f s\n", frozen_s, done, n503, max_s,
                  ping_status, ping_s);
    assert_int_equal(ping_status, 200);
    assert_int_equal(done, 8);
    assert_int_equal(n503, 8);
    assert_true(max_s < 10.0);
}

/* ---- 4. pool exhausted ------------------------------------------------------ */

static void expect_pool_503(resp_t *r, double *min_s, double *max_s)
{
    if (r->seconds < *min_s)
        *min_s = r->seconds;
    if (r->seconds > *max_s)
        *max_s = r->seconds;
    assert_error(r, 503, "ServiceUnavailable", NULL);
    if (r->seconds < 0.4 || r->seconds > slow(2.0))
        print_error("%s %s: 503 after %.3f s, want 0.4 to %.1f s (DB_POOL_WAIT_MS=500)\n",
                    r->method, r->path, r->seconds, slow(2.0));
    assert_true(r->seconds >= 0.4 && r->seconds <= slow(2.0));
    resp_free(r);
}

static void test_pool_exhausted_gives_503_after_the_wait_then_recovers(void **state)
{
    (void)state;
    server_t *s = scoped_server(OVERRIDES("DB_POOL_SIZE=1", "HTTP_THREADS=4",
                                          "DB_POOL_WAIT_MS=500", "DB_STATEMENT_TIMEOUT_MS=30000"));
    h_srv = s;
    bg_t bg;
    PGconn *lk = post_blocked_on_lock(s, &bg, 1, "held", 30000);

    double min_s = 1e9, max_s = 0;
    for (int i = 0; i < 2; i++) {
        /* a user token needs the database for the token itself */
        expect_pool_503(http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM_AB)), &min_s,
                        &max_s);
        expect_pool_503(http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc(ROOM_AB)), &min_s,
                        &max_s);
    }
    expect_pool_503(http_post(ROOM_BC_BODY, PFX "/auth/%s/rooms", IT_SECRET), &min_s, &max_s);
    /* three at once (the fourth HTTP thread is the one held) */
    bg_t many[3];
    char gpath[256];
    snprintf(gpath, sizeof gpath, PFX "/auth/%s/rooms/%s", IT_SECRET, enc(ROOM_AB));
    for (int i = 0; i < 3; i++)
        bg_start(&many[i], s, "GET", gpath, NULL, 15000);
    double conc[3];
    for (int i = 0; i < 3; i++) {
        resp_t *r = bg_join(&many[i]);
        conc[i] = r->seconds;
        if (r->seconds > max_s)
            max_s = r->seconds;
        assert_error(r, 503, "ServiceUnavailable", NULL);
        assert_true(r->seconds <= slow(2.5));
        resp_free(r);
    }
    resp_t *r = http_get(PFX "/ping/pool");
    assert_status(r, 200);
    assert_true(r->seconds < slow(1.0));
    resp_free(r);
    bool still_waiting = !atomic_load(&bg.done);

    double t_unlock = now_s();
    unlock_room(lk);
    r = bg_join(&bg);
    double held_answer = now_s() - t_unlock;
    assert_true(still_waiting);
    assert_empty_ok(r);
    resp_free(r);

    double max_ok = 0;
    for (int i = 0; i < 5; i++) {
        r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM_AB));
        json_object *m = assert_room(r, ROOM_AB, "t", USERS("alice", "bob"), 1);
        assert_msg(json_object_array_get_idx(m, 0), "1", "alice", "text", "held");
        if (r->seconds > max_ok)
            max_ok = r->seconds;
        resp_free(r);
    }
    api_post_msg(TOK_BOB, ROOM_AB, "{\"timestamp\":2,\"type\":\"text\",\"message\":\"next\"}");
    api_create_room(ROOM_BC_BODY);
    print_message("pool of 1 held: 503 after %.3f to %.3f s (DB_POOL_WAIT_MS=500; three at "
                  "once: %.3f, %.3f, %.3f s); the held request answered 200 %.3f s after the "
                  "lock went; then 200 in at most %.3f s\n", min_s, max_s, conc[0], conc[1],
                  conc[2], held_answer, max_ok);
    assert_true(max_ok < slow(1.0));
    assert_true(server_alive(s));
}

/* ---- 5. slow client ------------------------------------------------------------ */

/* Trickles req one byte every 500 ms; returns the seconds until the server
 * cut the connection (-1: never within limit_s). *answered: it answered. */
static double trickle(int port, const char *at_once, const char *req, double limit_s,
                      bool *answered, bool serve_others)
{
    int fd = raw_connect(port, 2000);
    if (fd < 0)
        fail_msg("connect: %s", strerror(errno));
    double t0 = now_s(), cut = -1;
    *answered = false;
    if (at_once && send(fd, at_once, strlen(at_once), MSG_NOSIGNAL) != (ssize_t)strlen(at_once))
        fail_msg("send: %s", strerror(errno));
    size_t len = strlen(req);
    for (size_t i = 0; i < len && now_s() - t0 < limit_s; i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1) {
            cut = now_s() - t0;
            break;
        }
        if (serve_others && i == 2) {
            /* meanwhile, a normal request on another connection */
            resp_t *r = http_get(PFX "/ping/other");
            assert_status(r, 200);
            assert_true(r->seconds < slow(1.0));
            resp_free(r);
            r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM_AB));
            assert_status(r, 200);
            assert_true(r->seconds < slow(1.0));
            resp_free(r);
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 500) > 0) {
            char b[256];
            ssize_t n = recv(fd, b, sizeof b, 0);
            if (n > 0)
                *answered = true;
            cut = now_s() - t0;
            break;
        }
    }
    close(fd);
    return cut;
}

static void test_slow_client_is_cut_off_while_others_are_served(void **state)
{
    (void)state;
    server_t *s = scoped_server(OVERRIDES("HTTP_REQUEST_TIMEOUT_SECONDS=2"));
    h_srv = s;
    api_create_room(ROOM_AB_BODY);
    char headers[512], body_headers[512];
    snprintf(headers, sizeof headers,
             "GET " PFX "/ping/a-very-slow-client-sending-one-byte-at-a-time HTTP/1.1\r\n"
             "Host: x\r\n\r\n");
    /* headers at once, then the body one byte at a time */
    const char *body = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"pad\":\"xxxxxxxxxxxx\"}";
    snprintf(body_headers, sizeof body_headers,
             "POST " PFX "/auth/%s/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
             "\r\nContent-Length: %zu\r\n\r\n", IT_SECRET, strlen(body));
    bool answered = false;
    double cut_headers = trickle(s->port, NULL, headers, slow(8.0), &answered, true);
    assert_false(answered);
    double cut_body = trickle(s->port, body_headers, body, slow(8.0), &answered, false);
    assert_false(answered);
    print_message("slow client (HTTP_REQUEST_TIMEOUT_SECONDS=2): cut after %.2f s while "
                  "sending headers, %.2f s while sending a body\n", cut_headers, cut_body);
    assert_true(cut_headers >= 1.5 && cut_headers <= slow(4.0));
    assert_true(cut_body >= 1.5 && cut_body <= slow(4.0));
    resp_t *r = http_get(PFX "/ping/after");
    assert_status(r, 200);
    resp_free(r);
}

/* ---- 6. 1000 idle connections ---------------------------------------------------- */

static void test_1000_idle_connections_do_not_block_others(void **state)
{
    (void)state;
    int want = 1000;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)want + 200) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
        print_message("open files limit raised from %lu to %lu\n", (unsigned long)old,
                      (unsigned long)rl.rlim_cur);
    }
    if (rl.rlim_cur < (rlim_t)want + 200) {
        want = (int)rl.rlim_cur - 200;
        print_message("open files limit %lu: only %d idle connections fit (not 1000)\n",
                      (unsigned long)rl.rlim_cur, want);
        assert_true(want > 0);
    }
    /* started after the raise: the server inherits the limit */
    server_t *s = scoped_server(NULL);
    h_srv = s;
    api_create_room(ROOM_AB_BODY);

    int *fds = calloc((size_t)want, sizeof *fds);
    int opened = 0, failed = 0;
    double t0 = now_s();
    for (int i = 0; i < want; i++) {
        fds[i] = raw_connect(s->port, 3000);
        if (fds[i] < 0)
            failed++;
        else
            opened++;
    }
    double open_s = now_s() - t0;
    nap_ms(300);

    double max_s = 0;
    long statuses[6];
    for (int i = 0; i < 3; i++) {
        resp_t *r = http_get(PFX "/ping/idle");
        statuses[2 * i] = r->status;
        if (r->seconds > max_s)
            max_s = r->seconds;
        resp_free(r);
        r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM_AB));
        statuses[2 * i + 1] = r->status;
        if (r->seconds > max_s)
            max_s = r->seconds;
        resp_free(r);
    }
    int closed = 0;
    for (int i = 0; i < want; i++) {
        if (fds[i] < 0)
            continue;
        struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
        if (poll(&pfd, 1, 0) > 0)
            closed++;
        close(fds[i]);
    }
    free(fds);
    print_message("%d idle connections opened in %.2f s (%d failed, %d closed by the server "
                  "meanwhile); ping and GET room answered in at most %.3f s\n", opened, open_s,
                  failed, closed, max_s);
    assert_int_equal(failed, 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(statuses[i], 200);
    assert_true(max_s < slow(1.0));
    resp_t *r = http_get(PFX "/ping/after");
    assert_status(r, 200);
    resp_free(r);
}

/* ---- 7. connection limit ------------------------------------------------------- */

static void test_connection_limit_holds_and_frees(void **state)
{
    (void)state;
    server_t *s = scoped_server(OVERRIDES("HTTP_MAX_CONNECTIONS=50"));
    h_srv = s;
    int fds[50];
    for (int i = 0; i < 50; i++) {
        fds[i] = raw_connect(s->port, 3000);
        if (fds[i] < 0)
            fail_msg("idle connection %d: %s", i, strerror(errno));
    }
    nap_ms(300);
    /* the 51st: refused, closed, or left without an answer */
    int extra = raw_connect(s->port, 2000);
    enum raw_outcome out = RAW_SEND_FAILED;
    int st = 0;
    const char *what;
    if (extra < 0) {
        what = "refused";
    } else {
        out = raw_exchange(extra, "GET " PFX "/ping/limit HTTP/1.1\r\nHost: x\r\n\r\n",
                           (int)(slow(1.0) * 1000), &st);
        what = out == RAW_ANSWERED ? "answered" : out == RAW_CLOSED ? "closed without an answer"
               : out == RAW_SILENT ? "connected but not answered" : "send failed";
    }
    req_t rq = { .method = "GET", .path = PFX "/ping/limit",
                 .timeout_ms = (long)(slow(1.0) * 1000) };
    resp_t *r = http_do(&rq);
    long curl_status = r->status;
    char curl_err[256];
    snprintf(curl_err, sizeof curl_err, "%s", r->error);
    resp_free(r);

    /* closing ten makes room */
    for (int i = 0; i < 10; i++)
        close(fds[i]);
    double t0 = now_s(), served_s = -1;
    long late = 0;
    while (now_s() - t0 < slow(5.0)) {
        r = http_get(PFX "/ping/freed");
        late = r->status;
        resp_free(r);
        if (late == 200) {
            served_s = now_s() - t0;
            break;
        }
        nap_ms(50);
    }
    /* the waiting 51st connection may have been served now */
    int st2 = 0;
    const char *later = "";
    char later_buf[96];
    if (extra >= 0 && out == RAW_SILENT) {
        struct pollfd pfd = { .fd = extra, .events = POLLIN };
        if (poll(&pfd, 1, (int)(slow(2.0) * 1000)) > 0) {
            char b[256];
            ssize_t n = recv(extra, b, sizeof b - 1, 0);
            if (n > 12) {
                b[n] = '\0';
                st2 = atoi(b + 9);
            }
            snprintf(later_buf, sizeof later_buf, n > 0 ? " (answered %d once others closed)"
                     : " (closed once others closed)", st2);
            later = later_buf;
        } else {
            later = " (still no answer after others closed)";
        }
    }
    if (extra >= 0)
        close(extra);
    for (int i = 10; i < 50; i++)
        close(fds[i]);
    print_message("HTTP_MAX_CONNECTIONS=50 with 50 idle: the 51st connection was %s%s; "
                  "a curl request got %ld%s%s; after closing 10, served in %.3f s\n", what,
                  later, curl_status, curl_status ? "" : ": ", curl_err, served_s);
    assert_true(extra < 0 || out != RAW_ANSWERED);
    assert_int_not_equal(curl_status, 200);
    assert_int_equal(late, 200);
    assert_true(server_alive(s));
}

/* ---- 8. limits and verbatim storage -------------------------------------------- */

static void post_room_expect_400(const char *body)
{
    resp_t *r = http_post(body, PFX "/auth/%s/rooms", IT_SECRET);
    if (r->status != 400)
        print_error("POST rooms %s\n", body);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    /* and the same room through system-messages */
    char sys[1024];
    size_t len = strlen(body);
    snprintf(sys, sizeof sys, "%.*s,\"timestamp\":1,\"message\":\"E\"}", (int)(len - 1), body);
    r = http_post(sys, PFX "/auth/%s/system-messages", IT_SECRET);
    if (r->status != 400)
        print_error("POST system-messages %s\n", sys);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
}

static void test_size_and_character_limits(void **state)
{
    (void)state;
    server_t *s = scoped_server(OVERRIDES("MAX_MESSAGE_BYTES=100", "MAX_USERNAME_BYTES=8",
                                          "MAX_ROOM_TYPE_BYTES=5"));
    h_srv = s;
    api_create_room(ROOM_AB_BODY);
    long long before[3], after[3];
    db_snapshot(before);

    /* messages: bytes, not characters */
    char body[1024], msg[256];
    memset(msg, 'm', 101);
    msg[101] = '\0';
    snprintf(body, sizeof body, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"%s\"}", msg);
    resp_t *r = http_post(body, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM_AB));
    assert_error(r, 400, "BadRequest", "bad message");
    resp_free(r);
    msg[0] = '\0';
    for (int i = 0; i < 50; i++)
        strcat(msg, "\xc3\xa9");   /* é: 100 bytes, 50 characters */
    strcat(msg, "a");              /* 101 bytes, 51 characters */
    snprintf(body, sizeof body, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"%s\"}", msg);
    r = http_post(body, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM_AB));
    assert_error(r, 400, "BadRequest", "bad message");
    resp_free(r);
    memset(msg, 'm', 101);
    msg[101] = '\0';
    snprintf(body, sizeof body, "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],"
             "\"timestamp\":1,\"message\":\"%s\"}", msg);
    r = http_post(body, PFX "/auth/%s/system-messages", IT_SECRET);
    assert_error(r, 400, "BadRequest", "bad message");
    resp_free(r);
    /* names */
    post_room_expect_400("{\"type\":\"t\",\"users\":[\"alice\",\"abcdefghi\"]}");
    post_room_expect_400("{\"type\":\"t\",\"users\":[\"alice\",\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                         "\xc3\xa9\"]}");   /* 5 characters, 10 bytes */
    post_room_expect_400("{\"type\":\"abcdef\",\"users\":[\"alice\",\"bob\"]}");
    post_room_expect_400("{\"type\":\"t\\u0001\",\"users\":[\"alice\",\"bob\"]}");
    post_room_expect_400("{\"type\":\"t\\n\",\"users\":[\"alice\",\"bob\"]}");
    post_room_expect_400("{\"type\":\"t\\t\",\"users\":[\"alice\",\"bob\"]}");
    post_room_expect_400("{\"type\":\"t\\u007f\",\"users\":[\"alice\",\"bob\"]}");
    post_room_expect_400("{\"type\":\"t\",\"users\":[\"al\\u0001ce\",\"bob\"]}");
    post_room_expect_400("{\"type\":\"t\",\"users\":[\"al\\nce\",\"bob\"]}");
    post_room_expect_400("{\"type\":\"t\",\"users\":[\"alice\",\"bo\\u001fb\"]}");
    db_snapshot(after);
    if (memcmp(before, after, sizeof after) != 0)
        print_error("database changed: rooms %lld->%lld, room_users %lld->%lld, "
                    "messages %lld->%lld\n", before[0], after[0], before[1], after[1],
                    before[2], after[2]);
    assert_memory_equal(before, after, sizeof after);

    /* exactly at the limits: accepted */
    memset(msg, 'm', 100);
    msg[100] = '\0';
    snprintf(body, sizeof body, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"%s\"}", msg);
    api_post_msg(TOK_ALICE, ROOM_AB, body);
    msg[0] = '\0';
    for (int i = 0; i < 50; i++)
        strcat(msg, "\xc3\xa9");
    snprintf(body, sizeof body, "{\"timestamp\":2,\"type\":\"text\",\"message\":\"%s\"}", msg);
    api_post_msg(TOK_ALICE, ROOM_AB, body);
    assert_int_equal(db_count_messages(ROOM_AB), 2);
    r = http_post("{\"type\":\"abcde\",\"users\":[\"abcdefgh\",\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"]}",
                  PFX "/auth/%s/rooms", IT_SECRET);
    assert_room(r, "abcde/abcdefgh/\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "abcde",
                USERS("abcdefgh", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), 0);
    resp_free(r);
}

#define SQL_USER "o'brien\";DROP TABLE rooms;--"
#define SQL_USER_JSON "o'brien\\\";DROP TABLE rooms;--"
#define SQL_USER2 "b\\ob') OR 1=1 --"
#define SQL_USER2_JSON "b\\\\ob') OR 1=1 --"
#define SQL_TYPE "t'\"\\;--/*x*/$1%_"
#define SQL_TYPE_JSON "t'\\\"\\\\;--/*x*/$1%_"
#define SQL_MSG "'); DELETE FROM messages; -- \"q\" \\ \\\\ $$ E'\\x41' %s\n\tend"
#define SQL_MSG_JSON "'); DELETE FROM messages; -- \\\"q\\\" \\\\ \\\\\\\\ $$ E'\\\\x41' %s\\n\\tend"
#define SQL_PUSH "{\"title\":\"o'brien \\\"x\\\" \\\\ ;--\",\"n\":[\"'\",1.5e3,null,{\"$$\":\"\\\\'\"}]}"
#define SQL_TOKEN "tok-sql-'\"-9"

static void test_sql_metacharacters_are_stored_verbatim(void **state)
{
    (void)state;
    int dead = h_free_port();   /* nobody listens: notifications stay queued */
    char addr[64], port[64];
    snprintf(addr, sizeof addr, "NOTIFICATIONS_PORT_8080_TCP_ADDR=127.0.0.1");
    snprintf(port, sizeof port, "NOTIFICATIONS_PORT_8080_TCP_PORT=%d", dead);
    server_t *s = scoped_server(OVERRIDES(addr, port, "OUTBOX_BACKOFF_BASE_MS=600000"));
    h_srv = s;
    db_token(SQL_TOKEN, SQL_USER, NULL);
    const char *room = SQL_TYPE "/" SQL_USER2 "/" SQL_USER;   /* bytewise: 'b' < 'o' */
    db_exec("DELETE FROM notification_outbox WHERE room_id = $1", PARAMS(room));

    char body[2048];
    snprintf(body, sizeof body, "{\"type\":\"%s\",\"users\":[\"%s\",\"%s\"]}", SQL_TYPE_JSON,
             SQL_USER_JSON, SQL_USER2_JSON);
    resp_t *r = http_post(body, PFX "/auth/%s/rooms", enc(SQL_TOKEN));
    assert_room(r, room, SQL_TYPE, USERS(SQL_USER2, SQL_USER), 0);
    resp_free(r);

    snprintf(body, sizeof body, "{\"timestamp\":\"-1.250e+3\",\"type\":\"%s\",\"message\":\"%s\","
             "\"push\":%s}", SQL_TYPE_JSON, SQL_MSG_JSON, SQL_PUSH);
    r = http_post(body, PFX "/auth/%s/rooms/%s/messages", enc(SQL_TOKEN), enc(room));
    assert_empty_ok(r);
    resp_free(r);
    snprintf(body, sizeof body, "{\"type\":\"%s\",\"users\":[\"%s\",\"%s\"],\"timestamp\":2,"
             "\"message\":\"%s\"}", SQL_TYPE_JSON, SQL_USER_JSON, SQL_USER2_JSON, SQL_MSG_JSON);
    r = http_post(body, PFX "/auth/%s/system-messages", IT_SECRET);
    assert_empty_ok(r);
    resp_free(r);

    /* read back through the API */
    r = http_get(PFX "/auth/%s/rooms/%s", enc(SQL_TOKEN), enc(room));
    json_object *m = assert_room(r, room, SQL_TYPE, USERS(SQL_USER2, SQL_USER), 2);
    assert_msg(json_object_array_get_idx(m, 0), "2", "$$", "event", SQL_MSG);
    assert_msg(json_object_array_get_idx(m, 1), "\"-1.250e+3\"", SQL_USER, SQL_TYPE, SQL_MSG);
    resp_free(r);

    /* and in the rows */
    assert_int_equal(db_long("SELECT count(*) FROM rooms WHERE id = $1 AND type = $2",
                             PARAMS(room, SQL_TYPE)), 1);
    assert_int_equal(db_long("SELECT count(*) FROM room_users WHERE room_id = $1 AND "
                             "username IN ($2, $3)", PARAMS(room, SQL_USER, SQL_USER2)), 2);
    assert_int_equal(db_long("SELECT count(*) FROM messages WHERE room_id = $1 AND ts = "
                             "'-1.250e+3' AND ts_is_string AND sender = $2 AND type = $3 AND "
                             "message = $4", PARAMS(room, SQL_USER, SQL_TYPE, SQL_MSG)), 1);
    assert_int_equal(db_long("SELECT count(*) FROM messages WHERE room_id = $1 AND ts = '2' "
                             "AND NOT ts_is_string AND sender = '$$' AND type = 'event' AND "
                             "message = $2", PARAMS(room, SQL_MSG)), 1);
    assert_true(db_count_rooms() >= 1);

    /* the push value and the data, as queued for the other user */
    char *push = db_text("SELECT push FROM notification_outbox WHERE room_id = $1 AND "
                         "to_user = $2 AND push IS NOT NULL", PARAMS(room, SQL_USER2));
    char *data = db_text("SELECT data FROM notification_outbox WHERE room_id = $1 AND "
                         "to_user = $2 AND push IS NOT NULL", PARAMS(room, SQL_USER2));
    if (!push || !data)
        print_error("no queued notification with a push for %s in room %s\n", SQL_USER2, room);
    assert_non_null(push);
    assert_non_null(data);
    json_object *want = json_tokener_parse(SQL_PUSH);
    json_object *got = json_tokener_parse(push);
    if (!got || !json_object_equal(want, got))
        print_error("push queued as %s, sent %s\n", push, SQL_PUSH);
    assert_true(got && json_object_equal(want, got));
    json_object_put(want);
    json_object_put(got);
    json_object *d = json_tokener_parse(data);
    assert_json_str(d, "roomId", room);
    assert_json_str(d, "from", SQL_USER);
    assert_json_str(d, "type", SQL_TYPE);
    assert_json_str(d, "message", SQL_MSG);
    assert_json_str(d, "timestamp", "-1.250e+3");
    json_object_put(d);
    free(push);
    free(data);
    server_stop(s);
    db_exec("DELETE FROM notification_outbox WHERE room_id = $1", PARAMS(room));
}



int run_faults_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_size_and_character_limits),
        T(test_sql_metacharacters_are_stored_verbatim),
        T(test_slow_client_is_cut_off_while_others_are_served),
        T(test_1000_idle_connections_do_not_block_others),
        T(test_connection_limit_holds_and_frees),
        T(test_pool_exhausted_gives_503_after_the_wait_then_recovers),
        T(test_sigterm_lets_the_request_in_flight_finish),
        T(test_sigterm_with_a_stuck_request_exits_within_the_statement_timeout),
        T(test_sigterm_grace_is_5s_whatever_the_statement_timeout),
        cmocka_unit_test_setup_teardown(test_frozen_postgres_gives_503_not_a_hang, std_setup,
                                        faults_teardown),
        T(test_sigkill_under_load_loses_no_answered_message),
        cmocka_unit_test_setup_teardown(test_postgres_stopped_under_load, std_setup,
                                        faults_teardown),
    };
    return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
