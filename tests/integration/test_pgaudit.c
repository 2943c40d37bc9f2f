/*
 * Tokens never reach PostgreSQL in clear. The suite's cluster loads pgaudit
 * (scripts/test-integration.sh, PG_PRELOAD); this group turns on
 * statement auditing with parameters (pgaudit.log = 'read,write',
 * pgaudit.log_parameter = on) and PostgreSQL's own statement log
 * (log_statement = 'all', which logs bound parameters too), drives every
 * route with table tokens (lookups, cached posts, revoked and expired
 * tokens), and then reads PostgreSQL's log: the digests are there, no token
 * and no secret is. Skipped, saying why, where pgaudit is not installed.
 */
#include "harness.h"
#include "tests.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROOM "t/alice/bob"

/* Set by the group setup: pgaudit is loaded by the suite's cluster. */
static bool pgaudit_loaded;

static int pgaudit_group_setup(void **state)
{
    (void)state;
    char *libs = db_text("SELECT current_setting('shared_preload_libraries')", 0, NULL);
    pgaudit_loaded = libs && strstr(libs, "pgaudit");
    free(libs);
    if (pgaudit_loaded)
        db_exec("CREATE EXTENSION IF NOT EXISTS pgaudit", 0, NULL);
    return group_start(NULL);
}

static char *pg_log_path(void)
{
    const char *dir = h_env("PG_DIR");
    if (!dir)
        return NULL;
    size_t len = strlen(dir) + sizeof "/log";
    char *path = malloc(len);
    snprintf(path, len, "%s/log", dir);
    return path;
}

/* Statement logging with parameters on (or back off) for every session,
 * the server's pooled ones included (they read it before their next
 * statement). */
static void statement_log(bool on)
{
    if (on) {
        db_exec("ALTER SYSTEM SET pgaudit.log = 'read,write'", 0, NULL);
        db_exec("ALTER SYSTEM SET pgaudit.log_parameter = on", 0, NULL);
        db_exec("ALTER SYSTEM SET log_statement = 'all'", 0, NULL);
    } else {
        db_exec("ALTER SYSTEM RESET pgaudit.log", 0, NULL);
        db_exec("ALTER SYSTEM RESET pgaudit.log_parameter", 0, NULL);
        db_exec("ALTER SYSTEM RESET log_statement", 0, NULL);
    }
    db_exec("SELECT pg_reload_conf()", 0, NULL);
    /* The postmaster passes the reload on asynchronously. */
    for (int i = 0; i < 50; i++) {
        char *v = db_text("SELECT current_setting('pgaudit.log')", 0, NULL);
        bool done = v && (strcmp(v, "read,write") == 0) == on;
        free(v);
        if (done)
            break;
        usleep(100 * 1000);
    }
    usleep(300 * 1000);
}

static void expect(resp_t *r, long status)
{
    assert_status(r, status);
    resp_free(r);
}

/* Every route that takes a token, with table tokens: new and cached, and
 * ones that stopped being valid. */
static void drive_every_route(void)
{
    const char *msg = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"hi\"}";
    expect(http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}", PFX "/auth/%s/rooms",
                     TOK_ALICE), 200);
    expect(http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM)), 200);
    for (int i = 0; i < 3; i++) {   /* the first looks the token up, the rest are cached */
        expect(http_post(msg, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM)), 200);
        expect(http_post(msg, PFX "/auth/%s/rooms/%s/messages", TOK_BOB, enc(ROOM)), 200);
    }
    expect(http_get(PFX "/auth/%s/rooms/%s", TOK_CAROL, enc(ROOM)), 401);
    expect(http_post(msg, PFX "/auth/%s/rooms/%s/messages", TOK_CAROL, enc(ROOM)), 401);
    expect(http_get(PFX "/auth/%s/rooms/%s", "tok-nobody-0d41", enc(ROOM)), 401);
    expect(http_post(msg, PFX "/auth/%s/rooms/%s/messages", "tok-nobody-0d41", enc(ROOM)), 401);
    /* alice's cached token revoked, bob's expired: without naming either */
    db_exec("DELETE FROM auth_tokens WHERE username = 'alice'", 0, NULL);
    db_exec("UPDATE auth_tokens SET expires_at = now() - interval '1 hour' "
            "WHERE username = 'bob'", 0, NULL);
    expect(http_post(msg, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM)), 401);
    expect(http_post(msg, PFX "/auth/%s/rooms/%s/messages", TOK_BOB, enc(ROOM)), 401);
    expect(http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}", PFX "/auth/%s/rooms",
                     TOK_BOB), 401);
    /* the secret and SECRET.name are never looked up, but try them too */
    expect(http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":2,"
                     "\"message\":\"E\"}", PFX "/auth/%s/system-messages", IT_SECRET), 200);
    expect(http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc(ROOM)), 200);
    expect(http_get(PFX "/auth/%s.alice/rooms/%s", IT_SECRET, enc(ROOM)), 200);
}

static void assert_absent(const char *log, const char *what)
{
    if (strstr(log, what)) {
        print_error("PostgreSQL's log holds '%s':\n%.2000s\n", what, strstr(log, what));
        fail();
    }
}

static void test_no_token_reaches_postgresql_logs(void **state)
{
    (void)state;
    if (!pgaudit_loaded) {
        print_message("pgaudit is not installed for this PostgreSQL "
                      "(apt-get install postgresql-15-pgaudit): test skipped\n");
        skip();
    }
    char *path = pg_log_path();
    assert_non_null(path);
    char *before = h_read_file(path);
    size_t offset = strlen(before);
    free(before);

    statement_log(true);
    drive_every_route();
    statement_log(false);

    char *all = h_read_file(path);
    const char *log = all + (strlen(all) >= offset ? offset : 0);
    /* auditing was on, with parameters: the room id is there */
    if (!strstr(log, "AUDIT: SESSION") || !strstr(log, ROOM))
        print_error("no pgaudit lines with parameters in %s:\n%.3000s\n", path, log);
    assert_non_null(strstr(log, "AUDIT: SESSION"));
    assert_non_null(strstr(log, ROOM));
    /* no token, no secret */
    assert_absent(log, TOK_ALICE);
    assert_absent(log, TOK_BOB);
    assert_absent(log, TOK_CAROL);
    assert_absent(log, "tok-nobody-0d41");
    assert_absent(log, IT_SECRET);
    /* tokens went as their digests */
    char *digest = db_text("SELECT encode(sha256('" TOK_ALICE "'::bytea), 'hex')", 0, NULL);
    assert_non_null(strstr(log, digest));
    free(digest);
    free(all);
    free(path);
}

/* The recipe of docs/operations.md ("Auditing the record with pgaudit"):
 * object auditing of the record through a role, DDL and role changes: a
 * search by a moderator, an attempt to change the record by hand and a
 * trigger disabled by its owner all leave an AUDIT line. */
static void test_pgaudit_recipe_records_who_touched_the_record(void **state)
{
    (void)state;
    if (!pgaudit_loaded) {
        print_message("pgaudit is not installed for this PostgreSQL "
                      "(apt-get install postgresql-15-pgaudit): test skipped\n");
        skip();
    }
    char *path = pg_log_path();
    char *before = h_read_file(path);
    size_t offset = strlen(before);
    free(before);
    db_exec("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chat_auditor') "
            "THEN CREATE ROLE chat_auditor NOLOGIN; END IF; END $$", 0, NULL);
    db_exec("GRANT SELECT, UPDATE, DELETE ON message_archive, message_archive_held, audit_log, "
            "legal_holds TO chat_auditor", 0, NULL);
    db_exec("ALTER SYSTEM SET pgaudit.role = 'chat_auditor'", 0, NULL);
    db_exec("ALTER SYSTEM SET pgaudit.log = 'ddl, role'", 0, NULL);
    db_exec("SELECT pg_reload_conf()", 0, NULL);
    usleep(500 * 1000);
    expect(http_get(PFX "/auth/" IT_SECRET "/archive/messages?user=alice"), 200);
    PGresult *res = PQexec(db(), "UPDATE message_archive SET message = 'forged'");
    PQclear(res);
    db_exec("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only", 0, NULL);
    db_exec("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only", 0, NULL);
    db_exec("ALTER SYSTEM RESET pgaudit.role", 0, NULL);
    db_exec("ALTER SYSTEM RESET pgaudit.log", 0, NULL);
    db_exec("SELECT pg_reload_conf()", 0, NULL);
    usleep(300 * 1000);
    char *all = h_read_file(path);
    const char *log = all + (strlen(all) >= offset ? offset : 0);
    static const char *const wanted[] = {
        "AUDIT: OBJECT,1,1,READ,SELECT,TABLE,public.message_archive",
        "AUDIT: OBJECT,1,1,WRITE,UPDATE,TABLE,public.message_archive",
        "AUDIT: SESSION,1,1,DDL,ALTER TABLE,TABLE,public.audit_log,ALTER TABLE audit_log DISABLE TRIGGER",
        "AUDIT: SESSION,2,1,DDL,ALTER TABLE,TABLE,public.audit_log,ALTER TABLE audit_log ENABLE TRIGGER",
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        /* statement numbers vary with the session: match what follows them */
        const char *w = wanted[i];
        const char *tail = strstr(w, ",READ,") ? strstr(w, ",READ,")
                         : strstr(w, ",WRITE,") ? strstr(w, ",WRITE,")
                                                : strstr(w, ",DDL,");
        if (!strstr(log, tail)) {
            const char *near = strstr(log, "audit_log DISABLE");
            print_error("no '%s' in PostgreSQL's log; near: %.400s\n", tail,
                        near ? (near - log > 200 ? near - 200 : log) : "(none)");
        }
        assert_non_null(strstr(log, tail));
    }
    free(all);
    free(path);
}

int run_pgaudit_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_no_token_reaches_postgresql_logs),
        T(test_pgaudit_recipe_records_who_touched_the_record),
    };
    return cmocka_run_group_tests_name("pgaudit", tests, pgaudit_group_setup,
                                       group_teardown_server);
}
