/*
 * Bad input: each gets a 4xx JSON error, changes nothing in the database and
 * leaves the server up. Invalid JSON, oversized bodies (Content-Length and
 * chunked), NUL bytes, invalid UTF-8, too many users, deep nesting, broken
 * percent-encoding, aborted uploads; and the form-encoded bodies the
 * original accepted. The group's server runs with MAX_BODY_BYTES=1024 and
 * MAX_USERS_PER_ROOM=5.
 */
#include "harness.h"
#include "tests.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ROOM "t/alice/bob"
#define LIMIT 1024
static const char *const ROOM_BODY = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";

static int badinput_group_setup(void **state)
{
    (void)state;
    return group_start(OVERRIDES("MAX_BODY_BYTES=1024", "MAX_USERS_PER_ROOM=5"));
}

static void assert_alive(void)
{
    resp_t *r = http_get(PFX "/ping/alive");
    assert_status(r, 200);
    assert_string_equal(r->body, "pong/alive");
    resp_free(r);
}

static void assert_unchanged(const long long before[3])
{
    long long after[3];
    db_snapshot(after);
    if (memcmp(before, after, sizeof after) != 0)
        print_error("database changed: rooms %lld->%lld, room_users %lld->%lld, "
                    "messages %lld->%lld\n", before[0], after[0], before[1], after[1],
                    before[2], after[2]);
    assert_memory_equal(before, after, sizeof after);
}

/* Sends body (len bytes) to the three POST routes; each must answer status
 * with a JSON error (code NULL: any code). */
static void post_everywhere(const char *body, size_t len, long status, const char *code,
                            const char *content_type)
{
    char paths[3][256];
    snprintf(paths[0], sizeof paths[0], PFX "/auth/%s/rooms", IT_SECRET);
    snprintf(paths[1], sizeof paths[1], PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    snprintf(paths[2], sizeof paths[2], PFX "/auth/%s/system-messages", IT_SECRET);
    for (int i = 0; i < 3; i++) {
        req_t q = { .method = "POST", .path = paths[i], .body = body, .body_len = len,
                    .content_type = content_type };
        resp_t *r = http_do(&q);
        if (r->status != status)
            print_error("body (%zu bytes): %.*s\n", len, (int)(len > 300 ? 300 : len), body);
        if (code) {
            assert_error(r, status, code, NULL);
        } else {
            assert_status(r, status);
            json_object *c = json_object_object_get(resp_json(r), "code");
            if (!c)
                print_error("%s %s: no JSON error body: %s\n", r->method, r->path, r->body);
            assert_non_null(c);
            assert_header(r, "x-request-id");
        }
        resp_free(r);
    }
}

static void test_invalid_json_is_400_invalid_content(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    long long before[3];
    db_snapshot(before);
    static const char *const bodies[] = {
        "{\"type\":",
        "{nope}",
        "{\"type\":\"t\",}",
        "{'type':'t'}",
        "{\"type\":\"t\",\"users\":[\"alice\" \"bob\"]}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]} trailing",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}{}",
        "\"unterminated",
        "{\"type\":\"\\x41\"}",
        "{\"type\":tru}",
        NULL
    };
    for (size_t i = 0; bodies[i]; i++) {
        char paths[3][256];
        snprintf(paths[0], sizeof paths[0], PFX "/auth/%s/rooms", IT_SECRET);
        snprintf(paths[1], sizeof paths[1], PFX "/auth/%s/rooms/%s/messages", TOK_ALICE,
                 enc(ROOM));
        snprintf(paths[2], sizeof paths[2], PFX "/auth/%s/system-messages", IT_SECRET);
        for (int k = 0; k < 3; k++) {
            req_t q = { .method = "POST", .path = paths[k], .body = bodies[i] };
            resp_t *r = http_do(&q);
            if (r->status != 400)
                print_error("body: %s\n", bodies[i]);
            assert_error(r, 400, "InvalidContent", NULL);
            const char *msg = json_object_get_string(json_object_object_get(resp_json(r), "message"));
            if (strncmp(msg, "Invalid JSON", 12) != 0)
                print_error("body %s: message \"%s\" should start with \"Invalid JSON\"\n",
                            bodies[i], msg);
            assert_int_equal(strncmp(msg, "Invalid JSON", 12), 0);
            resp_free(r);
        }
    }
    assert_unchanged(before);
    assert_alive();
}

static void test_empty_body_is_400(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    long long before[3];
    db_snapshot(before);
    char paths[2][256];
    snprintf(paths[0], sizeof paths[0], PFX "/auth/%s/rooms", IT_SECRET);
    snprintf(paths[1], sizeof paths[1], PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    for (int i = 0; i < 2; i++) {
        req_t q = { .method = "POST", .path = paths[i], .headers =
                    (const char *const[]){ "Content-Type: application/json", NULL } };
        resp_t *r = http_do(&q);
        assert_status(r, 400);
        assert_non_null(json_object_object_get(resp_json(r), "code"));
        resp_free(r);
    }
    assert_unchanged(before);
    assert_alive();
}

/* A valid room body padded to exactly len bytes. */
static char *padded_room_body(size_t len)
{
    const char *head = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"pad\":\"";
    const char *tail = "\"}";
    size_t fixed = strlen(head) + strlen(tail);
    char *b = malloc(len + 1);
    assert_true(len >= fixed);
    strcpy(b, head);
    memset(b + strlen(head), 'x', len - fixed);
    strcpy(b + len - strlen(tail), tail);
    assert_int_equal(strlen(b), len);
    return b;
}

static void test_body_over_limit_is_413(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    long long before[3];
    db_snapshot(before);
    char *body = padded_room_body(2000);
    post_everywhere(body, 2000, 413, "PayloadTooLarge", NULL);
    free(body);
    /* far over the limit too */
    body = padded_room_body(200000);
    req_t q = { .method = "POST", .path = PFX "/auth/" IT_SECRET "/rooms", .body = body };
    resp_t *r = http_do(&q);
    assert_error(r, 413, "PayloadTooLarge", NULL);
    resp_free(r);
    free(body);
    assert_unchanged(before);
    assert_alive();
}

static void test_chunked_body_over_limit_is_413(void **state)
{
    (void)state;
    long long before[3];
    db_snapshot(before);
    char *body = padded_room_body(4000);
    req_t q = { .method = "POST", .path = PFX "/auth/" IT_SECRET "/rooms", .body = body,
                .chunked = true };
    resp_t *r = http_do(&q);
    assert_error(r, 413, "PayloadTooLarge", NULL);
    resp_free(r);
    free(body);
    assert_unchanged(before);
    assert_alive();
}

static void test_chunked_body_within_limit_is_accepted(void **state)
{
    (void)state;
    char *body = padded_room_body(900);
    req_t q = { .method = "POST", .path = PFX "/auth/" IT_SECRET "/rooms", .body = body,
                .chunked = true };
    resp_t *r = http_do(&q);
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 0);
    resp_free(r);
    free(body);
}

static void test_body_of_exactly_the_limit_is_accepted(void **state)
{
    (void)state;
    char *body = padded_room_body(LIMIT);
    resp_t *r = http_post(body, PFX "/auth/%s/rooms", IT_SECRET);
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 0);
    resp_free(r);
    free(body);
    db_reset();
    body = padded_room_body(LIMIT + 1);
    r = http_post(body, PFX "/auth/%s/rooms", IT_SECRET);
    assert_error(r, 413, "PayloadTooLarge", NULL);
    resp_free(r);
    free(body);
    assert_int_equal(db_count_rooms(), 0);
}

static void test_nul_in_string_is_400(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    long long before[3];
    db_snapshot(before);
    static const char *const bodies[] = {
        "{\"timestamp\":1,\"type\":\"text\",\"message\":\"a\\u0000b\"}",
        "{\"timestamp\":1,\"type\":\"te\\u0000xt\",\"message\":\"ab\"}",
        "{\"timestamp\":\"1\\u00002\",\"type\":\"text\",\"message\":\"ab\"}",
        "{\"type\":\"t\\u0000\",\"users\":[\"alice\",\"bob\"]}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"b\\u0000ob\"]}",
        NULL
    };
    for (size_t i = 0; bodies[i]; i++)
        post_everywhere(bodies[i], 0, 400, NULL, NULL);
    /* a raw NUL byte in the body */
    static const char raw[] = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"a\0b\"}";
    post_everywhere(raw, sizeof raw - 1, 400, NULL, NULL);
    /* a complete system message (it would be a valid room body elsewhere) */
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,"
                          "\"message\":\"a\\u0000b\"}", PFX "/auth/%s/system-messages", IT_SECRET);
    assert_status(r, 400);
    assert_non_null(json_object_object_get(resp_json(r), "code"));
    resp_free(r);
    assert_unchanged(before);
    assert_alive();
}

static void test_invalid_utf8_is_400(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    long long before[3];
    db_snapshot(before);
    static const char *const bodies[] = {
        "{\"timestamp\":1,\"type\":\"text\",\"message\":\"a\xff" "b\"}",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":\"\xc0\xaf\"}",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":\"cut \xe2\x82\"}",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":\"\xed\xa0\x80\"}",
        "{\"timestamp\":1,\"type\":\"t\xfe\",\"message\":\"ok\"}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"b\xffob\"]}",
        "{\"type\":\"t\xff\",\"users\":[\"alice\",\"bob\"]}",
        NULL
    };
    for (size_t i = 0; bodies[i]; i++)
        post_everywhere(bodies[i], 0, 400, NULL, NULL);
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,"
                          "\"message\":\"a\xff\"}", PFX "/auth/%s/system-messages", IT_SECRET);
    assert_status(r, 400);
    assert_non_null(json_object_object_get(resp_json(r), "code"));
    resp_free(r);
    assert_unchanged(before);
    assert_alive();
}

static void test_lone_surrogate_escape_is_not_a_server_error(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    resp_t *r = http_post("{\"timestamp\":1,\"type\":\"text\",\"message\":\"x\\ud800y\"}",
                          PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    if (r->status != 400 && r->status != 200)
        print_error("lone surrogate: %ld %s\n", r->status, r->body);
    assert_true(r->status == 400 || r->status == 200);
    long st = r->status;
    resp_free(r);
    /* whatever was decided, the room still reads as valid JSON */
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    assert_room(r, ROOM, "t", USERS("alice", "bob"), st == 200 ? 1 : 0);
    resp_free(r);
    assert_alive();
}

static void test_too_many_users_is_400(void **state)
{
    (void)state;
    long long before[3];
    db_snapshot(before);
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"u1\",\"u2\",\"u3\",\"u4\",\"u5\",\"u6\"]}",
                          PFX "/auth/%s/rooms", IT_SECRET);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    r = http_post("{\"type\":\"t\",\"users\":[\"u1\",\"u2\",\"u3\",\"u4\",\"u5\",\"u6\"],"
                  "\"timestamp\":1,\"message\":\"E\"}", PFX "/auth/%s/system-messages", IT_SECRET);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    assert_unchanged(before);
    r = http_post("{\"type\":\"t\",\"users\":[\"u1\",\"u2\",\"u3\",\"u4\",\"u5\"]}",
                  PFX "/auth/%s/rooms", IT_SECRET);
    assert_room(r, "t/u1/u2/u3/u4/u5", "t", USERS("u1", "u2", "u3", "u4", "u5"), 0);
    resp_free(r);
    assert_alive();
}

static char *nested(size_t depth, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *b = malloc(pl + 2 * depth + sl + 1);
    memcpy(b, prefix, pl);
    memset(b + pl, '[', depth);
    memset(b + pl + depth, ']', depth);
    memcpy(b + pl + 2 * depth, suffix, sl + 1);
    return b;
}

static void check_deep(size_t depth)
{
    long long before[3];
    db_snapshot(before);
    char *a = nested(depth, "", "");
    char *b = nested(depth, "{\"type\":\"t\",\"users\":", "}");
    char *c = nested(depth, "{\"timestamp\":1,\"type\":\"text\",\"message\":", "}");
    const char *const bodies[] = { a, b, c };
    char paths[3][256];
    snprintf(paths[0], sizeof paths[0], PFX "/auth/%s/rooms", IT_SECRET);
    snprintf(paths[1], sizeof paths[1], PFX "/auth/%s/rooms", IT_SECRET);
    snprintf(paths[2], sizeof paths[2], PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    for (int i = 0; i < 3; i++) {
        req_t q = { .method = "POST", .path = paths[i], .body = bodies[i] };
        resp_t *r = http_do(&q);
        if (r->status < 400 || r->status > 499)
            print_error("depth %zu: %ld %s\n", depth, r->status, r->body);
        assert_in_range(r->status, 400, 499);
        assert_non_null(json_object_object_get(resp_json(r), "code"));
        resp_free(r);
    }
    free(a);
    free(b);
    free(c);
    assert_unchanged(before);
    assert_alive();
}

static void test_deeply_nested_json_is_4xx(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    check_deep(450);   /* fits in 1024 bytes */
    /* as deep as the default 64 KiB limit allows */
    h_srv = scoped_server(NULL);
    check_deep(32000);
}

static void test_bad_percent_encoding_in_path_is_4xx(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    long long before[3];
    db_snapshot(before);
    static const char *const paths[] = {
        PFX "/auth/" TOK_ALICE "/rooms/t%2Falice%2Fbob%zz",
        PFX "/auth/" TOK_ALICE "/rooms/t%2Falice%2Fbob%",
        PFX "/auth/" TOK_ALICE "/rooms/t%2Falice%2Fbob%4",
        PFX "/auth/" TOK_ALICE "/rooms/t%2Falice%00bob",
        PFX "/auth/" TOK_ALICE "/rooms/t%2Falice%2F%FFbob",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        req_t q = { .method = "GET", .path = paths[i] };
        resp_t *r = http_do(&q);
        if (r->status < 400 || r->status > 499)
            print_error("GET %s: %ld %s\n", paths[i], r->status, r->body);
        assert_in_range(r->status, 400, 499);
        resp_free(r);
        q.method = "POST";
        q.body = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}";
        char post_path[512];
        snprintf(post_path, sizeof post_path, "%s/messages", paths[i]);
        q.path = post_path;
        r = http_do(&q);
        if (r->status < 400 || r->status > 499)
            print_error("POST %s: %ld %s\n", post_path, r->status, r->body);
        assert_in_range(r->status, 400, 499);
        resp_free(r);
    }
    assert_unchanged(before);
    assert_alive();
}

static void test_very_long_path_is_refused_cleanly(void **state)
{
    (void)state;
    size_t n = 20000;
    char *path = malloc(n + 64);
    int off = snprintf(path, 64, PFX "/auth/%s/rooms/", TOK_ALICE);
    memset(path + off, 'a', n);
    path[off + n] = '\0';
    req_t q = { .method = "GET", .path = path };
    resp_t *r = http_do(&q);
    if (r->status < 400 || r->status > 499)
        print_error("long path: %ld %s\n", r->status, r->error);
    assert_in_range(r->status, 400, 499);
    resp_free(r);
    free(path);
    assert_alive();
}

static void test_aborted_uploads_do_not_hurt_the_server(void **state)
{
    (void)state;
    long long before[3];
    db_snapshot(before);
    for (int i = 0; i < 20; i++)
        h_abort_upload(h_srv->port);
    assert_alive();
    assert_unchanged(before);
    api_create_room(ROOM_BODY);
}

static void test_form_encoded_message_is_accepted(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    req_t q = { .method = "POST", .body = "timestamp=1&type=text&message=hi",
                .content_type = "application/x-www-form-urlencoded" };
    char path[256];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    q.path = path;
    resp_t *r = http_do(&q);
    assert_empty_ok(r);
    resp_free(r);
    q.body = "timestamp=2&type=text&message=hi%20there+you%21";
    r = http_do(&q);
    assert_empty_ok(r);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM));
    json_object *m = assert_room(r, ROOM, "t", USERS("alice", "bob"), 2);
    assert_msg(json_object_array_get_idx(m, 0), "\"2\"", "alice", "text", "hi there you!");
    assert_msg(json_object_array_get_idx(m, 1), "\"1\"", "alice", "text", "hi");
    resp_free(r);
}

static void test_form_encoded_room_is_accepted(void **state)
{
    (void)state;
    req_t q = { .method = "POST", .path = PFX "/auth/" TOK_BOB "/rooms",
                .body = "type=t&users=alice&users=bob",
                .content_type = "application/x-www-form-urlencoded" };
    resp_t *r = http_do(&q);
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 0);
    resp_free(r);
    assert_true(db_room_exists(ROOM));
    q.body = "type=game%2Fv1&users=bob&users=alice";
    r = http_do(&q);
    assert_room(r, "game/v1/alice/bob", "game/v1", USERS("alice", "bob"), 0);
    resp_free(r);
}

/* curl -d '{...}' sends JSON labelled as a form: a hint, not "bad timestamp". */
static void test_json_sent_as_a_form_gets_a_hint(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    long long before[3];
    db_snapshot(before);
    static const char *const bodies[] = {
        "{\"timestamp\":1,\"type\":\"text\",\"message\":\"hi\"}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,\"message\":\"M\"}",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":\"fish & chips = 2\"}",
        " [1, 2]\n",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        post_everywhere(bodies[i], strlen(bodies[i]), 400, "InvalidContent",
                        "application/x-www-form-urlencoded");
    resp_t *r = http_do(&(req_t){ .method = "POST", .path = PFX "/auth/" TOK_ALICE
                                  "/rooms/t%2Falice%2Fbob/messages", .body = bodies[0],
                                  .content_type = "application/x-www-form-urlencoded" });
    assert_error(r, 400, "InvalidContent", NULL);
    assert_non_null(strstr(r->body, "Content-Type: application/json"));
    resp_free(r);
    assert_unchanged(before);
}

static void test_multipart_is_415_with_a_hint(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    long long before[3];
    db_snapshot(before);
    const char *body = "--xyz\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nt\r\n"
                       "--xyz--\r\n";
    post_everywhere(body, strlen(body), 415, "UnsupportedMediaType",
                    "multipart/form-data; boundary=xyz");
    resp_t *r = http_do(&(req_t){ .method = "POST", .path = PFX "/auth/" IT_SECRET "/rooms",
                                  .body = body,
                                  .content_type = "multipart/form-data; boundary=xyz" });
    assert_error(r, 415, "UnsupportedMediaType", NULL);
    assert_non_null(strstr(r->body, "Content-Type: application/json"));
    resp_free(r);
    assert_unchanged(before);
}

int run_badinput_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_invalid_json_is_400_invalid_content),
        T(test_empty_body_is_400),
        T(test_body_over_limit_is_413),
        T(test_chunked_body_over_limit_is_413),
        T(test_chunked_body_within_limit_is_accepted),
        T(test_body_of_exactly_the_limit_is_accepted),
        T(test_nul_in_string_is_400),
        T(test_invalid_utf8_is_400),
        T(test_lone_surrogate_escape_is_not_a_server_error),
        T(test_too_many_users_is_400),
        T(test_deeply_nested_json_is_4xx),
        T(test_bad_percent_encoding_in_path_is_4xx),
        T(test_very_long_path_is_refused_cleanly),
        T(test_aborted_uploads_do_not_hurt_the_server),
        T(test_form_encoded_message_is_accepted),
        T(test_form_encoded_room_is_accepted),
        T(test_json_sent_as_a_form_gets_a_hint),
        T(test_multipart_is_415_with_a_hint),
    };
    return cmocka_run_group_tests_name("badinput", tests, badinput_group_setup,
                                       group_teardown_server);
}
