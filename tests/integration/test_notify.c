/*
 * Notifications: a small local HTTP receiver stands in for the ganomede
 * notifications service (NOTIFICATIONS_PORT_8080_TCP_ADDR/PORT point at it).
 * Who is notified (not the sender, not the muted, chat-disabled or blocking
 * receivers), what the envelope holds, and that delivery is retried, survives
 * a chat server restart, and never delays the chat request.
 */
#include "harness.h"
#include "tests.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_NOTES 256

typedef struct note {
    char method[16];
    char path[256];
    char content_type[128];
    double at;           /* now_s() when the request had been read whole */
    json_object *body;   /* NULL when the body was not JSON */
} note_t;

/* Answers each connection on its own thread, so a slow answer (delay_ms)
 * does not hold up the next request. */
typedef struct receiver {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int active;          /* connection threads running */
    note_t notes[MAX_NOTES];
    int n_notes;
    int requests;        /* every request, including refused ones */
    int fail_first;      /* answer fail_status to this many requests first */
    int fail_status;     /* 503 unless set */
    int delay_ms;        /* wait before answering */
    volatile int stop;
} receiver_t;

static receiver_t *rcv;
/* 1 once anything was delivered; -1 when a whole wait saw no delivery at
 * all (the feature is missing): later waits are then short, so the group
 * fails fast instead of waiting out every timeout. */
static int delivery_state;

static void *receiver_main(void *arg);
static bool read_request(int fd, receiver_t *r);

/* ---- receiver ----------------------------------------------------------- */

/* A receiver on bound_fd (a socket already bound, not yet listening; -1:
 * a new socket bound to port, 0 for any). */
static receiver_t *receiver_open(int bound_fd, int port, int fail_first, int fail_status,
                                 int delay_ms)
{
    receiver_t *r = calloc(1, sizeof *r);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    int one = 1;

    r->fail_first = fail_first;
    r->fail_status = fail_status;
    r->delay_ms = delay_ms;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->idle, NULL);
    if (bound_fd >= 0) {
        r->fd = bound_fd;
    } else {
        r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(r->fd >= 0);
        setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(r->fd, (struct sockaddr *)&a, sizeof a) != 0) {
            print_error("receiver: bind on port %d: %s\n", port, strerror(errno));
            fail();
        }
    }
    if (listen(r->fd, 128) != 0) {
        print_error("receiver: listen: %s\n", strerror(errno));
        fail();
    }
    getsockname(r->fd, (struct sockaddr *)&a, &alen);
    r->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&r->thread, NULL, receiver_main, r), 0);
    return r;
}

static receiver_t *receiver_start(int port, int fail_first, int delay_ms)
{
    return receiver_open(-1, port, fail_first, 503, delay_ms);
}

static void receiver_stop(receiver_t *r)
{
    if (!r)
        return;
    r->stop = 1;
    pthread_join(r->thread, NULL);
    pthread_mutex_lock(&r->mu);
    while (r->active > 0)
        pthread_cond_wait(&r->idle, &r->mu);
    pthread_mutex_unlock(&r->mu);
    close(r->fd);
    for (int i = 0; i < r->n_notes; i++)
        if (r->notes[i].body)
            json_object_put(r->notes[i].body);
    pthread_cond_destroy(&r->idle);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

typedef struct conn_job {
    receiver_t *r;
    int fd;
} conn_job_t;

static void *receiver_conn(void *arg)
{
    conn_job_t *job = arg;
    receiver_t *r = job->r;
    /* one request per connection: we answer with Connection: close */
    read_request(job->fd, r);
    close(job->fd);
    free(job);
    pthread_mutex_lock(&r->mu);
    if (--r->active == 0)
        pthread_cond_broadcast(&r->idle);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void *receiver_main(void *arg)
{
    receiver_t *r = arg;
    while (!r->stop) {
        struct pollfd p = { .fd = r->fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        struct timeval tv = { 5, 0 };
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        conn_job_t *job = malloc(sizeof *job);
        job->r = r;
        job->fd = c;
        pthread_t t;
        pthread_mutex_lock(&r->mu);
        r->active++;
        pthread_mutex_unlock(&r->mu);
        if (pthread_create(&t, NULL, receiver_conn, job) == 0) {
            pthread_detach(t);
        } else {
            receiver_conn(job);
        }
    }
    return NULL;
}

static ssize_t find_crlfcrlf(const char *b, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (memcmp(b + i, "\r\n\r\n", 4) == 0)
            return (ssize_t)i;
    return -1;
}

static bool read_request(int fd, receiver_t *r)
{
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap + 1);
    ssize_t hdr_end = -1, k;
    bool ok = false;

    while (hdr_end < 0 && n < cap) {
        k = read(fd, b + n, cap - n);
        if (k <= 0)
            goto out;
        n += (size_t)k;
        hdr_end = find_crlfcrlf(b, n);
    }
    if (hdr_end < 0)
        goto out;
    b[hdr_end] = '\0';
    size_t body_start = (size_t)hdr_end + 4;
    long clen = 0;
    bool chunked = false, expect = false;
    char ctype[128] = "";
    for (char *line = strstr(b, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (strncasecmp(h, "Content-Type:", 13) == 0) {
            const char *v = h + 13;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r");
            snprintf(ctype, sizeof ctype, "%.*s", (int)(vl < sizeof ctype ? vl : sizeof ctype - 1), v);
        } else if (strncasecmp(h, "Content-Length:", 15) == 0)
            clen = strtol(h + 15, NULL, 10);
        else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0 && strcasestr(h, "chunked"))
            chunked = true;
        else if (strncasecmp(h, "Expect:", 7) == 0 && strcasestr(h, "100-continue"))
            expect = true;
    }
    if (expect && write(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 25)
        goto out;
    /* read the body (Content-Length, or chunked until the 0 chunk) */
    for (;;) {
        size_t have = n - body_start;
        if (!chunked && (long)have >= clen)
            break;
        if (chunked && have >= 5 && memcmp(b + n - 5, "0\r\n\r\n", 5) == 0)
            break;
        if (n >= cap)
            goto out;
        k = read(fd, b + n, cap - n);
        if (k <= 0)
            goto out;
        n += (size_t)k;
    }
    b[n] = '\0';
    char *body = b + body_start;
    size_t body_len = n - body_start;
    if (chunked) {
        /* de-chunk in place */
        char *in = body, *out = body;
        for (;;) {
            long sz = strtol(in, NULL, 16);
            char *eol = strstr(in, "\r\n");
            if (!eol || sz <= 0)
                break;
            memmove(out, eol + 2, (size_t)sz);
            out += sz;
            in = eol + 2 + sz + 2;
        }
        body_len = (size_t)(out - body);
        body[body_len] = '\0';
    }

    double at = now_s();
    pthread_mutex_lock(&r->mu);
    int idx = r->requests++;
    bool refuse = idx < r->fail_first;
    int fail_status = r->fail_status;
    int delay_ms = r->delay_ms;
    pthread_mutex_unlock(&r->mu);
    if (delay_ms > 0)
        usleep((useconds_t)delay_ms * 1000);
    if (!refuse) {
        pthread_mutex_lock(&r->mu);
        if (r->n_notes < MAX_NOTES) {
            note_t *nt = &r->notes[r->n_notes++];
            sscanf(b, "%15s %255s", nt->method, nt->path);
            snprintf(nt->content_type, sizeof nt->content_type, "%s", ctype);
            nt->at = at;
            nt->body = json_tokener_parse(body);
        }
        pthread_mutex_unlock(&r->mu);
    }
    static const char ok_answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    static const char busy_answer[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                      "Connection: close\r\n\r\n";
    static const char error_answer[] = "HTTP/1.1 500 Internal Server Error\r\n"
                                       "Content-Length: 0\r\nConnection: close\r\n\r\n";
    const char *ans = !refuse ? ok_answer : fail_status == 500 ? error_answer : busy_answer;
    ok = write(fd, ans, strlen(ans)) == (ssize_t)strlen(ans);
out:
    free(b);
    return ok;
}

/* ---- helpers ------------------------------------------------------------ */

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Notifications of room_id (data.roomId) or, for chat-disabled notices,
 * of type chat-disabled. */
static int count_for(receiver_t *r, const char *room_id, const char *to, const char *type)
{
    int n = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n_notes; i++) {
        json_object *b = r->notes[i].body, *data = NULL;
        if (!b)
            continue;
        json_object_object_get_ex(b, "data", &data);
        const char *rid = jstr(data, "roomId");
        bool room_ok = !room_id || (rid && strcmp(rid, room_id) == 0);
        bool to_ok = !to || (jstr(b, "to") && strcmp(jstr(b, "to"), to) == 0);
        bool type_ok = !type || (jstr(b, "type") && strcmp(jstr(b, "type"), type) == 0);
        if (room_ok && to_ok && type_ok)
            n++;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* A copy of the first matching notification body (caller puts), or NULL. */
static json_object *find_note(receiver_t *r, const char *room_id, const char *to,
                              const char *type, char *path_out, size_t path_len)
{
    json_object *found = NULL;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n_notes && !found; i++) {
        json_object *b = r->notes[i].body, *data = NULL;
        if (!b)
            continue;
        json_object_object_get_ex(b, "data", &data);
        const char *rid = jstr(data, "roomId");
        if ((!room_id || (rid && strcmp(rid, room_id) == 0)) &&
            (!to || (jstr(b, "to") && strcmp(jstr(b, "to"), to) == 0)) &&
            (!type || (jstr(b, "type") && strcmp(jstr(b, "type"), type) == 0))) {
            found = json_object_get(b);
            if (path_out)
                snprintf(path_out, path_len, "%s %s", r->notes[i].method, r->notes[i].path);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

static void dump_notes(receiver_t *r)
{
    pthread_mutex_lock(&r->mu);
    print_error("receiver got %d request(s), %d kept:\n", r->requests, r->n_notes);
    for (int i = 0; i < r->n_notes; i++)
        print_error("  %s %s %s\n", r->notes[i].method, r->notes[i].path,
                    r->notes[i].body ? json_object_to_json_string(r->notes[i].body) : "(not JSON)");
    pthread_mutex_unlock(&r->mu);
}

/* Waits until count_for() reaches want; false on timeout. */
static bool wait_for(receiver_t *r, const char *room_id, const char *to, const char *type,
                     int want, double timeout_s)
{
    if (delivery_state < 0)
        timeout_s = 1.0;
    double end = now_s() + timeout_s;
    for (;;) {
        if (count_for(r, room_id, to, type) >= want) {
            delivery_state = 1;
            return true;
        }
        if (now_s() > end) {
            pthread_mutex_lock(&r->mu);
            if (delivery_state == 0 && r->requests == 0)
                delivery_state = -1;
            pthread_mutex_unlock(&r->mu);
            return false;
        }
        usleep(50 * 1000);
    }
}

#define WAIT_FOR(room, to, type, want, secs) do { \
        if (!wait_for(rcv, (room), (to), (type), (want), (secs))) { \
            print_error("gave up waiting (%.0f s, or 1 s once nothing was ever delivered) " \
                        "for %d notification(s) room=%s to=%s type=%s\n", (double)(secs), (want), (room) ? (room) : "*", (to) ? (to) : "*", \
                        (type) ? (type) : "*"); \
            dump_notes(rcv); \
            fail(); \
        } \
    } while (0)

static server_t *notify_server(int port)
{
    char addr[64], p[64];
    snprintf(addr, sizeof addr, "NOTIFICATIONS_PORT_8080_TCP_ADDR=127.0.0.1");
    snprintf(p, sizeof p, "NOTIFICATIONS_PORT_8080_TCP_PORT=%d", port);
    const char *over[] = { addr, p, NULL };
    return scoped_server(over);
}

/* Every test starts with an empty outbox: rows a failed test left behind
 * would otherwise reach the next test's receiver. */
static int notify_setup(void **state)
{
    int rc = std_setup(state);
    db_exec("DELETE FROM notification_outbox", 0, NULL);
    return rc;
}

/* A second database connection a test may hold row locks on. */
static PGconn *lock_conn;

static int notify_teardown(void **state)
{
    if (lock_conn) {
        PQfinish(lock_conn);
        lock_conn = NULL;
    }
    receiver_stop(rcv);
    rcv = NULL;
    return std_teardown(state);
}

#define TN(fn) cmocka_unit_test_setup_teardown(fn, notify_setup, notify_teardown)

static void check_envelope(json_object *n, const char *to, const char *room, const char *ts,
                           const char *from, const char *type, const char *message)
{
    json_object *data = NULL;
    assert_non_null(n);
    assert_json_str(n, "from", "chat/v1");
    assert_json_str(n, "to", to);
    assert_json_str(n, "type", "message");
    assert_json_str(n, "secret", IT_SECRET);
    assert_true(json_object_object_get_ex(n, "data", &data));
    assert_json_str(data, "roomId", room);
    assert_json_str(data, "from", from);
    assert_json_str(data, "type", type);
    assert_json_str(data, "message", message);
    json_object *t = json_object_object_get(data, "timestamp");
    assert_non_null(t);
    if (strcmp(json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN), ts) != 0)
        print_error("data.timestamp %s, want %s\n", json_object_to_json_string(t), ts);
    assert_string_equal(json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN), ts);
}

/* ---- tests -------------------------------------------------------------- */

static void test_message_notifies_every_other_member_with_push(void **state)
{
    (void)state;
    const char *room = "n1/alice/bob/carol";
    rcv = receiver_start(0, 0, 0);
    h_srv = notify_server(rcv->port);
    api_create_room("{\"type\":\"n1\",\"users\":[\"alice\",\"bob\",\"carol\"]}");
    api_post_msg(TOK_ALICE, room, "{\"timestamp\":1429084016939,\"type\":\"text\","
                 "\"message\":\"Hey!\",\"push\":{\"app\":\"triominos/v1\",\"title\":[\"t\"]}}");
    WAIT_FOR(room, NULL, "message", 2, 10);
    usleep(500 * 1000);   /* nothing more may come */
    if (count_for(rcv, room, NULL, NULL) != 2)
        dump_notes(rcv);
    assert_int_equal(count_for(rcv, room, NULL, NULL), 2);
    assert_int_equal(count_for(rcv, room, "alice", NULL), 0);

    static const char *const to[] = { "bob", "carol" };
    for (int i = 0; i < 2; i++) {
        char where[300];
        json_object *n = find_note(rcv, room, to[i], "message", where, sizeof where);
        assert_non_null(n);
        assert_string_equal(where, "POST /notifications/v1/messages");
        check_envelope(n, to[i], room, "1429084016939", "alice", "text", "Hey!");
        json_object *push = NULL;
        assert_true(json_object_object_get_ex(n, "push", &push));
        json_object *want = json_tokener_parse("{\"app\":\"triominos/v1\",\"title\":[\"t\"]}");
        assert_true(json_object_equal(push, want));
        json_object_put(want);
        json_object_put(n);
    }
}

static void test_message_without_push_has_no_push_field(void **state)
{
    (void)state;
    const char *room = "n2/alice/bob";
    rcv = receiver_start(0, 0, 0);
    h_srv = notify_server(rcv->port);
    api_create_room("{\"type\":\"n2\",\"users\":[\"alice\",\"bob\"]}");
    api_post_msg(TOK_BOB, room, "{\"timestamp\":\"7\",\"type\":\"text\",\"message\":\"yo\"}");
    WAIT_FOR(room, "alice", "message", 1, 10);
    json_object *n = find_note(rcv, room, "alice", "message", NULL, 0);
    check_envelope(n, "alice", room, "\"7\"", "bob", "text", "yo");
    json_object *push = NULL;
    if (json_object_object_get_ex(n, "push", &push))
        print_error("unexpected push: %s\n", json_object_to_json_string(n));
    assert_false(json_object_object_get_ex(n, "push", &push));
    json_object_put(n);
}

static void test_system_message_notifies_every_user(void **state)
{
    (void)state;
    const char *room = "n3/alice/bob";
    rcv = receiver_start(0, 0, 0);
    h_srv = notify_server(rcv->port);
    resp_t *r = http_post("{\"type\":\"n3\",\"users\":[\"bob\",\"alice\"],\"timestamp\":5,"
                          "\"message\":\"ALICE_DISCONNECTED\"}",
                          PFX "/auth/%s/system-messages", IT_SECRET);
    assert_empty_ok(r);
    resp_free(r);
    WAIT_FOR(room, NULL, "message", 2, 10);
    static const char *const to[] = { "alice", "bob" };
    for (int i = 0; i < 2; i++) {
        json_object *n = find_note(rcv, room, to[i], "message", NULL, 0);
        check_envelope(n, to[i], room, "5", "$$", "event", "ALICE_DISCONNECTED");
        json_object_put(n);
    }
}

static void test_muted_sender_notifies_nobody(void **state)
{
    (void)state;
    const char *room = "n4/alice/bob/carol";
    rcv = receiver_start(0, 0, 0);
    h_srv = notify_server(rcv->port);
    api_create_room("{\"type\":\"n4\",\"users\":[\"alice\",\"bob\",\"carol\"]}");
    db_meta("alice", "$muted", "true");
    api_post_msg(TOK_ALICE, room, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"shh\"}");
    /* a later message from bob proves delivery works: carol gets it, and
     * alice, muted, is not notified as a receiver either */
    api_post_msg(TOK_BOB, room, "{\"timestamp\":2,\"type\":\"text\",\"message\":\"ok\"}");
    WAIT_FOR(room, "carol", "message", 1, 10);
    usleep(500 * 1000);
    if (count_for(rcv, room, NULL, NULL) != 1)
        dump_notes(rcv);
    assert_int_equal(count_for(rcv, room, NULL, NULL), 1);
    json_object *n = find_note(rcv, room, "carol", "message", NULL, 0);
    check_envelope(n, "carol", room, "2", "bob", "text", "ok");
    json_object_put(n);
}

static void test_muted_chat_disabled_and_blocking_receivers_are_skipped(void **state)
{
    (void)state;
    const char *room = "n5/alice/bob/carol/dave/erin";
    rcv = receiver_start(0, 0, 0);
    h_srv = notify_server(rcv->port);
    api_create_room("{\"type\":\"n5\",\"users\":[\"alice\",\"bob\",\"carol\",\"dave\",\"erin\"]}");
    db_meta("bob", "$muted", "true");
    db_meta("carol", "$chatdisabled", "true");
    db_meta("dave", "$blocked", "zed,alice,yan");
    db_meta("erin", "$blocked", "alicia,malice");
    api_post_msg(TOK_ALICE, room, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"hi all\"}");
    WAIT_FOR(room, "erin", "message", 1, 10);
    WAIT_FOR(NULL, "alice", "chat-disabled", 1, 10);
    usleep(500 * 1000);
    if (count_for(rcv, room, NULL, "message") != 1)
        dump_notes(rcv);
    assert_int_equal(count_for(rcv, room, NULL, "message"), 1);
    assert_int_equal(count_for(rcv, room, "erin", "message"), 1);

    json_object *n = find_note(rcv, NULL, "alice", "chat-disabled", NULL, 0);
    json_object *data = NULL;
    assert_non_null(n);
    assert_json_str(n, "secret", IT_SECRET);
    assert_true(json_object_object_get_ex(n, "data", &data));
    assert_json_str(data, "receiver", "carol");
    json_object_put(n);
    assert_int_equal(count_for(rcv, NULL, NULL, "chat-disabled"), 1);
}

static void test_failed_delivery_is_retried(void **state)
{
    (void)state;
    const char *room = "n6/alice/bob";
    rcv = receiver_start(0, 2, 0);   /* 503 twice, then 200 */
    h_srv = notify_server(rcv->port);
    api_create_room("{\"type\":\"n6\",\"users\":[\"alice\",\"bob\"]}");
    api_post_msg(TOK_ALICE, room, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"again\"}");
    WAIT_FOR(room, "bob", "message", 1, 30);
    usleep(500 * 1000);
    assert_int_equal(count_for(rcv, room, "bob", "message"), 1);
    assert_true(rcv->requests >= 3);
}

static void test_notification_survives_receiver_down_and_server_restart(void **state)
{
    (void)state;
    const char *room = "n7/alice/bob";
    /* hold the port bound but not listening (connections are refused),
     * so that no server started meanwhile can take it */
    int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    assert_true(hold >= 0);
    assert_int_equal(bind(hold, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(hold, (struct sockaddr *)&a, &alen), 0);
    int port = ntohs(a.sin_port);
    server_t *first = notify_server(port);
    h_srv = first;
    api_create_room("{\"type\":\"n7\",\"users\":[\"alice\",\"bob\"]}");
    api_post_msg(TOK_ALICE, room, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"later\"}");
    usleep(300 * 1000);
    server_stop(first);
    h_srv = notify_server(port);
    close(hold);
    rcv = receiver_start(port, 0, 0);
    WAIT_FOR(room, "bob", "message", 1, 40);
    json_object *n = find_note(rcv, room, "bob", "message", NULL, 0);
    check_envelope(n, "bob", room, "1", "alice", "text", "later");
    json_object_put(n);
}

/* ---- helpers for the delivery guarantees -------------------------------- */

/* Short retry settings: backoff 100 ms doubling to 1 s, leases of 7 s. */
#define FAST_OUTBOX "OUTBOX_BACKOFF_BASE_MS=100", "OUTBOX_BACKOFF_MAX_MS=1000", \
    "NOTIFICATIONS_TIMEOUT_MS=2000"

/* A server for this test notifying 127.0.0.1:port, with the overrides
 * (NULL-terminated, may be NULL) on top. */
static server_t *notify_server_with(int port, const char *const *extra)
{
    char addr[64], p[64];
    const char *over[32];
    size_t n = 0;
    snprintf(addr, sizeof addr, "NOTIFICATIONS_PORT_8080_TCP_ADDR=127.0.0.1");
    snprintf(p, sizeof p, "NOTIFICATIONS_PORT_8080_TCP_PORT=%d", port);
    over[n++] = addr;
    over[n++] = p;
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        over[n++] = extra[i];
    over[n] = NULL;
    return scoped_server(over);
}

/* A socket bound to a free loopback port but not listening: connections to
 * it are refused, and no other process can take the port meanwhile. Turn it
 * into the receiver with receiver_open(fd, ...). */
static int hold_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* How many notifications of room carry data.message == text. */
static int count_text(receiver_t *r, const char *room, const char *text)
{
    int n = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n_notes; i++) {
        json_object *b = r->notes[i].body, *data = NULL;
        if (!b || !json_object_object_get_ex(b, "data", &data))
            continue;
        const char *rid = jstr(data, "roomId"), *msg = jstr(data, "message");
        if (rid && msg && strcmp(rid, room) == 0 && strcmp(msg, text) == 0)
            n++;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int requests_of(receiver_t *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->requests;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Posts n messages "<prefix>-00".. from alice into room (to bob), each
 * answered 200; through servers[i % n_servers] when servers is given. */
static void post_numbered(const char *room, const char *prefix, int n, server_t **servers,
                          int n_servers)
{
    for (int i = 0; i < n; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"%s-%02d\"}", 1000 + i,
                 prefix, i);
        if (servers)
            h_srv = servers[i % n_servers];
        api_post_msg(TOK_ALICE, room, body);
    }
}

/* Asserts that bob got "<prefix>-00".."<prefix>-(n-1)" of room exactly once
 * each and nothing else from that room. */
static void assert_each_once(const char *room, const char *prefix, int n)
{
    bool ok = count_for(rcv, room, NULL, NULL) == n;
    for (int i = 0; i < n; i++) {
        char text[64];
        snprintf(text, sizeof text, "%s-%02d", prefix, i);
        int c = count_text(rcv, room, text);
        if (c != 1) {
            print_error("notification \"%s\" arrived %d times\n", text, c);
            ok = false;
        }
    }
    if (!ok) {
        print_error("room %s: %d notification(s), want %d, each once\n", room,
                    count_for(rcv, room, NULL, NULL), n);
        dump_notes(rcv);
    }
    assert_true(ok);
    assert_int_equal(count_for(rcv, room, "bob", "message"), n);
}

static long long outbox_rows(void)
{
    return db_long("SELECT count(*) FROM notification_outbox", 0, NULL);
}

/* Waits until notification_outbox is empty; fails after secs. */
static void assert_outbox_drains(double secs)
{
    double end = now_s() + secs;
    while (outbox_rows() != 0) {
        if (now_s() > end) {
            PGresult *res = db_query("SELECT id, to_user, attempts, next_attempt_at - now(), "
                                     "failed_at, last_error FROM notification_outbox "
                                     "ORDER BY id", 0, NULL);
            print_error("notification_outbox still holds %d row(s) after %.0f s:\n",
                        PQntuples(res), secs);
            for (int i = 0; i < PQntuples(res) && i < 40; i++)
                print_error("  id=%s to=%s attempts=%s due_in=%s failed_at=%s last_error=%s\n",
                            PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                            PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
            PQclear(res);
            fail();
        }
        usleep(50 * 1000);
    }
}

/* Log lines of s at level whose msg contains every one of the needles
 * (NULL-terminated). */
static int count_log_lines(server_t *s, int level, const char *const *needles)
{
    char *log = server_log(s);
    int n = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        json_object *o = json_tokener_parse(line), *lv = NULL;
        const char *msg = jstr(o, "msg");
        if (o && msg && json_object_object_get_ex(o, "level", &lv) &&
            json_object_get_int(lv) == level) {
            bool all = true;
            for (size_t i = 0; needles[i]; i++)
                all = all && strstr(msg, needles[i]) != NULL;
            n += all;
        }
        json_object_put(o);
    }
    free(log);
    return n;
}

/* SIGKILL, no chance to clean up. */
static void kill_server(server_t *s)
{
    int st = 0;
    assert_true(s->pid > 0);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->exit_status = st;
    s->pid = 0;
}

/* ---- delivery guarantees ------------------------------------------------ */

static void test_slow_receiver_does_not_delay_the_request(void **state)
{
    (void)state;
    const char *room = "n8/alice/bob";
    rcv = receiver_start(0, 0, 5000);   /* answers each request after 5 s */
    /* the delivery timeout must outlast the receiver's 5 s */
    h_srv = notify_server_with(rcv->port, OVERRIDES("NOTIFICATIONS_TIMEOUT_MS=10000"));
    api_create_room("{\"type\":\"n8\",\"users\":[\"alice\",\"bob\"]}");
    for (int i = 0; i < 3; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"slow-%02d\"}",
                 1000 + i, i);
        resp_t *r = http_post(body, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(room));
        assert_empty_ok(r);
        if (r->seconds > 1.5)
            print_error("POST %d took %.2f s with a notifications service answering after 5 s\n",
                        i, r->seconds);
        assert_true(r->seconds < 1.5);
        resp_free(r);
    }
    WAIT_FOR(room, "bob", "message", 3, 15);
    usleep(500 * 1000);
    assert_each_once(room, "slow", 3);
    assert_int_equal(requests_of(rcv), 3);
    assert_outbox_drains(3);
}

static void test_receiver_down_then_up_gets_everything_once(void **state)
{
    (void)state;
    const char *room = "n9/alice/bob";
    int port;
    int hold = hold_port(&port);
    h_srv = notify_server_with(port, OVERRIDES(FAST_OUTBOX));
    api_create_room("{\"type\":\"n9\",\"users\":[\"alice\",\"bob\"]}");
    post_numbered(room, "down", 20, NULL, 0);
    usleep(2000 * 1000);
    /* meanwhile every notification was tried, refused, and kept */
    assert_int_equal(db_long("SELECT count(*) FROM notification_outbox WHERE room_id = $1 "
                             "AND attempts >= 1 AND last_error IS NOT NULL "
                             "AND failed_at IS NULL", PARAMS(room)), 20);
    assert_int_equal(outbox_rows(), 20);
    rcv = receiver_open(hold, 0, 0, 503, 0);
    WAIT_FOR(room, "bob", "message", 20, 15);
    usleep(1000 * 1000);   /* nothing more may come */
    assert_each_once(room, "down", 20);
    assert_outbox_drains(3);
}

static void test_http_500_is_retried_until_delivered_once(void **state)
{
    (void)state;
    const char *room = "n10/alice/bob";
    rcv = receiver_open(-1, 0, 3, 500, 0);   /* 500 to the first 3 requests */
    h_srv = notify_server_with(rcv->port, OVERRIDES(FAST_OUTBOX));
    api_create_room("{\"type\":\"n10\",\"users\":[\"alice\",\"bob\"]}");
    post_numbered(room, "retry", 5, NULL, 0);
    WAIT_FOR(room, "bob", "message", 5, 15);
    usleep(1000 * 1000);
    assert_each_once(room, "retry", 5);
    /* 5 notifications, 3 of them sent a second time after their 500 */
    if (requests_of(rcv) != 8)
        dump_notes(rcv);
    assert_int_equal(requests_of(rcv), 8);
    assert_int_equal(count_log_lines(h_srv, 40, OVERRIDES("failed (HTTP 500)")), 3);
    assert_outbox_drains(3);
}

static void test_sigkill_after_accepting_loses_no_notification(void **state)
{
    (void)state;
    const char *room = "n11/alice/bob";
    int port;
    int hold = hold_port(&port);
    server_t *first = notify_server_with(port, OVERRIDES(FAST_OUTBOX));
    h_srv = first;
    api_create_room("{\"type\":\"n11\",\"users\":[\"alice\",\"bob\"]}");
    post_numbered(room, "kill", 20, NULL, 0);
    kill_server(first);   /* right after the 20th 200 */
    assert_true(WIFSIGNALED(first->exit_status) && WTERMSIG(first->exit_status) == SIGKILL);
    assert_int_equal(db_count_messages(room), 20);
    /* every accepted message has its notification queued */
    assert_int_equal(db_long("SELECT count(*) FROM notification_outbox WHERE room_id = $1",
                             PARAMS(room)), 20);
    rcv = receiver_open(hold, 0, 0, 503, 0);
    h_srv = notify_server_with(port, OVERRIDES(FAST_OUTBOX));
    /* rows the killed server had leased come back when the 7 s lease ends */
    WAIT_FOR(room, "bob", "message", 20, 15);
    usleep(1000 * 1000);
    assert_each_once(room, "kill", 20);
    assert_outbox_drains(3);
}

/* Sends a keyed post on a connection of its own without waiting for the
 * answer (WHOLE false: all but its last body byte, so it cannot be
 * served); returns the socket (the caller closes it). */
static int send_keyed_post(int port, const char *path, const char *key, const char *body,
                           bool whole)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Idempotency-Key: %s\r\nContent-Length: %zu\r\n\r\n%s",
                     path, key, strlen(body), body);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    size_t len = whole ? (size_t)n : (size_t)n - 1;
    assert_int_equal(write(fd, req, len), (ssize_t)len);
    return fd;
}

/* A post cut by a SIGKILL (before its commit: two of them never arrive
 * whole; after it: the kill comes 2 to 8 ms after the others), then
 * retried with the same Idempotency-Key on another server: each message
 * stored once, each notification sent once. */
static void test_retry_with_the_same_key_after_sigkill_stores_and_notifies_once(void **state)
{
    (void)state;
    const char *room = "n20/alice/bob";
    int port;
    int hold = hold_port(&port);
    char path[256];
    snprintf(path, sizeof path, PFX "/auth/" TOK_ALICE "/rooms/%s/messages", enc(room));
    for (int i = 0; i < 5; i++) {
        server_t *s = notify_server_with(port, OVERRIDES(FAST_OUTBOX));
        h_srv = s;
        if (i == 0)
            api_create_room("{\"type\":\"n20\",\"users\":[\"alice\",\"bob\"]}");
        char body[128], key[32];
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"kill-%02d\"}",
                 i, i);
        snprintf(key, sizeof key, "retry-%d", i);
        int fd = send_keyed_post(s->port, path, key, body, i >= 2);
        usleep((useconds_t)(i * 2000));
        kill_server(s);
        close(fd);
    }
    long long committed = db_count_messages(room);
    rcv = receiver_open(hold, 0, 0, 503, 0);
    h_srv = notify_server_with(port, OVERRIDES(FAST_OUTBOX));
    for (int i = 0; i < 5; i++) {
        char body[128], key[32], header[64];
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"kill-%02d\"}",
                 i, i);
        snprintf(key, sizeof key, "retry-%d", i);
        snprintf(header, sizeof header, "Idempotency-Key: %s", key);
        const char *const headers[] = { header, NULL };
        req_t q = { .method = "POST", .path = path, .body = body, .headers = headers };
        resp_t *r = http_do(&q);
        assert_empty_ok(r);
        resp_free(r);
    }
    print_message("%lld of 5 posts committed before their server was killed\n", committed);
    assert_int_equal(db_count_messages(room), 5);
    WAIT_FOR(room, "bob", "message", 5, 15);
    usleep(1000 * 1000);
    assert_each_once(room, "kill", 5);
}

static void test_retry_limit_keeps_failed_row_until_requeued(void **state)
{
    (void)state;
    const char *room = "n12/alice/bob";
    rcv = receiver_open(-1, 0, INT_MAX, 500, 0);   /* always 500 */
    h_srv = notify_server_with(rcv->port, OVERRIDES(FAST_OUTBOX, "OUTBOX_MAX_ATTEMPTS=2"));
    api_create_room("{\"type\":\"n12\",\"users\":[\"alice\",\"bob\"]}");
    api_post_msg(TOK_ALICE, room, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"doomed\"}");

    double end = now_s() + 10;
    while (db_long("SELECT count(*) FROM notification_outbox WHERE failed_at IS NOT NULL",
                   0, NULL) == 0) {
        if (now_s() > end) {
            print_error("no row got failed_at within 10 s (%d request(s) seen)\n",
                        requests_of(rcv));
            assert_outbox_drains(0);   /* prints the rows */
            fail();
        }
        usleep(50 * 1000);
    }
    usleep(1000 * 1000);   /* a row given up on is not tried again */
    assert_int_equal(outbox_rows(), 1);
    assert_int_equal(db_long("SELECT attempts FROM notification_outbox", 0, NULL), 2);
    char *err = db_text("SELECT last_error FROM notification_outbox", 0, NULL);
    if (!err || !strstr(err, "HTTP 500"))
        print_error("last_error: %s\n", err ? err : "NULL");
    assert_true(err && strstr(err, "HTTP 500"));
    free(err);
    assert_int_equal(db_long("SELECT count(*) FROM notification_outbox WHERE to_user = 'bob' "
                             "AND room_id = $1 AND failed_at IS NOT NULL", PARAMS(room)), 1);
    assert_int_equal(requests_of(rcv), 2);
    assert_int_equal(count_for(rcv, NULL, NULL, NULL), 0);
    int errors = count_log_lines(h_srv, 50, OVERRIDES("attempt 2 failed (HTTP 500)", "giving up"));
    if (errors != 1) {
        char *log = server_log(h_srv);
        print_error("want one level-50 \"giving up\" line; log:\n%s\n", log);
        free(log);
    }
    assert_int_equal(errors, 1);

    /* the service recovers; the operator re-queues */
    pthread_mutex_lock(&rcv->mu);
    rcv->fail_first = 0;
    pthread_mutex_unlock(&rcv->mu);
    assert_int_equal(db_long("SELECT chat_outbox_requeue()", 0, NULL), 1);
    WAIT_FOR(room, "bob", "message", 1, 10);
    usleep(500 * 1000);
    assert_int_equal(count_text(rcv, room, "doomed"), 1);
    assert_int_equal(requests_of(rcv), 3);
    assert_outbox_drains(3);
}

static void test_two_servers_share_the_outbox_without_duplicates(void **state)
{
    (void)state;
    const char *room = "n13/alice/bob";
    rcv = receiver_start(0, 0, 0);
    server_t *both[2];
    both[0] = notify_server_with(rcv->port, OVERRIDES(FAST_OUTBOX));
    both[1] = notify_server_with(rcv->port, OVERRIDES(FAST_OUTBOX));
    h_srv = both[0];
    api_create_room("{\"type\":\"n13\",\"users\":[\"alice\",\"bob\"]}");
    post_numbered(room, "pair", 30, both, 2);
    WAIT_FOR(room, "bob", "message", 30, 15);
    usleep(1000 * 1000);
    assert_each_once(room, "pair", 30);
    assert_int_equal(requests_of(rcv), 30);
    assert_outbox_drains(3);
}

static void test_without_notifications_address_nothing_is_queued(void **state)
{
    (void)state;
    const char *room = "n14/alice/bob/carol";
    h_srv = scoped_server(OVERRIDES("NOTIFICATIONS_PORT_8080_TCP_ADDR",
                                    "NOTIFICATIONS_PORT_8080_TCP_PORT=9"));
    api_create_room("{\"type\":\"n14\",\"users\":[\"alice\",\"bob\",\"carol\"]}");
    db_meta("carol", "$chatdisabled", "true");   /* would queue a chat-disabled too */
    api_post_msg(TOK_ALICE, room, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"a\","
                 "\"push\":{\"app\":\"x\"}}");
    api_post_msg(TOK_BOB, room, "{\"timestamp\":2,\"type\":\"text\",\"message\":\"b\"}");
    resp_t *r = http_post("{\"type\":\"n14\",\"users\":[\"alice\",\"bob\",\"carol\"],"
                          "\"timestamp\":3,\"message\":\"SYS\"}",
                          PFX "/auth/%s/system-messages", IT_SECRET);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(room), 3);
    usleep(300 * 1000);
    assert_int_equal(outbox_rows(), 0);
    assert_int_equal(count_log_lines(h_srv, 30, OVERRIDES("no notifications are queued")), 1);
}

static void test_notification_json_is_exact(void **state)
{
    (void)state;
    const char *room = "n15/alice/bob";
    static const char push_obj[] =
        "{\"app\":\"triominos/v1\",\"title\":[\"chat\",\"new\"],\"n\":-3,\"f\":0.5,"
        "\"big\":9007199254740993,\"ok\":true,\"none\":null,"
        "\"nested\":{\"a\":[{\"b\":\"\\u00e9\\u2713 \\\"q\\\" \\\\ /\"}],\"e\":{}}}";
    static const char push_arr[] = "[1,\"two\",null,false,{\"k\":[]}]";
    /* "héllo ✓ "quoted" \ / <new line>" */
    static const char text_json[] = "\"h\\u00e9llo \\u2713 \\\"quoted\\\" \\\\ / \\n end\"";
    char body[1024], want[2048];

    rcv = receiver_start(0, 0, 0);
    h_srv = notify_server_with(rcv->port, OVERRIDES(FAST_OUTBOX));
    api_create_room("{\"type\":\"n15\",\"users\":[\"alice\",\"bob\"]}");

    snprintf(body, sizeof body, "{\"timestamp\":1429084016939,\"type\":\"text\",\"message\":%s,"
             "\"push\":%s,\"extra\":\"dropped\"}", text_json, push_obj);
    api_post_msg(TOK_ALICE, room, body);
    snprintf(body, sizeof body, "{\"timestamp\":\"42\",\"type\":\"t2\",\"message\":\"second\","
             "\"push\":%s}", push_arr);
    api_post_msg(TOK_ALICE, room, body);
    WAIT_FOR(room, "bob", "message", 2, 10);
    usleep(300 * 1000);
    assert_int_equal(count_for(rcv, room, NULL, NULL), 2);

    for (int k = 0; k < 2; k++) {
        if (k == 0)
            snprintf(want, sizeof want,
                     "{\"from\":\"chat/v1\",\"to\":\"bob\",\"type\":\"message\",\"secret\":\"%s\","
                     "\"data\":{\"roomId\":\"%s\",\"timestamp\":1429084016939,\"from\":\"alice\","
                     "\"type\":\"text\",\"message\":%s},\"push\":%s}",
                     IT_SECRET, room, text_json, push_obj);
        else
            snprintf(want, sizeof want,
                     "{\"from\":\"chat/v1\",\"to\":\"bob\",\"type\":\"message\",\"secret\":\"%s\","
                     "\"data\":{\"roomId\":\"%s\",\"timestamp\":\"42\",\"from\":\"alice\","
                     "\"type\":\"t2\",\"message\":\"second\"},\"push\":%s}",
                     IT_SECRET, room, push_arr);
        json_object *w = json_tokener_parse(want);
        assert_non_null(w);
        json_object *data = NULL;
        json_object_object_get_ex(w, "data", &data);
        const char *msg = jstr(data, "message");
        json_object *got = NULL;
        note_t meta = { 0 };
        pthread_mutex_lock(&rcv->mu);
        for (int i = 0; i < rcv->n_notes && !got; i++) {
            json_object *b = rcv->notes[i].body, *d = NULL;
            if (b && json_object_object_get_ex(b, "data", &d) && jstr(d, "message") &&
                strcmp(jstr(d, "message"), msg) == 0) {
                got = json_object_get(b);
                meta = rcv->notes[i];
                meta.body = NULL;
            }
        }
        pthread_mutex_unlock(&rcv->mu);
        if (!got || !json_object_equal(got, w)) {
            print_error("notification %d\n got: %s\nwant: %s\n", k,
                        got ? json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN) : "(none)",
                        json_object_to_json_string_ext(w, JSON_C_TO_STRING_PLAIN));
            dump_notes(rcv);
        }
        assert_non_null(got);
        assert_true(json_object_equal(got, w));
        assert_string_equal(meta.method, "POST");
        assert_string_equal(meta.path, "/notifications/v1/messages");
        if (strncasecmp(meta.content_type, "application/json", 16) != 0)
            print_error("Content-Type: %s\n", meta.content_type);
        assert_true(strncasecmp(meta.content_type, "application/json", 16) == 0);
        /* json_object_equal compares numbers by value; also the JSON type
         * of the timestamp (number vs string) and of push's big integer */
        json_object *gd = NULL, *gt = NULL, *wt = NULL;
        json_object_object_get_ex(got, "data", &gd);
        json_object_object_get_ex(gd, "timestamp", &gt);
        json_object_object_get_ex(data, "timestamp", &wt);
        assert_int_equal(json_object_get_type(gt), json_object_get_type(wt));
        json_object_put(got);
        json_object_put(w);
    }
}

static PGresult *lock_exec(const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(lock_conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        print_error("%s: %s\n", sql, PQresultErrorMessage(res));
        PQclear(res);
        fail();
    }
    return res;
}

/* A NOTIFY that reaches the dispatcher while it is busy with a query of its
 * own (here: the DELETE after a 2xx, held up by a row lock) must still wake
 * it: the notification of a message committed meanwhile goes out at once,
 * not when the next retry or lease falls due. */
static void test_notify_during_dispatcher_query_is_not_missed(void **state)
{
    (void)state;
    const char *room = "n17/alice/bob";
    rcv = receiver_start(0, 0, 1000);   /* holds the first request 1 s */
    h_srv = notify_server_with(rcv->port, OVERRIDES(FAST_OUTBOX));
    api_create_room("{\"type\":\"n17\",\"users\":[\"alice\",\"bob\"]}");
    api_post_msg(TOK_ALICE, room, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"first\"}");
    double end = now_s() + 5;
    while (requests_of(rcv) < 1) {
        if (now_s() > end)
            fail_msg("the first notification was not sent within 5 s");
        usleep(5 * 1000);
    }
    pthread_mutex_lock(&rcv->mu);
    rcv->delay_ms = 0;
    pthread_mutex_unlock(&rcv->mu);

    /* lock the row being delivered: the dispatcher's DELETE will wait */
    lock_conn = PQconnectdb(h_env("DATABASE_URL"));
    assert_int_equal(PQstatus(lock_conn), CONNECTION_OK);
    PQclear(lock_exec("BEGIN", 0, NULL));
    PGresult *res = lock_exec("SELECT id FROM notification_outbox WHERE room_id = $1 FOR UPDATE",
                              PARAMS(room));
    assert_int_equal(PQntuples(res), 1);
    PQclear(res);
    end = now_s() + 5;
    while (db_long("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND query ILIKE '%notification_outbox%'", 0, NULL) < 1) {
        if (now_s() > end)
            fail_msg("the dispatcher did not block on the row lock within 5 s");
        usleep(10 * 1000);
    }
    /* committed while the dispatcher waits inside its DELETE */
    api_post_msg(TOK_ALICE, room, "{\"timestamp\":2,\"type\":\"text\",\"message\":\"second\"}");
    usleep(200 * 1000);
    double t0 = now_s();
    PQclear(lock_exec("COMMIT", 0, NULL));
    /* the dispatcher is idle now (the first delivery is done): the second
     * must go out within milliseconds, not at the first one's lease end */
    if (!wait_for(rcv, room, "bob", "message", 2, 3.0)) {
        print_error("\"second\" not sent within 3 s of the dispatcher going idle\n");
        dump_notes(rcv);
        fail();
    }
    print_message("second notification sent %.0f ms after the dispatcher's DELETE was released\n",
                  (now_s() - t0) * 1000);
    assert_int_equal(count_text(rcv, room, "first"), 1);
    assert_int_equal(count_text(rcv, room, "second"), 1);
    assert_outbox_drains(3);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_notification_latency_probe(void **state)
{
    (void)state;
    const char *room = "n16/alice/bob";
    enum { N = 20 };
    double lat[N];
    rcv = receiver_start(0, 0, 0);
    h_srv = notify_server_with(rcv->port, OVERRIDES(FAST_OUTBOX));
    api_create_room("{\"type\":\"n16\",\"users\":[\"alice\",\"bob\"]}");
    for (int i = 0; i < N; i++) {
        char body[128], text[32];
        snprintf(text, sizeof text, "lat-%02d", i);
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"%s\"}",
                 i, text);
        double t0 = now_s();
        api_post_msg(TOK_ALICE, room, body);
        double at = -1;
        while (at < 0 && now_s() - t0 < 15.0) {
            pthread_mutex_lock(&rcv->mu);
            for (int k = rcv->n_notes - 1; k >= 0 && at < 0; k--) {
                json_object *b = rcv->notes[k].body, *d = NULL;
                if (b && json_object_object_get_ex(b, "data", &d) && jstr(d, "message") &&
                    strcmp(jstr(d, "message"), text) == 0)
                    at = rcv->notes[k].at;
            }
            pthread_mutex_unlock(&rcv->mu);
            if (at < 0)
                usleep(1000);
        }
        if (at < 0 || at - t0 >= 5.0) {
            if (at < 0)
                print_error("\"%s\" not notified within 15 s\n", text);
            else
                print_error("\"%s\" notified only %.2f s after its POST\n", text, at - t0);
            dump_notes(rcv);
        }
        assert_true(at >= 0 && at - t0 < 5.0);
        lat[i] = (at - t0) * 1000.0;
    }
    qsort(lat, N, sizeof lat[0], cmp_double);
    print_message("notification latency (POST sent -> receiver got it) over %d messages: "
                  "median %.1f ms, max %.1f ms, min %.1f ms\n",
                  N, (lat[N / 2 - 1] + lat[N / 2]) / 2, lat[N - 1], lat[0]);
    usleep(300 * 1000);
    assert_each_once(room, "lat", N);
}

int run_notify_tests(void)
{
    const struct CMUnitTest tests[] = {
        TN(test_message_notifies_every_other_member_with_push),
        TN(test_message_without_push_has_no_push_field),
        TN(test_system_message_notifies_every_user),
        TN(test_muted_sender_notifies_nobody),
        TN(test_muted_chat_disabled_and_blocking_receivers_are_skipped),
        TN(test_failed_delivery_is_retried),
        TN(test_notification_survives_receiver_down_and_server_restart),
        TN(test_slow_receiver_does_not_delay_the_request),
        TN(test_receiver_down_then_up_gets_everything_once),
        TN(test_http_500_is_retried_until_delivered_once),
        TN(test_sigkill_after_accepting_loses_no_notification),
        TN(test_retry_with_the_same_key_after_sigkill_stores_and_notifies_once),
        TN(test_retry_limit_keeps_failed_row_until_requeued),
        TN(test_two_servers_share_the_outbox_without_duplicates),
        TN(test_without_notifications_address_nothing_is_queued),
        TN(test_notification_json_is_exact),
        TN(test_notification_latency_probe),
        TN(test_notify_during_dispatcher_query_is_not_missed),
    };
    return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
