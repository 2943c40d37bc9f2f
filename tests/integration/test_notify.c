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
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_NOTES 256

typedef struct note {
    char method[16];
    char path[256];
    json_object *body;   /* NULL when the body was not JSON */
} note_t;

typedef struct receiver {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    note_t notes[MAX_NOTES];
    int n_notes;
    int requests;        /* every request, including refused ones */
    int fail_first;      /* answer 503 to this many requests first */
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

static receiver_t *receiver_start(int port, int fail_first, int delay_ms)
{
    receiver_t *r = calloc(1, sizeof *r);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    int one = 1;

    r->fail_first = fail_first;
    r->delay_ms = delay_ms;
    pthread_mutex_init(&r->mu, NULL);
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(r->fd >= 0);
    setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(r->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(r->fd, 64) != 0) {
        print_error("receiver: bind/listen on port %d: %s\n", port, strerror(errno));
        fail();
    }
    getsockname(r->fd, (struct sockaddr *)&a, &alen);
    r->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&r->thread, NULL, receiver_main, r), 0);
    return r;
}

static void receiver_stop(receiver_t *r)
{
    if (!r)
        return;
    r->stop = 1;
    pthread_join(r->thread, NULL);
    close(r->fd);
    for (int i = 0; i < r->n_notes; i++)
        if (r->notes[i].body)
            json_object_put(r->notes[i].body);
    pthread_mutex_destroy(&r->mu);
    free(r);
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
        /* one request per connection: we answer with Connection: close */
        read_request(c, r);
        close(c);
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
    for (char *line = strstr(b, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (strncasecmp(h, "Content-Length:", 15) == 0)
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

    pthread_mutex_lock(&r->mu);
    int idx = r->requests++;
    bool refuse = idx < r->fail_first;
    pthread_mutex_unlock(&r->mu);
    if (r->delay_ms > 0)
        usleep((useconds_t)r->delay_ms * 1000);
    if (!refuse) {
        pthread_mutex_lock(&r->mu);
        if (r->n_notes < MAX_NOTES) {
            note_t *nt = &r->notes[r->n_notes++];
            sscanf(b, "%15s %255s", nt->method, nt->path);
            nt->body = json_tokener_parse(body);
        }
        pthread_mutex_unlock(&r->mu);
    }
    static const char ok_answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    static const char busy_answer[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                      "Connection: close\r\n\r\n";
    const char *ans = refuse ? busy_answer : ok_answer;
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

static int notify_teardown(void **state)
{
    receiver_stop(rcv);
    rcv = NULL;
    return std_teardown(state);
}

#define TN(fn) cmocka_unit_test_setup_teardown(fn, std_setup, notify_teardown)

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

static void test_slow_receiver_does_not_delay_the_request(void **state)
{
    (void)state;
    const char *room = "n8/alice/bob";
    rcv = receiver_start(0, 0, 3000);
    h_srv = notify_server(rcv->port);
    api_create_room("{\"type\":\"n8\",\"users\":[\"alice\",\"bob\"]}");
    for (int i = 0; i < 3; i++) {
        resp_t *r = http_post("{\"timestamp\":1,\"type\":\"text\",\"message\":\"fast\"}",
                              PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(room));
        assert_empty_ok(r);
        if (r->seconds > 1.5)
            print_error("POST took %.2f s with a slow notifications service\n", r->seconds);
        assert_true(r->seconds < 1.5);
        resp_free(r);
    }
    WAIT_FOR(room, "bob", "message", 1, 15);
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
    };
    return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
