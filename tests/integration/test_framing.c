/*
 * HTTP framing (RFC 9112 sections 3, 6.1 and 6.3) and answers that are all
 * ours. Raw bytes on a socket, as a smuggler or a broken proxy would send
 * them: a request whose body length is ambiguous gets 400 JSON with
 * Connection: close, the connection is closed, and nothing after its head
 * runs (a hidden POST stores nothing). A request line with a NUL byte is
 * refused. A too-long target (414) or head (431) gets our JSON error with
 * a request id and a log line; one past libmicrohttpd's buffer gets its
 * own page, still with a log line.
 */
#include "harness.h"
#include "tests.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROOM "t/alice/bob"
#define HIDDEN_MSG "{\"timestamp\":1,\"type\":\"text\",\"message\":\"smuggled\"}"

static int framing_group_setup(void **state)
{
    (void)state;
    return group_start(NULL);
}

/* A complete POST of HIDDEN_MSG to ROOM as alice: what a smuggler hides. */
static char *hidden_request(void)
{
    char *out = malloc(1024);
    snprintf(out, 1024,
             "POST " PFX "/auth/" TOK_ALICE "/rooms/t%%2Falice%%2Fbob/messages HTTP/1.1\r\n"
             "Host: x\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(HIDDEN_MSG), HIDDEN_MSG);
    return out;
}

/* The answer in RAW: exactly one, with STATUS, our JSON error of CODE, a
 * request id, Connection: close; and the connection was closed. Returns
 * the request id (caller frees). */
static char *assert_refused(const char *raw, bool closed, int status, const char *code)
{
    char line[32];
    snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    if (strncmp(raw, line, strlen(line)) != 0 || !closed)
        print_error("want %s and a closed connection (closed: %d), got:\n%s\n", line, closed,
                    raw);
    assert_memory_equal(raw, line, strlen(line));
    assert_true(closed);
    /* one answer only: nothing after the head was read as a request */
    assert_null(strstr(raw + 1, "HTTP/1.1 "));
    assert_non_null(strcasestr(raw, "\r\nConnection: close\r\n"));
    assert_non_null(strcasestr(raw, "\r\nContent-Type: application/json"));
    const char *id = strcasestr(raw, "\r\nx-request-id: ");
    assert_non_null(id);
    id += strlen("\r\nx-request-id: ");
    char *req_id = strndup(id, strcspn(id, "\r"));
    const char *body = strstr(raw, "\r\n\r\n");
    assert_non_null(body);
    json_object *o = json_tokener_parse(body + 4);
    if (!o)
        print_error("not JSON: %s\n", body + 4);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(json_object_object_get(o, "code")), code);
    assert_true(strlen(json_object_get_string(json_object_object_get(o, "message"))) > 0);
    json_object_put(o);
    return req_id;
}

/* The request's log line says the status and why. */
static void assert_logged(const char *req_id, int status, const char *code)
{
    json_object *line = h_log_line(h_srv, req_id, "request");
    if (!line)
        print_error("no request line with req_id %s in %s\n", req_id, h_srv->log_path);
    assert_non_null(line);
    assert_int_equal(json_object_get_int(json_object_object_get(line, "status")), status);
    assert_string_equal(json_object_get_string(json_object_object_get(line, "error")), code);
    assert_non_null(json_object_object_get(line, "reason"));
    json_object_put(line);
}

static void assert_nothing_smuggled(void)
{
    usleep(200 * 1000);   /* a hidden request would have run by now */
    assert_int_equal(db_count_messages(ROOM), 0);
}

static void refuse(const char *raw_request, size_t len, int status, const char *code)
{
    bool closed = false;
    char *raw = h_raw_exchange(h_srv->port, raw_request, len, 3000 * h_slow_factor(), &closed);
    char *id = assert_refused(raw, closed, status, code);
    assert_logged(id, status, code);
    free(id);
    free(raw);
}

static void test_content_length_with_transfer_encoding_smuggles_nothing(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}");
    char *hidden = hidden_request();
    char req[4096];
    /* A proxy framing by Content-Length sees one request whose body is
     * "0\r\n\r\n" plus the hidden one; a chunked reader sees two. */
    const char *chunked_end = "0\r\n\r\n";
    int n = snprintf(req, sizeof req,
                     "POST " PFX "/auth/" IT_SECRET "/rooms HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n%s%s",
                     strlen(chunked_end) + strlen(hidden), chunked_end, hidden);
    refuse(req, (size_t)n, 400, "BadRequest");
    /* the same, Transfer-Encoding first, and a hidden ping */
    n = snprintf(req, sizeof req,
                 "POST " PFX "/auth/" IT_SECRET "/rooms HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                 "0\r\n\r\nGET " PFX "/ping/smuggled HTTP/1.1\r\nHost: x\r\n\r\n%s", hidden);
    refuse(req, (size_t)n, 400, "BadRequest");
    free(hidden);
    assert_nothing_smuggled();
    char *log = server_log(h_srv);
    assert_null(strstr(log, "smuggled"));
    free(log);
}

static void test_differing_content_lengths_smuggle_nothing(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}");
    char *hidden = hidden_request();
    char req[4096];
    const char *body = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";
    int n = snprintf(req, sizeof req,
                     "POST " PFX "/auth/" IT_SECRET "/rooms HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Content-Length: %zu\r\n\r\n%s%s",
                     strlen(body), strlen(body) + strlen(hidden), body, hidden);
    refuse(req, (size_t)n, 400, "BadRequest");
    free(hidden);
    assert_nothing_smuggled();

    /* the same length twice is one length: served, and keep-alive holds */
    n = snprintf(req, sizeof req,
                 "POST " PFX "/auth/" IT_SECRET "/rooms HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Content-Length: %zu\r\n\r\n%s"
                 "GET " PFX "/ping/after HTTP/1.1\r\nHost: x\r\n\r\n",
                 strlen(body), strlen(body), body);
    bool closed = false;
    char *raw = h_raw_exchange(h_srv->port, req, (size_t)n, 1000, &closed);
    assert_memory_equal(raw, "HTTP/1.1 200 ", 13);
    assert_non_null(strstr(raw, "pong/after"));
    free(raw);
}

static void test_transfer_codings_other_than_chunked_are_refused_at_once(void **state)
{
    (void)state;
    static const char *const codings[] = {
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: identity\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    };
    for (size_t i = 0; i < sizeof codings / sizeof codings[0]; i++) {
        char req[1024];
        int n = snprintf(req, sizeof req,
                         "POST " PFX "/auth/" IT_SECRET "/rooms HTTP/1.1\r\nHost: x\r\n"
                         "Content-Type: application/json\r\n%s\r\n"
                         "{\"type\":\"t\",\"users\":[\"a\"]}", codings[i]);
        double t0 = now_s();
        refuse(req, (size_t)n, 400, "BadRequest");
        /* at once, not after the request timeout */
        assert_true(now_s() - t0 < 2.0 * h_slow_factor());
    }
    assert_int_equal(db_count_rooms(), 0);
    /* "chunked" in any case is fine */
    char req[512];
    const char *body = "{\"type\":\"t\",\"users\":[\"a\"]}";
    int n = snprintf(req, sizeof req,
                     "POST " PFX "/auth/" IT_SECRET "/rooms HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: Chunked\r\n\r\n"
                     "%zx\r\n%s\r\n0\r\n\r\n", strlen(body), body);
    bool closed = false;
    char *raw = h_raw_exchange(h_srv->port, req, (size_t)n, 1000, &closed);
    assert_memory_equal(raw, "HTTP/1.1 200 ", 13);
    free(raw);
    assert_int_equal(db_count_rooms(), 1);
}

static void test_nul_in_the_request_line_is_refused(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"g\",\"users\":[\"a\",\"b\"]}");
    static const char req[] = "GET " PFX "/auth/" IT_SECRET "/rooms/g%2Fa%2Fb\0/x HTTP/1.1\r\n"
                              "Host: x\r\n\r\n";
    bool closed = false;
    char *raw = h_raw_exchange(h_srv->port, req, sizeof req - 1, 3000, &closed);
    char *id = assert_refused(raw, closed, 400, "BadRequest");
    assert_null(strstr(raw, "\"users\""));
    assert_logged(id, 400, "BadRequest");
    free(id);
    free(raw);
    /* in the query string too */
    static const char q[] = "GET " PFX "/ping/x?a=\0b HTTP/1.1\r\nHost: x\r\n\r\n";
    raw = h_raw_exchange(h_srv->port, q, sizeof q - 1, 3000, &closed);
    id = assert_refused(raw, closed, 400, "BadRequest");
    free(id);
    free(raw);
}

static void test_too_long_target_is_414_json(void **state)
{
    (void)state;
    size_t n = 12000;
    char *path = malloc(n + 64);
    int off = snprintf(path, 64, PFX "/ping/");
    memset(path + off, 'a', n);
    path[off + n] = '\0';
    req_t q = { .method = "GET", .path = path };
    resp_t *r = http_do(&q);
    assert_error(r, 414, "URITooLong", NULL);
    char *id = resp_header(r, "x-request-id");
    assert_non_null(id);
    assert_logged(id, 414, "URITooLong");
    free(id);
    resp_free(r);
    free(path);
    /* a target of exactly the limit is served */
    n = 8192 - strlen(PFX "/ping/");
    path = malloc(8192 + 1);
    off = snprintf(path, 64, PFX "/ping/");
    memset(path + off, 'b', n);
    path[off + n] = '\0';
    q.path = path;
    r = http_do(&q);
    assert_status(r, 200);
    resp_free(r);
    free(path);
}

static void test_too_many_header_bytes_is_431_json(void **state)
{
    (void)state;
    char *big = malloc(20001 + 16);
    memcpy(big, "X-Padding: ", 11);
    memset(big + 11, 'p', 20000);
    big[20011] = '\0';
    const char *headers[] = { big, NULL };
    req_t q = { .method = "GET", .path = PFX "/ping/x", .headers = headers };
    resp_t *r = http_do(&q);
    assert_error(r, 431, "RequestHeaderFieldsTooLarge", NULL);
    char *id = resp_header(r, "x-request-id");
    assert_logged(id, 431, "RequestHeaderFieldsTooLarge");
    free(id);
    resp_free(r);
    free(big);
}

/* Heads past the connection's buffer never reach our code: libmicrohttpd
 * answers with its own page (documented in docs/security.md). Still, each
 * leaves a log line with its status. */
static void test_heads_past_the_buffer_are_answered_by_libmicrohttpd_and_logged(void **state)
{
    (void)state;
    size_t n = 100000;
    char *path = malloc(n + 64);
    int off = snprintf(path, 64, PFX "/ping/");
    memset(path + off, 'a', n);
    path[off + n] = '\0';
    req_t q = { .method = "GET", .path = path };
    resp_t *r = http_do(&q);
    assert_int_equal(r->status, 414);
    resp_free(r);
    free(path);

    char *big = malloc(60000 + 16);
    memcpy(big, "X-Padding: ", 11);
    memset(big + 11, 'p', 60000);
    big[60011] = '\0';
    const char *headers[] = { big, NULL };
    req_t h = { .method = "GET", .path = PFX "/ping/x", .headers = headers };
    r = http_do(&h);
    assert_int_equal(r->status, 431);
    resp_free(r);
    free(big);

    assert_true(h_log_contains(
        h_srv, "\"msg\":\"libmicrohttpd answered 414 itself (its own HTML page)\""));
    assert_true(h_log_contains(
        h_srv, "\"msg\":\"libmicrohttpd answered 431 itself (its own HTML page)\""));
    /* the 431 came after the request line: its request line is logged too */
    assert_true(h_log_contains(h_srv, "\"status\":431,"));
    assert_true(h_log_contains(h_srv, "\"answered_by\":\"libmicrohttpd\",\"msg\":\"request\""));
    /* and the server serves on */
    r = http_get(PFX "/ping/alive");
    assert_status(r, 200);
    resp_free(r);
}

int run_framing_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_content_length_with_transfer_encoding_smuggles_nothing),
        T(test_differing_content_lengths_smuggle_nothing),
        T(test_transfer_codings_other_than_chunked_are_refused_at_once),
        T(test_nul_in_the_request_line_is_refused),
        T(test_too_long_target_is_414_json),
        T(test_too_many_header_bytes_is_431_json),
        T(test_heads_past_the_buffer_are_answered_by_libmicrohttpd_and_logged),
    };
    return cmocka_run_group_tests_name("framing", tests, framing_group_setup,
                                       group_teardown_server);
}
