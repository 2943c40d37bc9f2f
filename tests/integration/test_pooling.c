/*
 * The service behind a real pgbouncer (Debian's 1.18, scripts/pgbouncer.sh,
 * stock settings: no ignore_startup_parameters) in session and in
 * transaction pooling, and directly: connections are accepted (no startup
 * options), the statement timeout holds in every mode, and a post answered
 * 503 for it is never committed later. (The routes, notify and expiry groups
 * run whole through each pool: groups pgbouncer_session and
 * pgbouncer_transaction.) Also what a failover shows a server: a database
 * that refuses writes, and a session URL whose hosts are all down.
 */
#include "harness.h"
#include "tests.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ROOM "t/alice/bob"
static const char *const ROOM_BODY = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";

/* A post waits for a room row the suite holds locked: past
 * DB_STATEMENT_TIMEOUT_MS it is answered 503, and once the lock goes it is
 * not stored after all. */
static void timeout_is_never_committed(enum h_database_route route)
{
    assert_true(h_database_via(route));
    h_srv = scoped_server(OVERRIDES("DB_STATEMENT_TIMEOUT_MS=1000"));
    h_database_via(H_DIRECT);
    api_create_room(ROOM_BODY);
    PGresult *r = PQexec(db(), "BEGIN");
    PQclear(r);
    r = PQexec(db(), "SELECT 1 FROM rooms WHERE id = 't/alice/bob' FOR UPDATE");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    resp_t *p = http_post("{\"timestamp\":1,\"type\":\"text\",\"message\":\"late\"}",
                          PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    long status = p->status;
    double took = p->seconds;
    resp_free(p);
    r = PQexec(db(), "ROLLBACK");
    PQclear(r);
    assert_int_equal(status, 503);
    assert_true(took >= 0.9 && took < 3.0 * h_slow_factor());
    usleep(1000 * 1000);
    assert_int_equal(db_count_messages(ROOM), 0);
    p = http_post("{\"timestamp\":2,\"type\":\"text\",\"message\":\"again\"}",
                  PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    assert_empty_ok(p);
    resp_free(p);
    assert_int_equal(db_count_messages(ROOM), 1);
}

static void test_statement_timeout_holds_directly(void **state)
{
    (void)state;
    timeout_is_never_committed(H_DIRECT);
}

static void test_statement_timeout_holds_through_a_session_pool(void **state)
{
    (void)state;
    timeout_is_never_committed(H_PGBOUNCER_SESSION);
}

static void test_statement_timeout_holds_through_a_transaction_pool(void **state)
{
    (void)state;
    timeout_is_never_committed(H_PGBOUNCER_TRANSACTION);
}

struct poster {
    pthread_t th;
    int port, index, ok;
    long last_status;
};

static void *poster_main(void *arg)
{
    struct poster *p = arg;
    server_t srv = { .port = p->port };
    char path[256], body[128];
    snprintf(path, sizeof path, PFX "/auth/" TOK_ALICE "/rooms/t%%2Falice%%2Fbob/messages");
    for (int i = 0; i < 25; i++) {
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"p%d\"}", i,
                 p->index);
        req_t rq = { .srv = &srv, .method = "POST", .path = path, .body = body };
        resp_t *r = http_do(&rq);
        p->last_status = r->status;
        p->ok += r->status == 200;
        resp_free(r);
        rq = (req_t){ .srv = &srv, .method = "GET", .path = PFX "/auth/" TOK_BOB
                      "/rooms/t%2Falice%2Fbob" };
        r = http_do(&rq);
        p->ok += r->status == 200;
        resp_free(r);
    }
    return NULL;
}

/* 8 clients at once, posts and reads, through the transaction pool (the
 * original trial: 109 of 200 answered 503, "prepared statement already
 * exists"). */
static void test_parallel_requests_through_a_transaction_pool(void **state)
{
    (void)state;
    assert_true(h_database_via(H_PGBOUNCER_TRANSACTION));
    h_srv = scoped_server(OVERRIDES("MAX_MESSAGES=1000"));
    h_database_via(H_DIRECT);
    api_create_room(ROOM_BODY);
    struct poster ps[8];
    for (int i = 0; i < 8; i++) {
        ps[i] = (struct poster){ .port = h_srv->port, .index = i };
        if (pthread_create(&ps[i].th, NULL, poster_main, &ps[i]) != 0)
            fail_msg("pthread_create failed");
    }
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(ps[i].th, NULL);
        ok += ps[i].ok;
        if (ps[i].ok != 50)
            print_error("client %d: %d of 50 answered 200 (last %ld)\n", i, ps[i].ok,
                        ps[i].last_status);
    }
    assert_int_equal(ok, 400);
    assert_int_equal(db_count_messages(ROOM), 200);
    assert_false(h_log_contains(h_srv, "already exists"));
}

static int count_in(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* A read-only database (a standby, an old primary demoted): writes are 503,
 * not 500; reads work; health says why. */
static void test_read_only_database_is_503_and_health_says_why(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    db_exec("ALTER DATABASE chat SET default_transaction_read_only = on", 0, NULL);
    server_t *s = scoped_server(NULL);
    h_srv = s;
    resp_t *r = http_post("{\"timestamp\":1,\"type\":\"text\",\"message\":\"x\"}",
                          PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    long post = r->status;
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM));
    long get = r->status;
    resp_free(r);
    r = http_get(PFX "/health");
    long health = r->status;
    char *body = strdup(r->body ? r->body : "");
    resp_free(r);
    db_exec("ALTER DATABASE chat RESET default_transaction_read_only", 0, NULL);
    assert_int_equal(post, 503);
    assert_int_equal(get, 200);
    assert_int_equal(health, 503);
    assert_non_null(strstr(body, "read-only"));
    free(body);
    assert_true(h_log_contains(s, "25006"));
}

/* The dispatcher's database is unreachable (every host of its URL down)
 * while posts keep waking it: it tries once, then backs off, and its log
 * line gives each host's reason. */
static void test_dispatcher_backs_off_and_logs_every_host(void **state)
{
    (void)state;
    int dead1 = h_free_port(), dead2 = h_free_port(), receiver = h_free_port();
    char session[160], addr[64], port[64];
    snprintf(session, sizeof session,
             "DATABASE_SESSION_URL=postgresql://postgres@127.0.0.1:%d,127.0.0.1:%d/chat"
             "?connect_timeout=2", dead1, dead2);
    snprintf(addr, sizeof addr, "NOTIFICATIONS_PORT_8080_TCP_ADDR=127.0.0.1");
    snprintf(port, sizeof port, "NOTIFICATIONS_PORT_8080_TCP_PORT=%d", receiver);
    server_t *s = scoped_server(OVERRIDES(session, addr, port));
    h_srv = s;
    api_create_room(ROOM_BODY);
    double until = now_s() + 2.5;
    int posts = 0;
    while (now_s() < until) {
        api_post_msg(TOK_ALICE, ROOM, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"w\"}");
        posts++;
        usleep(20 * 1000);
    }
    char *log = server_log(s);
    int attempts = count_in(log, "cannot connect to PostgreSQL");
    char host1[32], host2[32];
    snprintf(host1, sizeof host1, "port %d failed", dead1);
    snprintf(host2, sizeof host2, "port %d failed", dead2);
    bool both = strstr(log, host1) && strstr(log, host2);
    free(log);
    print_message("%d posts woke the dispatcher; %d connection attempts\n", posts, attempts);
    assert_true(posts > 20);
    assert_true(attempts >= 1 && attempts <= 3);
    assert_true(both);
}

int run_pooling_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_statement_timeout_holds_directly),
        T(test_statement_timeout_holds_through_a_session_pool),
        T(test_statement_timeout_holds_through_a_transaction_pool),
        T(test_parallel_requests_through_a_transaction_pool),
        T(test_read_only_database_is_503_and_health_says_why),
        T(test_dispatcher_backs_off_and_logs_every_host),
    };
    return cmocka_run_group_tests_name("pooling", tests, group_setup_default,
                                       group_teardown_server);
}
