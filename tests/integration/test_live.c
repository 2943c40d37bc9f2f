/*
 * Live updates (issue 16): GET events (Server-Sent Events) and long-poll
 * (GET history with ?after=&wait=). A real HTTP/1.1 client over a socket
 * reads the chunked stream as a browser's EventSource would: events in
 * order, Last-Event-ID resumes without gap or repeat (across a restart and
 * across servers), heartbeats, the token's revocation and a ban end the
 * stream, limits answer 429/503, a reader too far behind is dropped.
 */
#include "harness.h"
#include "tests.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a Server-Sent Events client ----------------------------------------- */

typedef struct sse {
    int fd;
    long status;
    char *raw;        /* bytes read, not yet de-chunked */
    size_t raw_len;
    char *text;       /* the de-chunked stream, not yet parsed into events */
    size_t text_len;
    bool ended;       /* the last chunk came, or the connection closed */
} sse_t;

typedef struct sse_event {
    char id[64];
    char event[32];
    char *data;       /* owned; NULL for a block without data */
    bool comment;     /* a block of comments only (heartbeat) */
} sse_event_t;

static void grow_append(char **buf, size_t *len, const char *p, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    assert_non_null(*buf);
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void consume(char **buf, size_t *len, size_t n)
{
    memmove(*buf, *buf + n, *len - n + 1);
    *len -= n;
}

/* Moves whole chunks from RAW to TEXT. */
static void sse_dechunk(sse_t *s)
{
    for (;;) {
        char *eol = s->raw ? strstr(s->raw, "\r\n") : NULL;
        if (!eol)
            return;
        size_t size = strtoul(s->raw, NULL, 16);
        size_t head = (size_t)(eol - s->raw) + 2;
        if (size == 0) {
            s->ended = true;
            return;
        }
        if (s->raw_len < head + size + 2)
            return;
        grow_append(&s->text, &s->text_len, s->raw + head, size);
        consume(&s->raw, &s->raw_len, head + size + 2);
    }
}

/* Reads what comes within MS; false once the connection is closed. */
static bool sse_fill(sse_t *s, int ms)
{
    struct pollfd p = { .fd = s->fd, .events = POLLIN };
    if (poll(&p, 1, ms) <= 0)
        return true;
    char buf[65536];
    ssize_t n = read(s->fd, buf, sizeof buf);
    if (n <= 0) {
        s->ended = true;
        return false;
    }
    grow_append(&s->raw, &s->raw_len, buf, (size_t)n);
    sse_dechunk(s);
    return true;
}

/* GET PATH on PORT with LAST_ID (may be NULL) as Last-Event-ID: the
 * status and headers are read; *BODY gets a non-stream answer's body. */
static sse_t *sse_open(int port, const char *path, const char *last_id)
{
    sse_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(connect(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s%s%s\r\n",
                     path, last_id ? "Last-Event-ID: " : "", last_id ? last_id : "",
                     last_id ? "\r\n" : "");
    assert_int_equal(write(s->fd, req, (size_t)n), n);
    double end = now_s() + 10;
    char *head_end = NULL;
    while (!(head_end = s->raw ? strstr(s->raw, "\r\n\r\n") : NULL) && now_s() < end) {
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0)
            continue;
        char buf[4096];
        ssize_t got = read(s->fd, buf, sizeof buf);
        if (got <= 0)
            break;
        grow_append(&s->raw, &s->raw_len, buf, (size_t)got);
    }
    assert_non_null(head_end);
    s->status = strtol(s->raw + 9, NULL, 10);
    size_t head = (size_t)(head_end - s->raw) + 4;
    bool chunked = strstr(s->raw, "Transfer-Encoding: chunked") != NULL &&
                   strstr(s->raw, "Transfer-Encoding: chunked") < head_end;
    if (s->status == 200)
        assert_true(chunked);
    consume(&s->raw, &s->raw_len, head);
    if (!chunked) {   /* an error answer: its body as text */
        grow_append(&s->text, &s->text_len, s->raw ? s->raw : "", s->raw_len);
        s->ended = true;
    } else {
        sse_dechunk(s);
    }
    return s;
}

static void sse_close(sse_t *s)
{
    if (!s)
        return;
    close(s->fd);
    free(s->raw);
    free(s->text);
    free(s);
}

static void sse_event_clear(sse_event_t *e)
{
    free(e->data);
    memset(e, 0, sizeof *e);
}

/* Parses one block of S's text into E. */
static bool sse_parse_block(sse_t *s, sse_event_t *e)
{
    char *end = s->text ? strstr(s->text, "\n\n") : NULL;
    if (!end)
        return false;
    size_t block_len = (size_t)(end - s->text) + 2;
    memset(e, 0, sizeof *e);
    e->comment = true;
    char *line = s->text;
    while (line < end) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        if (strncmp(line, "id: ", 4) == 0) {
            snprintf(e->id, sizeof e->id, "%s", line + 4);
            e->comment = false;
        } else if (strncmp(line, "event: ", 7) == 0) {
            snprintf(e->event, sizeof e->event, "%s", line + 7);
            e->comment = false;
        } else if (strncmp(line, "data: ", 6) == 0) {
            e->data = strdup(line + 6);
            e->comment = false;
        } else if (line[0] != ':') {
            e->comment = false;
        }
        line = nl + 1;
    }
    consume(&s->text, &s->text_len, block_len);
    return true;
}

/* The next block within MS (comments included when WANT_COMMENTS). */
static bool sse_next(sse_t *s, int ms, bool want_comments, sse_event_t *e)
{
    double end = now_s() + ms / 1000.0;
    for (;;) {
        while (sse_parse_block(s, e)) {
            if (!e->comment || want_comments)
                return true;
            sse_event_clear(e);
        }
        if (s->ended || now_s() > end)
            return false;
        if (!sse_fill(s, 50) && !s->text_len)
            return false;
    }
}

/* The next "message" event's data as JSON (skipping other blocks), into
 * *ID; fails the test when none comes within MS. */
static json_object *sse_message(sse_t *s, int ms, char *id, size_t id_size)
{
    sse_event_t e;
    double end = now_s() + ms / 1000.0;
    while (now_s() < end && sse_next(s, (int)((end - now_s()) * 1000) + 1, false, &e)) {
        if (strcmp(e.event, "message") == 0 && e.data) {
            json_object *j = json_tokener_parse(e.data);
            if (id)
                snprintf(id, id_size, "%s", e.id);
            sse_event_clear(&e);
            assert_non_null(j);
            return j;
        }
        sse_event_clear(&e);
    }
    fail_msg("no message event within %d ms", ms);
    return NULL;
}

/* The first block: the stream's starting id (registration done). */
static void sse_ready(sse_t *s, char *id, size_t size)
{
    sse_event_t e;
    assert_true(sse_next(s, 5000, false, &e));
    assert_string_equal(e.event, "");
    assert_true(e.id[0] != '\0');
    if (id)
        snprintf(id, size, "%s", e.id);
    sse_event_clear(&e);
}

/* ---- helpers -------------------------------------------------------------- */

static const char *jstr(json_object *o, const char *key)
{
    return json_object_get_string(json_object_object_get(o, key));
}

static long long jint(json_object *o, const char *key)
{
    return json_object_get_int64(json_object_object_get(o, key));
}

static sse_t *stream_of(server_t *s, const char *token, const char *query, const char *last_id)
{
    char path[512];
    snprintf(path, sizeof path, "%s/auth/%s/events%s", s->prefix, token, query);
    return sse_open(s->port, path, last_id);
}

/* ---- streams ----------------------------------------------------------------- */

static void test_stream_sends_every_room_in_order(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    api_room_of_two("u", "bob", "carol");
    api_room_of_two("v", "alice", "carol");      /* not bob's */
    sse_t *s = stream_of(h_srv, TOK_BOB, "", NULL);
    assert_int_equal(s->status, 200);
    sse_ready(s, NULL, 0);
    char text[32];
    for (int i = 0; i < 10; i++) {
        snprintf(text, sizeof text, "m%02d", i);
        api_post_text(TOK_ALICE, "t/alice/bob", text);
        api_post_text(TOK_CAROL, "u/bob/carol", text);
        api_post_text(TOK_ALICE, "v/alice/carol", text);
    }
    long long last_t = 0, last_u = 0;
    char prev_id[64] = "";
    for (int i = 0; i < 20; i++) {
        char id[64];
        json_object *m = sse_message(s, 5000, id, sizeof id);
        const char *room_id = jstr(m, "roomId");
        long long *last = strcmp(room_id, "t/alice/bob") == 0 ? &last_t : &last_u;
        assert_true(strcmp(room_id, "v/alice/carol") != 0);
        assert_true(jint(m, "id") > *last);
        *last = jint(m, "id");
        assert_string_equal(jstr(m, "type"), "text");
        assert_int_equal(jint(m, "timestamp"), 1);
        assert_string_equal(jstr(m, "from"), strcmp(room_id, "t/alice/bob") == 0 ? "alice" : "carol");
        assert_int_equal(json_object_object_length(m), 6);
        assert_string_not_equal(id, prev_id);
        snprintf(prev_id, sizeof prev_id, "%s", id);
        json_object_put(m);
    }
    sse_event_t e;
    assert_false(sse_next(s, 300, false, &e));   /* nothing of room v */
    sse_close(s);
}

static void test_room_stream_and_membership(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    api_room_of_two("u", "alice", "carol");
    char q[128];
    snprintf(q, sizeof q, "?room=%s", enc("t/alice/bob"));
    sse_t *s = stream_of(h_srv, TOK_ALICE, q, NULL);
    assert_int_equal(s->status, 200);
    sse_ready(s, NULL, 0);
    api_post_text(TOK_ALICE, "u/alice/carol", "other room");
    api_post_text(TOK_BOB, "t/alice/bob", "this room");
    json_object *m = sse_message(s, 5000, NULL, 0);
    assert_string_equal(jstr(m, "message"), "this room");
    json_object_put(m);
    sse_close(s);
    /* The secret follows any room; not a user outside it; the secret
     * must say what to follow; a bad Last-Event-ID is refused. */
    s = stream_of(h_srv, IT_SECRET, q, NULL);
    assert_int_equal(s->status, 200);
    sse_close(s);
    s = stream_of(h_srv, TOK_CAROL, q, NULL);
    assert_int_equal(s->status, 401);
    assert_non_null(strstr(s->text, "\"Unauthorized\""));
    sse_close(s);
    s = stream_of(h_srv, "nope", "", NULL);
    assert_int_equal(s->status, 401);
    sse_close(s);
    s = stream_of(h_srv, IT_SECRET, "", NULL);
    assert_int_equal(s->status, 400);
    sse_close(s);
    s = stream_of(h_srv, TOK_ALICE, "?user=bob", NULL);
    assert_int_equal(s->status, 401);
    sse_close(s);
    s = stream_of(h_srv, TOK_ALICE, "", "yesterday");
    assert_int_equal(s->status, 400);
    sse_close(s);
    snprintf(q, sizeof q, "?room=%s", enc("t/nobody"));
    s = stream_of(h_srv, TOK_ALICE, q, NULL);
    assert_int_equal(s->status, 404);
    sse_close(s);
}

static void test_resume_with_last_event_id_across_a_restart(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    sse_t *s = stream_of(h_srv, TOK_BOB, "", NULL);
    sse_ready(s, NULL, 0);
    api_post_text(TOK_ALICE, "t/alice/bob", "one");
    api_post_text(TOK_ALICE, "t/alice/bob", "two");
    char last[64];
    json_object_put(sse_message(s, 5000, last, sizeof last));
    json_object_put(sse_message(s, 5000, last, sizeof last));
    sse_close(s);
    /* Missed while away, some through a server since stopped. */
    api_post_text(TOK_ALICE, "t/alice/bob", "three");
    server_stop(h_srv);
    assert_true(server_start(h_srv, NULL));
    api_post_text(TOK_ALICE, "t/alice/bob", "four");
    s = stream_of(h_srv, TOK_BOB, "", last);
    assert_int_equal(s->status, 200);
    sse_ready(s, NULL, 0);
    json_object *m = sse_message(s, 5000, NULL, 0);
    assert_string_equal(jstr(m, "message"), "three");
    json_object_put(m);
    m = sse_message(s, 5000, NULL, 0);
    assert_string_equal(jstr(m, "message"), "four");
    json_object_put(m);
    api_post_text(TOK_ALICE, "t/alice/bob", "five");
    m = sse_message(s, 5000, NULL, 0);
    assert_string_equal(jstr(m, "message"), "five");
    json_object_put(m);
    sse_event_t e;
    assert_false(sse_next(s, 300, false, &e));   /* no repeat */
    sse_close(s);
}

static void test_resume_past_trimmed_messages_is_a_reset(void **state)
{
    (void)state;
    server_t *srv = scoped_server(OVERRIDES("MAX_MESSAGES=3"));
    h_srv = srv;
    api_room_of_two("t", "alice", "bob");
    sse_t *s = stream_of(srv, TOK_BOB, "", NULL);
    sse_ready(s, NULL, 0);
    api_post_text(TOK_ALICE, "t/alice/bob", "seen");
    char last[64];
    json_object_put(sse_message(s, 5000, last, sizeof last));
    sse_close(s);
    for (int i = 0; i < 5; i++)
        api_post_text(TOK_ALICE, "t/alice/bob", "missed");
    s = stream_of(srv, TOK_BOB, "", last);
    sse_event_t e;
    assert_true(sse_next(s, 5000, false, &e));   /* the starting id */
    sse_event_clear(&e);
    assert_true(sse_next(s, 5000, false, &e));
    assert_string_equal(e.event, "reset");
    assert_non_null(strstr(e.data, "reload"));
    sse_event_clear(&e);
    /* Then live again: from the reset's id, so a message the server had
     * not polled yet when the stream opened may follow (the client
     * dedupes the reloaded room by id). */
    api_post_text(TOK_ALICE, "t/alice/bob", "after");
    json_object *m = NULL;
    while ((m = sse_message(s, 5000, NULL, 0)) && strcmp(jstr(m, "message"), "after") != 0) {
        assert_string_equal(jstr(m, "message"), "missed");
        json_object_put(m);
    }
    json_object_put(m);
    sse_close(s);
}

static void test_post_on_one_server_reaches_a_stream_on_another(void **state)
{
    (void)state;
    server_t *other = scoped_server(NULL);
    api_room_of_two("t", "alice", "bob");
    sse_t *s = stream_of(h_srv, TOK_BOB, "", NULL);
    sse_ready(s, NULL, 0);
    server_t *mine = h_srv;
    h_srv = other;
    double sent = now_s();
    api_post_text(TOK_ALICE, "t/alice/bob", "from the other server");
    h_srv = mine;
    json_object *m = sse_message(s, 5000, NULL, 0);
    print_message("event on the other server %.1f ms after the post's 200\n",
                  (now_s() - sent) * 1000);
    assert_string_equal(jstr(m, "message"), "from the other server");
    json_object_put(m);
    sse_close(s);
}

static void test_heartbeats_keep_an_idle_stream(void **state)
{
    (void)state;
    server_t *srv = scoped_server(OVERRIDES("LIVE_HEARTBEAT_SECONDS=1",
                                            "HTTP_CONNECTION_TIMEOUT_SECONDS=2"));
    sse_t *s = stream_of(srv, TOK_BOB, "", NULL);
    sse_ready(s, NULL, 0);
    int beats = 0;
    sse_event_t e;
    double end = now_s() + 4.5;
    while (now_s() < end && sse_next(s, 1500, true, &e)) {
        beats += e.comment;
        sse_event_clear(&e);
    }
    assert_true(beats >= 3);
    assert_false(s->ended);   /* past the connection timeout, still open */
    sse_close(s);
}

static void test_revoked_token_or_ban_ends_the_stream(void **state)
{
    (void)state;
    server_t *srv = scoped_server(OVERRIDES("LIVE_RECHECK_SECONDS=1"));
    sse_t *tok = stream_of(srv, TOK_BOB, "", NULL);
    sse_t *banned = stream_of(srv, IT_SECRET ".carol", "", NULL);
    sse_t *kept = stream_of(srv, TOK_ALICE, "", NULL);
    sse_ready(tok, NULL, 0);
    sse_ready(banned, NULL, 0);
    sse_ready(kept, NULL, 0);
    db_exec("DELETE FROM auth_tokens WHERE username = 'bob'", 0, NULL);
    db_meta("carol", "$banned", "1429084016939");
    sse_t *ends[] = { tok, banned };
    for (int i = 0; i < 2; i++) {
        sse_event_t e;
        assert_true(sse_next(ends[i], 5000, false, &e));
        assert_string_equal(e.event, "end");
        sse_event_clear(&e);
        double end = now_s() + 3;
        while (!ends[i]->ended && now_s() < end)
            sse_fill(ends[i], 100);
        assert_true(ends[i]->ended);
    }
    sse_event_t e;
    assert_false(sse_next(kept, 1500, false, &e));
    assert_false(kept->ended);
    sse_close(tok);
    sse_close(banned);
    sse_close(kept);
}

static void test_muted_senders_messages_are_never_sent(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    db_meta("alice", "$muted", "true");
    sse_t *s = stream_of(h_srv, TOK_BOB, "", NULL);
    sse_ready(s, NULL, 0);
    api_post_text(TOK_ALICE, "t/alice/bob", "muted");
    api_post_text(TOK_BOB, "t/alice/bob", "not muted");
    json_object *m = sse_message(s, 5000, NULL, 0);
    assert_string_equal(jstr(m, "message"), "not muted");
    json_object_put(m);
    sse_close(s);
}

static void test_limits_answer_429_and_503(void **state)
{
    (void)state;
    server_t *srv = scoped_server(OVERRIDES("LIVE_MAX_STREAMS_PER_USER=2", "LIVE_MAX_WAITING=3"));
    sse_t *a1 = stream_of(srv, TOK_ALICE, "", NULL);
    sse_t *a2 = stream_of(srv, TOK_ALICE, "", NULL);
    sse_t *a3 = stream_of(srv, TOK_ALICE, "", NULL);
    assert_int_equal(a1->status, 200);
    assert_int_equal(a2->status, 200);
    assert_int_equal(a3->status, 429);
    assert_non_null(strstr(a3->text, "TooManyRequests"));
    sse_t *b1 = stream_of(srv, TOK_BOB, "", NULL);
    sse_t *b2 = stream_of(srv, TOK_BOB, "", NULL);
    assert_int_equal(b1->status, 200);
    assert_int_equal(b2->status, 503);
    assert_non_null(strstr(b2->text, "ServiceUnavailable"));
    /* A closed stream frees its place (noticed at its next write). */
    sse_close(a1);
    sse_close(a2);
    sse_close(a3);
    sse_close(b1);
    sse_close(b2);
}

static void test_slow_reader_is_dropped(void **state)
{
    (void)state;
    server_t *srv = scoped_server(OVERRIDES("LIVE_BUFFER_BYTES=4096", "MAX_MESSAGE_BYTES=65536"));
    h_srv = srv;
    api_room_of_two("t", "alice", "bob");
    /* A reader that never reads: the kernel's socket buffers fill first
     * (a few MB on the loopback), then the server's. Big messages make it
     * quick, even under valgrind. */
    sse_t *s = stream_of(srv, TOK_BOB, "", NULL);
    sse_ready(s, NULL, 0);
    static char big[60000], body[60200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(body, sizeof body, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"%s\"}", big);
    double end = now_s() + 60;
    while (!h_log_contains(srv, "dropped") && now_s() < end)
        for (int i = 0; i < 20; i++)
            api_post_msg(TOK_ALICE, "t/alice/bob", body);
    assert_true(h_log_contains(srv, "dropped"));
    /* Its connection ends; the server goes on. */
    end = now_s() + 5;
    while (!s->ended && now_s() < end) {
        free(s->text);
        s->text = NULL;
        s->text_len = 0;
        sse_fill(s, 100);
    }
    assert_true(s->ended);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc("t/alice/bob"));
    assert_status(r, 200);
    resp_free(r);
    sse_close(s);
}

/* ---- long-poll -------------------------------------------------------------- */

static resp_t *long_poll(const char *token, const char *room_id, const char *query)
{
    return http_get(PFX "/auth/%s/rooms/%s/messages?%s", token, enc(room_id), query);
}

static void test_long_poll_answers_at_once_or_when_a_message_comes(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    api_post_text(TOK_ALICE, "t/alice/bob", "first");
    api_post_text(TOK_ALICE, "t/alice/bob", "second");
    resp_t *r = long_poll(TOK_BOB, "t/alice/bob", "after=0&wait=5");
    assert_status(r, 200);
    json_object *msgs = json_object_object_get(resp_json(r), "messages");
    assert_int_equal(json_object_array_length(msgs), 2);
    assert_string_equal(jstr(json_object_array_get_idx(msgs, 0), "message"), "second");
    long long newest = jint(json_object_array_get_idx(msgs, 0), "id");
    char next[32];
    snprintf(next, sizeof next, "%lld", newest);
    assert_string_equal(jstr(resp_json(r), "next"), next);
    assert_true(r->seconds < 1);
    resp_free(r);
    /* Nothing newer: it waits for the next message (posted from a child
     * process 1 s later). */
    pid_t child = fork();
    if (child == 0) {
        usleep(1000 * 1000);
        api_post_text(TOK_ALICE, "t/alice/bob", "third");
        _exit(0);
    }
    char q[64];
    snprintf(q, sizeof q, "after=%s&wait=10", next);
    r = long_poll(TOK_BOB, "t/alice/bob", q);
    waitpid(child, NULL, 0);
    assert_status(r, 200);
    assert_content_type(r, "application/json");
    msgs = json_object_object_get(resp_json(r), "messages");
    assert_int_equal(json_object_array_length(msgs), 1);
    assert_string_equal(jstr(json_object_array_get_idx(msgs, 0), "message"), "third");
    assert_true(r->seconds > 0.8 && r->seconds < 5);
    resp_free(r);
}

static void test_long_poll_times_out_empty(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    api_post_text(TOK_ALICE, "t/alice/bob", "only");
    resp_t *r = long_poll(TOK_BOB, "t/alice/bob", "after=0");
    long long id = jint(json_object_array_get_idx(json_object_object_get(resp_json(r), "messages"), 0), "id");
    resp_free(r);
    char q[64];
    snprintf(q, sizeof q, "after=%lld&wait=1", id);
    r = long_poll(TOK_BOB, "t/alice/bob", q);
    assert_status(r, 200);
    assert_int_equal(json_object_array_length(json_object_object_get(resp_json(r), "messages")), 0);
    char want[32];
    snprintf(want, sizeof want, "%lld", id);
    assert_string_equal(jstr(resp_json(r), "next"), want);
    assert_true(r->seconds >= 0.9);
    resp_free(r);
    /* Without wait: at once. */
    snprintf(q, sizeof q, "after=%lld", id);
    r = long_poll(TOK_BOB, "t/alice/bob", q);
    assert_status(r, 200);
    assert_true(r->seconds < 0.5);
    resp_free(r);
}

static void test_long_poll_errors(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    resp_t *r = long_poll(TOK_CAROL, "t/alice/bob", "after=0&wait=5");
    assert_error(r, 401, "Unauthorized", "");
    assert_true(r->seconds < 1);
    resp_free(r);
    r = long_poll(TOK_BOB, "t/nobody", "after=0&wait=5");
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    const char *bad[] = { "after=x", "after=-1", "after=1&before=5", "after=1&wait=x",
                          "after=1&wait=3601" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = long_poll(TOK_BOB, "t/alice/bob", bad[i]);
        assert_status(r, 400);
        resp_free(r);
    }
    /* Nothing changed the history route. */
    r = http_get(PFX "/auth/%s/rooms/%s/messages?limit=1", TOK_BOB, enc("t/alice/bob"));
    assert_status(r, 200);
    resp_free(r);
}

int run_live_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_stream_sends_every_room_in_order),
        T(test_room_stream_and_membership),
        T(test_resume_with_last_event_id_across_a_restart),
        T(test_resume_past_trimmed_messages_is_a_reset),
        T(test_post_on_one_server_reaches_a_stream_on_another),
        T(test_heartbeats_keep_an_idle_stream),
        T(test_revoked_token_or_ban_ends_the_stream),
        T(test_muted_senders_messages_are_never_sent),
        T(test_limits_answer_429_and_503),
        T(test_slow_reader_is_dropped),
        T(test_long_poll_answers_at_once_or_when_a_message_comes),
        T(test_long_poll_times_out_empty),
        T(test_long_poll_errors),
    };
    return cmocka_run_group_tests_name("live", tests, group_setup_default,
                                       group_teardown_server);
}
