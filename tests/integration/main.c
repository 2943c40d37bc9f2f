/*
 * Integration suite entry point: migrates the throwaway database, then runs
 * the cmocka groups in order (the outage group last: it restarts
 * PostgreSQL).
 *
 * Usage: test_integration [-g group[,group...]] [-t test-name-pattern]
 * Groups: config routes identity framing auth messages trim policies policies_redis expiry
 *         record badinput notify notify_redis redis import inbox live room_cache cli pooling pgbouncer_session
 *         pgbouncer_transaction logs ops shutdown faults migrations
 *         pgaudit outage; and, only when named (make test-infra), cron,
 *         replicas and failover (test_infra.c), failover last. The _redis groups are the same tests with the policies in the
 *         suite's Redis (the original's usermeta link) instead of the usermeta table. The pattern uses cmocka's wildcards (* and ?).
 * Server logs go to a fresh /tmp/ganomede-chat-it.* folder, removed after a
 * clean run unless IT_KEEP_LOGS is set.
 */
#include "harness.h"
#include "tests.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A group run with the policies in Redis (harness: h_policies_in_redis). */
static int run_with_policies_in_redis(int (*run)(void), const char *name)
{
    fprintf(stderr, "== %s, policies from the usermeta Redis\n", name);
    h_policies_in_redis(true);
    int failed = run();
    h_policies_in_redis(false);
    return failed;
}

static int run_policies_redis(void)
{
    return run_with_policies_in_redis(run_policies_tests, "policies");
}

static int run_notify_redis(void)
{
    return run_with_policies_in_redis(run_notify_tests, "notify");
}

/* The routes, notify and expiry groups with every server reaching
 * PostgreSQL through pgbouncer (harness: h_database_via). */
static int run_through_pgbouncer(enum h_database_route route, const char *mode)
{
    static int (*const groups[])(void) = { run_routes_tests, run_notify_tests,
                                           run_expiry_tests };
    static const char *const names[] = { "routes", "notify", "expiry" };
    int failed = 0;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        fprintf(stderr, "== %s, through pgbouncer's %s pool\n", names[i], mode);
        if (!h_database_via(route)) {
            failed++;
            continue;
        }
        failed += groups[i]();
        h_database_via(H_DIRECT);
    }
    return failed;
}

static int run_pgbouncer_session(void)
{
    return run_through_pgbouncer(H_PGBOUNCER_SESSION, "session");
}

static int run_pgbouncer_transaction(void)
{
    return run_through_pgbouncer(H_PGBOUNCER_TRANSACTION, "transaction");
}

/* Groups with `infra` set run only when named (-g): they need more than
 * the suite's one cluster, or minutes (make test-infra). */
static const struct {
    const char *name;
    int (*run)(void);
    bool infra;
} GROUPS[] = {
    { "config", run_config_tests, false },
    { "routes", run_routes_tests, false },
    { "identity", run_identity_tests, false },
    { "framing", run_framing_tests, false },
    { "auth", run_auth_tests, false },
    { "messages", run_messages_tests, false },
    { "trim", run_trim_tests, false },
    { "policies", run_policies_tests, false },
    { "policies_redis", run_policies_redis, false },
    { "expiry", run_expiry_tests, false },
    { "record", run_record_tests, false },
    { "badinput", run_badinput_tests, false },
    { "notify", run_notify_tests, false },
    { "notify_redis", run_notify_redis, false },
    { "redis", run_redis_tests, false },
    { "import", run_import_tests, false },
    { "inbox", run_inbox_tests, false },
    { "live", run_live_tests, false },
    { "room_cache", run_room_cache_tests, false },
    { "cli", run_cli_tests, false },
    { "pooling", run_pooling_tests, false },
    { "pgbouncer_session", run_pgbouncer_session, false },
    { "pgbouncer_transaction", run_pgbouncer_transaction, false },
    { "logs", run_logs_tests, false },
    { "ops", run_ops_tests, false },
    { "shutdown", run_shutdown_tests, false },
    { "faults", run_faults_tests, false },
    { "migrations", run_migrations_tests, false },
    { "pgaudit", run_pgaudit_tests, false },
    { "outage", run_outage_tests, false },
    { "cron", run_cron_tests, true },
    { "replicas", run_replicas_tests, true },
    { "failover", run_failover_tests, true },
};

static bool selected(const char *list, const char *name, bool infra)
{
    if (!list)
        return !infra;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len + (end ? 1 : 0);
    }
    return false;
}

static void on_signal(int sig)
{
    h_kill_all_now();
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    const char *groups = NULL;
    int opt, failed = 0;

    while ((opt = getopt(argc, argv, "g:t:h")) != -1) {
        switch (opt) {
        case 'g':
            groups = optarg;
            break;
        case 't':
            cmocka_set_test_filter(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s [-g group[,group...]] [-t test-pattern]\n", argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!h_init())
        return 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);

    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "migrate", NULL }, NULL, 60, &out, &err);
    if (rc != 0) {
        fprintf(stderr, "integration tests: `%s migrate` exited %d\nstdout:\n%s\nstderr:\n%s\n",
                getenv("CHAT_BIN"), rc, out, err);
        free(out);
        free(err);
        h_cleanup();
        return 1;
    }
    free(out);
    free(err);

    for (size_t i = 0; i < sizeof GROUPS / sizeof GROUPS[0]; i++)
        if (selected(groups, GROUPS[i].name, GROUPS[i].infra))
            failed += GROUPS[i].run();

    h_cleanup();
    if (failed) {
        fprintf(stderr, "integration tests: %d failed; server logs in %s\n", failed, h_logdir());
        return 1;
    }
    if (h_env("IT_KEEP_LOGS")) {
        fprintf(stderr, "integration tests: all passed; server logs in %s\n", h_logdir());
        return 0;
    }
    h_remove_logdir();
    fprintf(stderr, "integration tests: all passed\n");
    return 0;
}
