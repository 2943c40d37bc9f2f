/*
 * Logs that never hold the secret or a token, and a database outage: 503
 * quickly while PostgreSQL is down, ping still up, and full service again
 * once it is back. The outage group restarts the database: it runs last.
 */
#include "harness.h"
#include "tests.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#define ROOM "t/alice/bob"
static const char *const ROOM_BODY = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";
static const char *const MSG = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}";

/* ---- logs ------------------------------------------------------------- */

#define LOG_TOKEN "tok-LOGCHECK-3141"
#define UNKNOWN_TOKEN "tok-NOTREAL-2718"
/* a token that travels percent-encoded */
#define ODD_TOKEN "tok/ODD+LOG 1618"

static void exercise_tokens(void)
{
    const char *const raw[] = { IT_SECRET, IT_SECRET ".alice", LOG_TOKEN, UNKNOWN_TOKEN,
                                IT_SECRET ".", ODD_TOKEN };
    char toks[6][128];
    db_token(LOG_TOKEN, "alice", NULL);
    db_token(ODD_TOKEN, "alice", NULL);
    for (size_t i = 0; i < 6; i++)
        snprintf(toks[i], sizeof toks[i], "%s", enc(raw[i]));
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
        resp_free(http_get(PFX "/auth/%s", toks[i]));
        resp_free(http_get(PFX "/auth/%s/", toks[i]));
        resp_free(http_post(ROOM_BODY, PFX "/auth/%s/rooms", toks[i]));
        resp_free(http_get(PFX "/auth/%s/rooms/%s", toks[i], enc(ROOM)));
        resp_free(http_get(PFX "/auth/%s/rooms/%s", toks[i], enc("t/none")));
        resp_free(http_post(MSG, PFX "/auth/%s/rooms/%s/messages", toks[i], enc(ROOM)));
        resp_free(http_post("{bad json", PFX "/auth/%s/rooms/%s/messages", toks[i], enc(ROOM)));
        resp_free(http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,"
                            "\"message\":\"E\"}", PFX "/auth/%s/system-messages", toks[i]));
        resp_free(http_get(PFX "/auth/%s/unknown/path", toks[i]));
        resp_free(http_method("DELETE", NULL, PFX "/auth/%s/rooms/%s", toks[i], enc(ROOM)));
    }
    /* make sure the requests really happened */
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", LOG_TOKEN, enc(ROOM));
    assert_status(r, 200);
    resp_free(r);
}

static void check_log_clean(server_t *s)
{
    server_stop(s);   /* flushes whatever the server buffered */
    char *log = server_log(s);
    char odd_enc[128];
    snprintf(odd_enc, sizeof odd_enc, "%s", enc(ODD_TOKEN));
    const char *const secrets[] = { IT_SECRET, LOG_TOKEN, UNKNOWN_TOKEN, ODD_TOKEN, odd_enc,
                                    "ODD+LOG", "ODD%2BLOG" };
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        const char *hit = strstr(log, secrets[i]);
        if (hit) {
            const char *from = hit - log > 200 ? hit - 200 : log;
            print_error("%s contains \"%s\":\n...%.400s...\n", s->log_path, secrets[i], from);
        }
        assert_null(hit);
    }
    free(log);
}

static void test_logs_never_contain_secret_or_tokens(void **state)
{
    (void)state;
    h_srv = scoped_server(NULL);
    exercise_tokens();
    check_log_clean(h_srv);
}

static void test_debug_logs_never_contain_secret_or_tokens(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("LOG_LEVEL=debug"));
    exercise_tokens();
    check_log_clean(h_srv);
}

int run_logs_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_logs_never_contain_secret_or_tokens),
        T(test_debug_logs_never_contain_secret_or_tokens),
    };
    return cmocka_run_group_tests_name("logs", tests, NULL, NULL);
}

/* ---- shutdown ------------------------------------------------------------- */

static void check_clean_exit(server_t *s, int within_ms, const char *what)
{
    double secs = 0;
    bool in_time = server_stop_within(s, within_ms, &secs);
    if (!in_time)
        print_error("%s: still running %.1f s after SIGTERM; killed (log: %s)\n", what, secs,
                    s->log_path);
    assert_true(in_time);
    if (!WIFEXITED(s->exit_status) || WEXITSTATUS(s->exit_status) != 0)
        print_error("%s: exit status 0x%x after SIGTERM\n", what, s->exit_status);
    assert_true(WIFEXITED(s->exit_status));
    assert_int_equal(WEXITSTATUS(s->exit_status), 0);
}

static void test_sigterm_exits_0_within_3s_when_idle(void **state)
{
    (void)state;
    h_srv = scoped_server(NULL);
    api_create_room(ROOM_BODY);
    check_clean_exit(h_srv, 3000, "idle server");
}

static void test_sigterm_exits_within_10s_after_aborted_uploads(void **state)
{
    (void)state;
    h_srv = scoped_server(NULL);
    for (int i = 0; i < 20; i++)
        h_abort_upload(h_srv->port);
    api_create_room(ROOM_BODY);
    api_create_room(ROOM_BODY);
    check_clean_exit(h_srv, 10000, "after 20 aborted uploads");
}

static void test_sigterm_is_not_held_up_forever_by_a_stalled_upload(void **state)
{
    (void)state;
    h_srv = scoped_server(NULL);
    int fd = h_stalled_upload(h_srv->port);
    api_create_room(ROOM_BODY);
    double t0 = now_s();
    double secs = 0;
    bool in_time = server_stop_within(h_srv, 15000, &secs);
    close(fd);
    print_message("exit %.2f s after SIGTERM with a stalled upload open\n", now_s() - t0);
    if (!in_time)
        print_error("still running 15 s after SIGTERM with one stalled upload (log: %s)\n",
                    h_srv->log_path);
    assert_true(in_time);
}

int run_shutdown_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_sigterm_exits_0_within_3s_when_idle),
        T(test_sigterm_exits_within_10s_after_aborted_uploads),
        T(test_sigterm_is_not_held_up_forever_by_a_stalled_upload),
    };
    return cmocka_run_group_tests_name("shutdown", tests, NULL, NULL);
}

/* ---- database outage ---------------------------------------------------- */

static bool pg_down;

static int outage_teardown(void **state)
{
    if (pg_down) {
        if (run_pg_script("start") != 0)
            print_error("could not restart PostgreSQL (see %s/pg-script.log)\n", h_logdir());
        pg_down = false;
    }
    return std_teardown(state);
}

static void expect_503_fast(resp_t *r)
{
    if (r->seconds >= 10.0)
        print_error("%s %s took %.1f s during the outage\n", r->method, r->path, r->seconds);
    assert_true(r->seconds < 10.0);
    assert_error(r, 503, "ServiceUnavailable", NULL);
    resp_free(r);
}

static void test_database_outage_gives_fast_503_then_recovers(void **state)
{
    (void)state;
    if (!h_env("PG_SCRIPT") || !h_env("PG_DIR")) {
        print_message("PG_SCRIPT/PG_DIR not set: outage test skipped\n");
        skip();
    }
    api_create_room(ROOM_BODY);
    api_post_msg(TOK_ALICE, ROOM, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"before1\"}");
    api_post_msg(TOK_BOB, ROOM, "{\"timestamp\":2,\"type\":\"text\",\"message\":\"before2\"}");

    pg_down = true;
    assert_int_equal(run_pg_script("stop"), 0);

    for (int round = 0; round < 2; round++) {
        expect_503_fast(http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM)));
        expect_503_fast(http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc(ROOM)));
        expect_503_fast(http_get(PFX "/auth/%s/rooms/%s", "unknown-token", enc(ROOM)));
        expect_503_fast(http_post(MSG, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM)));
        expect_503_fast(http_post(ROOM_BODY, PFX "/auth/%s/rooms", IT_SECRET));
        expect_503_fast(http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":3,"
                                  "\"message\":\"E\"}", PFX "/auth/%s/system-messages", IT_SECRET));
        resp_t *r = http_get(PFX "/ping/down");
        assert_status(r, 200);
        assert_string_equal(r->body, "pong/down");
        assert_true(r->seconds < 10.0);
        resp_free(r);
        r = http_get("/about");
        assert_status(r, 200);
        resp_free(r);
    }
    /* the 503 body reveals nothing */
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc(ROOM));
    assert_status(r, 503);
    assert_null(strstr(r->body, IT_SECRET));
    assert_null(strstr(r->body, "127.0.0.1"));
    assert_null(strstr(r->body, "postgres"));
    resp_free(r);

    assert_int_equal(run_pg_script("start"), 0);
    pg_down = false;

    double end = now_s() + 15.0;
    long status = 0;
    while (now_s() < end) {
        r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
        status = r->status;
        resp_free(r);
        if (status == 200)
            break;
        usleep(250 * 1000);
    }
    if (status != 200)
        print_error("still %ld 15 s after PostgreSQL came back\n", status);
    assert_int_equal(status, 200);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    json_object *m = assert_room(r, ROOM, "t", USERS("alice", "bob"), 2);
    assert_msg(json_object_array_get_idx(m, 0), "2", "bob", "text", "before2");
    assert_msg(json_object_array_get_idx(m, 1), "1", "alice", "text", "before1");
    resp_free(r);

    /* writes work again on every route */
    api_post_msg(TOK_ALICE, ROOM, "{\"timestamp\":4,\"type\":\"text\",\"message\":\"after\"}");
    r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", TOK_BOB);
    m = assert_room(r, ROOM, "t", USERS("alice", "bob"), 3);
    assert_msg(json_object_array_get_idx(m, 0), "4", "alice", "text", "after");
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 3);
}

int run_outage_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_database_outage_gives_fast_503_then_recovers,
                                        std_setup, outage_teardown),
    };
    return cmocka_run_group_tests_name("outage", tests, group_setup_default,
                                       group_teardown_server);
}
