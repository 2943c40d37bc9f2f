/*
 * The command line and configuration: --help, --version, migrate twice,
 * bad values refused at start naming the variable, ROUTE_PREFIX,
 * LISTEN_ADDRESS and a busy port, and what `make run` prints and binds.
 */
#include "harness.h"
#include "tests.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* True when something accepts connections on [::1]:PORT (false too when
 * this host has no IPv6; *HAVE_IPV6 tells). */
static bool ipv6_loopback_answers(int port, bool *have_ipv6)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *have_ipv6 = fd >= 0;
    if (fd < 0)
        return false;
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    if (rc != 0 && errno == EADDRNOTAVAIL)
        *have_ipv6 = false;
    close(fd);
    return rc == 0;
}

/* A second server on a busy port says why and exits before it opens
 * anything: here its database does not even exist. */
static void test_busy_port_is_refused_before_anything_opens(void **state)
{
    (void)state;
    server_t *first = scoped_server(NULL);
    char port[32];
    snprintf(port, sizeof port, "PORT=%d", first->port);
    char *out = NULL, *err = NULL;
    double t0 = now_s();
    int rc = run_chat((const char *const[]){ "serve", NULL },
                      OVERRIDES(port, "DATABASE_URL=postgresql://127.0.0.1:1/none?connect_timeout=5"),
                      20, &out, &err);
    double took = now_s() - t0;
    if (rc != 1 || !strstr(err, "Address already in use") || strstr(out, "PostgreSQL"))
        print_error("exit %d after %.2f s\nstdout:\n%s\nstderr:\n%s\n", rc, took, out, err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "cannot listen on"));
    assert_non_null(strstr(err, "Address already in use"));
    assert_non_null(strstr(out, "Address already in use"));   /* the log says it too */
    assert_null(strstr(out, "PostgreSQL"));                      /* never tried it */
    assert_true(took < 2.0 * h_slow_factor());
    free(out);
    free(err);
    /* the first one serves on */
    h_srv = first;
    resp_t *r = http_get(PFX "/ping/still");
    assert_status(r, 200);
    resp_free(r);
}

static void test_listen_address_is_honoured(void **state)
{
    (void)state;
    /* every interface by default: IPv6 too when the host has it */
    server_t *all = scoped_server(NULL);
    bool have_ipv6 = false;
    bool v6 = ipv6_loopback_answers(all->port, &have_ipv6);
    if (have_ipv6)
        assert_true(v6);
    server_t *local = scoped_server(OVERRIDES("LISTEN_ADDRESS=127.0.0.1"));
    h_srv = local;
    resp_t *r = http_get(PFX "/ping/v4");
    assert_status(r, 200);
    resp_free(r);
    if (have_ipv6)
        assert_false(ipv6_loopback_answers(local->port, &have_ipv6));
    char want[64];
    snprintf(want, sizeof want, "listening on 127.0.0.1:%d", local->port);
    assert_true(h_log_contains(local, want));
    check_refused("LISTEN_ADDRESS=no-such-host.invalid");
}

/* `make run` (scripts/run.sh): the development secret is public, so it
 * listens on 127.0.0.1; its curl lines have one '/' before the prefix. */
static void test_make_run_listens_locally_and_prints_clean_urls(void **state)
{
    (void)state;
    const char *pg_script = h_env("PG_SCRIPT");
    assert_non_null(pg_script);
    char run_sh[512], port[32], bin[600];
    snprintf(run_sh, sizeof run_sh, "%.*s/run.sh",
             (int)(strrchr(pg_script, '/') - pg_script), pg_script);
    int p = h_free_port();
    snprintf(port, sizeof port, "PORT=%d", p);
    snprintf(bin, sizeof bin, "CHAT_BIN=%s", h_env("CHAT_BIN"));
    char *out = NULL, *err = NULL;
    (void)run_program(run_sh, NULL, OVERRIDES(port, bin, "ROUTE_PREFIX=/chat/v2",
                                              "EXPIRY_INTERVAL_SECONDS=0"),
                      4000 * h_slow_factor(), true, &out, &err);
    char want[128];
    snprintf(want, sizeof want, "curl http://localhost:%d/chat/v2/ping/hello", p);
    if (!strstr(err, want) || strstr(err, "//chat") || !strstr(out, "listening on 127.0.0.1"))
        print_error("stdout:\n%s\nstderr:\n%s\n", out, err);
    assert_non_null(strstr(err, want));
    assert_null(strstr(err, "//chat"));
    assert_null(strstr(err, "v2//"));
    snprintf(want, sizeof want, "listening on 127.0.0.1:%d (prefix /chat/v2)", p);
    assert_non_null(strstr(out, want));
    free(out);
    free(err);
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
        T(test_busy_port_is_refused_before_anything_opens),
        T(test_listen_address_is_honoured),
        T(test_make_run_listens_locally_and_prints_clean_urls),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
