/*
 * The PostgreSQL infrastructure deployments already have, for real, on
 * this machine (`make test-infra`, not `make test`: these take minutes and
 * more than one cluster):
 *   cron      pg_cron (Debian's postgresql-15-cron, preloaded by the run)
 *             runs the documented CALL chat_expire(1000) and an expired
 *             room goes;
 *   replicas  reads through DATABASE_READ_URL to a streaming standby that
 *             replays late (recovery_min_apply_delay): a writer reads its
 *             own message at once, a lagging or stopped replica is skipped;
 *   failover  posts under load, the primary crashes, its synchronous
 *             standby is promoted: posts resume by themselves and every
 *             acknowledged message is on the new primary.
 * Standbys are made by scripts/pg.sh standby (pg_basebackup -R) in folders
 * of their own, removed afterwards. failover leaves the suite's primary
 * stopped: it runs last.
 */
#include "harness.h"
#include "tests.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROOM "t/alice/bob"
static const char *const ROOM_BODY = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";

/* scripts/pg.sh ARGS (NULL-terminated); fails the test unless it exits 0. */
static void pg_script(const char *const *args)
{
    char *out = NULL, *err = NULL;
    int rc = run_program(h_env("PG_SCRIPT"), args, NULL, 120000, false, &out, &err);
    if (rc != 0)
        fail_msg("pg.sh %s exited %d: %s", args[0], rc, err ? err : "");
    free(out);
    free(err);
}
#define PG_SCRIPT(...) pg_script((const char *const[]){ __VA_ARGS__, NULL })

/* The URL of the cluster in DIR (pg.sh url), caller frees. */
static char *cluster_url(const char *dir)
{
    char *out = NULL, *err = NULL;
    int rc = run_program(h_env("PG_SCRIPT"), (const char *const[]){ "url", dir, NULL }, NULL,
                         10000, false, &out, &err);
    free(err);
    if (rc != 0 || !out)
        fail_msg("pg.sh url %s failed", dir);
    char *url = strndup(out, strcspn(out, "\n"));
    free(out);
    return url;
}

static char *cluster_port(const char *dir)
{
    char *url = cluster_url(dir);
    char *port = strdup(strrchr(url, ':') + 1);
    port[strcspn(port, "/")] = '\0';
    free(url);
    return port;
}

/* A new standby of the suite's cluster in a folder of its own. */
static char *new_standby(const char *apply_delay)
{
    char *dir = strdup("/tmp/ganomede-chat-standby.XXXXXX");
    if (!mkdtemp(dir))
        fail_msg("mkdtemp failed");
    rmdir(dir);   /* pg.sh standby makes it, owned by the server's user */
    if (apply_delay)
        PG_SCRIPT("standby", dir, h_env("PG_DIR"), apply_delay);
    else
        PG_SCRIPT("standby", dir, h_env("PG_DIR"));
    return dir;
}

static long long count_on(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    long long n = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(c);
    return n;
}

/* ---- cron ------------------------------------------------------------- */

static void test_pg_cron_runs_the_documented_expiry(void **state)
{
    (void)state;
    PGresult *r = PQexec(db(), "CREATE EXTENSION IF NOT EXISTS pg_cron");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        print_error("pg_cron is not available: %s(make test-infra preloads it; "
                    "scripts/deps.sh infra installs postgresql-15-cron)\n",
                    PQresultErrorMessage(r));
        PQclear(r);
        fail();
    }
    PQclear(r);
    api_create_room(ROOM_BODY);
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"carol\"]}");
    db_expire_room(ROOM);
    /* The line of docs/operations.md, every minute instead of every ten. */
    db_exec("SELECT cron.schedule('ganomede-chat-expiry', '* * * * *', "
            "'CALL chat_expire(1000)')", 0, NULL);
    double until = now_s() + 75;
    while (now_s() < until && db_room_exists(ROOM))
        usleep(500 * 1000);
    bool gone = !db_room_exists(ROOM);
    long long runs = db_long("SELECT count(*) FROM cron.job_run_details "
                             "WHERE status = 'succeeded'", 0, NULL);
    db_exec("SELECT cron.unschedule('ganomede-chat-expiry')", 0, NULL);
    assert_true(gone);
    assert_true(runs >= 1);
    assert_true(db_room_exists("t/alice/carol"));
}

/* ---- replicas --------------------------------------------------------- */

/* Messages GET room answers ROOM with, as TOKEN. */
static size_t room_messages(const char *token)
{
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", token, enc(ROOM));
    assert_status(r, 200);
    size_t n = json_object_array_length(json_object_object_get(resp_json(r), "messages"));
    resp_free(r);
    return n;
}

static void post_as(const char *token, int i)
{
    char body[96];
    snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"r%d\"}", i,
             i);
    api_post_msg(token, ROOM, body);
}

/* A streaming standby that replays 3 s late serves the reads of those who
 * did not write; a writer reads its own message at once; past the lag
 * bound, or down, the replica is skipped. */
static void test_reads_go_to_a_replica_and_writers_see_their_writes(void **state)
{
    (void)state;
    server_t *primary_only = scoped_server(NULL);
    h_srv = primary_only;
    api_create_room(ROOM_BODY);
    char *standby = new_standby("3s");
    char *url = cluster_url(standby);
    char read_url[300];
    snprintf(read_url, sizeof read_url, "DATABASE_READ_URL=%s", url);
    server_t *s = scoped_server(OVERRIDES(read_url, "READ_MAX_LAG_SECONDS=10"));
    h_srv = s;
    assert_true(h_log_contains(s, "read replica usable"));
    usleep(3500 * 1000);   /* the room has been replayed */

    /* Alice's own writes: at once, every time. */
    for (int i = 1; i <= 10; i++) {
        post_as(TOK_ALICE, i);
        assert_int_equal(room_messages(TOK_ALICE), (size_t)i);
    }
    /* Bob wrote nothing: his read went to the replica, 3 s behind. */
    size_t bob_now = room_messages(TOK_BOB);
    usleep(3500 * 1000);
    size_t bob_later = room_messages(TOK_BOB);
    print_message("bob read %zu of 10 at once (replica), %zu after 3.5 s\n", bob_now, bob_later);
    assert_true(bob_now < 10);
    assert_int_equal(bob_later, 10);

    /* A bound below the replica's delay: skipped, bob reads the primary. */
    server_t *strict = scoped_server(OVERRIDES(read_url, "READ_MAX_LAG_SECONDS=1"));
    h_srv = strict;
    post_as(TOK_ALICE, 11);
    double until = now_s() + 5;
    while (now_s() < until && !h_log_contains(strict, "ms behind (bound 1000 ms)"))
        usleep(200 * 1000);
    assert_int_equal(room_messages(TOK_BOB), 11);

    /* The replica stops: reads go on, from the primary. */
    h_srv = s;
    PG_SCRIPT("stop", standby);
    assert_int_equal(room_messages(TOK_BOB), 11);
    assert_true(h_log_contains(s, "read replica does not answer"));
    PG_SCRIPT("destroy", standby);
    free(standby);
    free(url);
}

/* ---- failover --------------------------------------------------------- */

struct poster {
    pthread_t th;
    int port, index;
    volatile bool *stop;
    int ok, failed;
    double first_ok_after;   /* seconds since the crash, -1 before */
    const double *crash_at;
};

static void *poster_main(void *arg)
{
    struct poster *p = arg;
    server_t srv = { .port = p->port };
    char path[256], body[128];
    snprintf(path, sizeof path, PFX "/auth/" TOK_ALICE "/rooms/t%%2Falice%%2Fbob/messages");
    p->first_ok_after = -1;
    for (int i = 0; !*p->stop; i++) {
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"f%d-%d\"}",
                 i, p->index, i);
        req_t rq = { .srv = &srv, .method = "POST", .path = path, .body = body,
                     .timeout_ms = 20000 };
        double sent = now_s();
        resp_t *r = http_do(&rq);
        if (r->status == 200) {
            p->ok++;
            /* Resumed: a post sent after the crash is acknowledged. */
            if (*p->crash_at > 0 && sent > *p->crash_at && p->first_ok_after < 0)
                p->first_ok_after = now_s() - *p->crash_at;
        } else {
            p->failed++;
            usleep(50 * 1000);
        }
        resp_free(r);
    }
    return NULL;
}

static void test_failover_loses_no_acknowledged_message(void **state)
{
    (void)state;
    char *standby = new_standby(NULL);
    /* Then every commit waits for the standby (the suite's cluster runs
     * with synchronous_commit off for speed: on here). Set after the base
     * backup: a standby that inherited synchronous_standby_names would,
     * once promoted, wait for a standby of its own that does not exist
     * (failover tools clear it; docs/operations.md). */
    db_exec("ALTER SYSTEM SET synchronous_standby_names = '*'", 0, NULL);
    db_exec("ALTER SYSTEM SET synchronous_commit = on", 0, NULL);
    db_exec("SELECT pg_reload_conf()", 0, NULL);
    char *p1 = cluster_port(h_env("PG_DIR")), *p2 = cluster_port(standby);
    char url[300], session[320], standby_url[200];
    snprintf(url, sizeof url,
             "DATABASE_URL=postgresql://postgres@127.0.0.1:%s,127.0.0.1:%s/chat"
             "?target_session_attrs=read-write&connect_timeout=2", p1, p2);
    snprintf(session, sizeof session, "DATABASE_SESSION_URL=%s", url + strlen("DATABASE_URL="));
    snprintf(standby_url, sizeof standby_url, "postgresql://postgres@127.0.0.1:%s/chat", p2);
    server_t *s = scoped_server(OVERRIDES(url, session, "MAX_MESSAGES=100000"));
    h_srv = s;
    api_create_room(ROOM_BODY);

    volatile bool stop = false;
    double crash_at = 0;
    struct poster ps[4];
    for (int i = 0; i < 4; i++) {
        ps[i] = (struct poster){ .port = s->port, .index = i, .stop = &stop,
                                 .crash_at = &crash_at };
        if (pthread_create(&ps[i].th, NULL, poster_main, &ps[i]) != 0)
            fail_msg("pthread_create failed");
    }
    usleep(1500 * 1000);
    PG_SCRIPT("crash", h_env("PG_DIR"));
    crash_at = now_s();   /* the primary is gone from here on */
    usleep(500 * 1000);
    PG_SCRIPT("promote", standby);
    double until = now_s() + 30 * h_slow_factor();
    bool resumed = false;
    while (now_s() < until && !resumed) {
        usleep(200 * 1000);
        for (int i = 0; i < 4; i++)
            resumed = resumed || ps[i].first_ok_after >= 0;
    }
    usleep(1000 * 1000);
    stop = true;
    int ok = 0, failed = 0;
    double first = -1;
    for (int i = 0; i < 4; i++) {
        pthread_join(ps[i].th, NULL);
        ok += ps[i].ok;
        failed += ps[i].failed;
        if (ps[i].first_ok_after >= 0 && (first < 0 || ps[i].first_ok_after < first))
            first = ps[i].first_ok_after;
    }
    long long stored = count_on(standby_url, "SELECT count(*) FROM messages "
                                             "WHERE room_id = 't/alice/bob'");
    print_message("failover: %d posts acknowledged, %d answered 503; posts resumed %.1f s "
                  "after the crash; %lld messages on the new primary\n",
                  ok, failed, first, stored);
    /* The harness's own connection pointed at the old primary. */
    PG_SCRIPT("destroy", standby);
    free(standby);
    free(p1);
    free(p2);
    assert_true(resumed);
    assert_true(ok > 0);
    /* Every acknowledged post is there; a post in flight at the crash may
     * have committed without its answer getting out (at most one per
     * client). */
    assert_true(stored >= ok && stored <= ok + 4);
}

int run_cron_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pg_cron_runs_the_documented_expiry),
    };
    return cmocka_run_group_tests_name("cron", tests, group_setup_default,
                                       group_teardown_server);
}

int run_replicas_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_reads_go_to_a_replica_and_writers_see_their_writes),
    };
    return cmocka_run_group_tests_name("replicas", tests, NULL, NULL);
}

int run_failover_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_failover_loses_no_acknowledged_message),
    };
    return cmocka_run_group_tests_name("failover", tests, NULL, NULL);
}
