/*
 * The command line and configuration: --help, --version, migrate twice,
 * bad values refused at start naming the variable, ROUTE_PREFIX.
 */
#include "harness.h"
#include "tests.h"

#include <stdlib.h>
#include <string.h>

static void test_help_lists_every_variable(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "--help", NULL }, NULL, 10, &out, &err);
    assert_int_equal(rc, 0);
    size_t len = strlen(out) + strlen(err) + 2;
    char *all = malloc(len);
    snprintf(all, len, "%s\n%s", out, err);
    static const char *const vars[] = {
        "PORT", "API_SECRET", "MAX_MESSAGES", "ROOM_TTL_SECONDS", "EXPIRY_INTERVAL_SECONDS",
        "DATABASE_URL", "ROUTE_PREFIX", "MAX_BODY_BYTES", "MAX_USERS_PER_ROOM", "LOG_LEVEL",
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if (!strstr(all, vars[i]))
            print_error("--help does not mention %s:\n%s\n", vars[i], all);
        assert_non_null(strstr(all, vars[i]));
    }
    /* and the subcommands */
    assert_non_null(strstr(all, "migrate"));
    assert_non_null(strstr(all, "expire"));
    assert_non_null(strstr(all, "serve"));
    free(all);
    free(out);
    free(err);
}

static void test_version_exits_0_and_prints_something(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "--version", NULL }, NULL, 10, &out, &err);
    assert_int_equal(rc, 0);
    assert_true(strlen(out) + strlen(err) > 0);
    free(out);
    free(err);
}

static void test_migrate_twice_is_harmless(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    db_exec("INSERT INTO rooms (id, type, expires_at) VALUES ('keep/me', 'keep', "
            "now() + interval '1 day')", 0, NULL);
    int rc = run_chat((const char *const[]){ "migrate", NULL }, NULL, 60, &out, &err);
    if (rc != 0)
        print_error("second migrate: exit %d\nstdout:\n%s\nstderr:\n%s\n", rc, out, err);
    assert_int_equal(rc, 0);
    free(out);
    free(err);
    /* the data survived */
    assert_true(db_room_exists("keep/me"));
}

/* `serve` with one bad variable must exit non-zero, naming it on stderr. */
static void check_refused(const char *kv)
{
    char name[64], port[32];
    const char *eq = strchr(kv, '=');
    snprintf(name, sizeof name, "%.*s", (int)(eq - kv), kv);
    /* a free port, in case the value is wrongly accepted and it serves */
    snprintf(port, sizeof port, "PORT=%d", h_free_port());
    const char *over[] = { port, kv, NULL };
    if (strncmp(kv, "PORT=", 5) == 0)
        over[0] = kv, over[1] = NULL;
    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "serve", NULL }, over, 5, &out, &err);
    if (rc == 0 || rc == -1 || !strstr(err, name))
        print_error("%s: exit %d (want non-zero exit), stderr should name %s\n"
                    "stdout:\n%s\nstderr:\n%s\n", kv, rc, name, out, err);
    assert_true(rc > 0);
    assert_non_null(strstr(err, name));
    free(out);
    free(err);
}

static void test_bad_max_messages_is_refused(void **state)
{
    (void)state;
    check_refused("MAX_MESSAGES=abc");
}

static void test_out_of_range_port_is_refused(void **state)
{
    (void)state;
    check_refused("PORT=70000");
}

static void test_other_bad_values_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "PORT=abc", "PORT=-1", "PORT=80x",
        "MAX_MESSAGES=10abc", "MAX_MESSAGES=-1", "MAX_MESSAGES=99999999999999999999",
        "ROOM_TTL_SECONDS=abc", "ROOM_TTL_SECONDS=-5",
        "EXPIRY_INTERVAL_SECONDS=-5", "EXPIRY_INTERVAL_SECONDS=often",
        "MAX_BODY_BYTES=big", "MAX_USERS_PER_ROOM=x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_refused(bad[i]);
}

static void test_route_prefix_moves_the_routes(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("ROUTE_PREFIX=chat/v2"));
    resp_t *r = http_get("/chat/v2/ping/x");
    assert_status(r, 200);
    assert_string_equal(r->body, "pong/x");
    resp_free(r);
    r = http_get("/chat/v1/ping/x");
    assert_error(r, 404, "ResourceNotFound", NULL);
    resp_free(r);
    r = http_get("/chat/v2/about");
    assert_status(r, 200);
    resp_free(r);
    r = http_get("/about");
    assert_status(r, 200);
    resp_free(r);
    r = http_post("{\"type\":\"t\",\"users\":[\"alice\"]}", "/chat/v2/auth/%s/rooms", TOK_ALICE);
    assert_room(r, "t/alice", "t", USERS("alice"), 0);
    resp_free(r);
    r = http_get("/chat/v2/auth/%s/rooms/%s", TOK_ALICE, enc("t/alice"));
    assert_room(r, "t/alice", "t", USERS("alice"), 0);
    resp_free(r);
}

int run_config_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_help_lists_every_variable),
        T(test_version_exits_0_and_prints_something),
        T(test_migrate_twice_is_harmless),
        T(test_bad_max_messages_is_refused),
        T(test_out_of_range_port_is_refused),
        T(test_other_bad_values_are_refused),
        T(test_route_prefix_moves_the_routes),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
