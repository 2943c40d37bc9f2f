/* Unit tests of router: raw-path routing, decoding, methods, redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

static struct route_match match(const char *method, const char *path)
{
    struct route_match m;
    assert_true(router_match(method, path, "chat/v1", &m));
    return m;
}

static void test_routes_each_shape(void **state)
{
    (void)state;
    static const struct { const char *method, *path; enum route route; } cases[] = {
        { "GET", "/about", ROUTE_ABOUT },
        { "GET", "/chat/v1/about", ROUTE_ABOUT },
        { "GET", "/chat/v1/ping/x", ROUTE_PING },
        { "HEAD", "/chat/v1/ping/x", ROUTE_PING },
        { "POST", "/chat/v1/auth/t/rooms", ROUTE_CREATE_ROOM },
        { "GET", "/chat/v1/auth/t/rooms/r", ROUTE_GET_ROOM },
        { "POST", "/chat/v1/auth/t/rooms/r/messages", ROUTE_POST_MESSAGE },
        { "POST", "/chat/v1/auth/t/system-messages", ROUTE_SYSTEM_MESSAGE },
        { "GET", "/chat/v1/ping/x/", ROUTE_PING },
        { "GET", "/chat/v1/auth/t/rooms", ROUTE_MY_ROOMS },
        { "POST", "/chat/v1/auth/t/rooms/r/read", ROUTE_READ_MARKER },
        { "GET", "/chat/v1/auth/t/events", ROUTE_EVENTS },
        { "GET", "/chat/v1/console", ROUTE_CONSOLE },
        { "GET", "/chat/v1/console/console.js", ROUTE_CONSOLE_FILE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct route_match m = match(cases[i].method, cases[i].path);
        assert_int_equal(m.route, cases[i].route);
        assert_true(m.method_allowed);
        router_match_free(&m);
    }
}

static void test_unknown_paths(void **state)
{
    (void)state;
    const char *paths[] = { "/", "/chat/v2/ping/x", "/chat/v1/ping", "/chat/v1/auth/t/rooms/r/x",
                            "/chat/v1/auth/t/rooms/r/messages/x", "/chat/v1//ping/x",
                            "/chat/v1/auth/t/nothing" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct route_match m = match("GET", paths[i]);
        assert_int_equal(m.route, ROUTE_NONE);
        router_match_free(&m);
    }
}

static void test_wrong_method_is_405(void **state)
{
    (void)state;
    struct route_match m = match("DELETE", "/chat/v1/auth/t/rooms/r");
    assert_int_equal(m.route, ROUTE_GET_ROOM);
    assert_false(m.method_allowed);
    router_match_free(&m);
    m = match("DELETE", "/chat/v1/auth/t/rooms");
    assert_false(m.method_allowed);
    router_match_free(&m);
    m = match("GET", "/chat/v1/auth/t/rooms/r/read");
    assert_int_equal(m.route, ROUTE_READ_MARKER);
    assert_false(m.method_allowed);
    router_match_free(&m);
}

static void test_room_id_decoded_once(void **state)
{
    (void)state;
    struct route_match m = match("GET", "/chat/v1/auth/tok%2Bx/rooms/triominos%2Fv1%2Falice%2Fbob");
    assert_string_equal(m.token, "tok+x");
    assert_string_equal(m.room_id, "triominos/v1/alice/bob");
    router_match_free(&m);
    /* Only the slashes encoded, the rest as sent. */
    m = match("GET", "/chat/v1/auth/t/rooms/game%2Fzo\xc3\xab%2Fbob b");
    assert_string_equal(m.room_id, "game/zo\xc3\xab/bob b");
    router_match_free(&m);
    /* Decoded once: %252F stays %2F. */
    m = match("GET", "/chat/v1/auth/t/rooms/a%252Fb");
    assert_string_equal(m.room_id, "a%2Fb");
    router_match_free(&m);
}

static void test_room_ending_in_messages(void **state)
{
    (void)state;
    struct route_match m = match("GET", "/chat/v1/auth/t/rooms/g%2Falice%2Fmessages");
    assert_int_equal(m.route, ROUTE_GET_ROOM);
    assert_string_equal(m.room_id, "g/alice/messages");
    router_match_free(&m);
    m = match("POST", "/chat/v1/auth/t/rooms/g%2Falice%2Fmessages/messages");
    assert_int_equal(m.route, ROUTE_POST_MESSAGE);
    assert_string_equal(m.room_id, "g/alice/messages");
    router_match_free(&m);
}

static void test_unclean_params_are_null(void **state)
{
    (void)state;
    struct route_match m = match("GET", "/chat/v1/auth/t/rooms/a%00b");
    assert_int_equal(m.route, ROUTE_GET_ROOM);
    assert_true(m.room_present);
    assert_null(m.room_id);
    router_match_free(&m);
    m = match("GET", "/chat/v1/auth/%ff/rooms/r");
    assert_null(m.token);
    router_match_free(&m);
}

static void test_redaction(void **state)
{
    (void)state;
    char *p = router_redact_path("/chat/v1/auth/s3cret.bob/rooms/x", "s3cret");
    assert_string_equal(p, "/chat/v1/auth/[redacted]/rooms/x");
    free(p);
    p = router_redact_path("/chat/v1/other/xs3cretx/y", "s3cret");
    assert_string_equal(p, "/chat/v1/other/[redacted]/y");
    free(p);
    p = router_redact_path("/a/b", "");
    assert_string_equal(p, "/a/b");
    free(p);
    /* an empty token hides nothing, and the segment after it is no token */
    p = router_redact_path("/chat/v1/auth//rooms/x", "s3cret");
    assert_string_equal(p, "/chat/v1/auth//rooms/x");
    free(p);
    p = router_redact_path("/chat/v1/auth/", "s3cret");
    assert_string_equal(p, "/chat/v1/auth/");
    free(p);
    p = router_redact_path("auth/tok//x/", "");
    assert_string_equal(p, "auth/[redacted]//x/");
    free(p);
    /* Bytes unsafe in JSON or logs come out percent-encoded. */
    p = router_redact_path("/x\xff/\x01y", "");
    assert_string_equal(p, "/x%FF/%01y");
    free(p);
}

static void test_other_prefix(void **state)
{
    (void)state;
    struct route_match m;
    assert_true(router_match("GET", "/api/chat/v9/ping/x", "api/chat/v9", &m));
    assert_int_equal(m.route, ROUTE_PING);
    router_match_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_each_shape),
        cmocka_unit_test(test_unknown_paths),
        cmocka_unit_test(test_wrong_method_is_405),
        cmocka_unit_test(test_room_id_decoded_once),
        cmocka_unit_test(test_room_ending_in_messages),
        cmocka_unit_test(test_unclean_params_are_null),
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_other_prefix),
    };
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
