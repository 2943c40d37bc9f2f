/*
 * Migrations: every .down.sql undoes its .up.sql, and `migrate` rebuilds the
 * schema after them; the upgrade to 0004 keeps the messages stored before it
 * and the server renders them from their columns; the upgrade to 0008 puts
 * the messages already stored on record.
 *
 * The down files are read from MIGRATIONS_DIR (set by
 * scripts/test-integration.sh) and applied as an operator would, newest
 * first, each with its schema_migrations row deleted (docs/operations.md).
 */
#include "harness.h"
#include "tests.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROOM "chess/v1/alice/bob"

/* Whole text of migrations/NNNN_*.down.sql for VERSION; caller frees. */
static char *read_down_file(long version)
{
    const char *dir = h_env("MIGRATIONS_DIR");
    if (!dir)
        fail_msg("MIGRATIONS_DIR is not set");
    char prefix[16], path[1024] = "";
    snprintf(prefix, sizeof prefix, "%04ld_", version);
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && len > 9 &&
            strcmp(e->d_name + len - 9, ".down.sql") == 0)
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (!path[0])
        fail_msg("no %s*.down.sql in %s", prefix, dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

/* Applies the down migration of VERSION as an operator would. */
static void migrate_down(long version)
{
    char *sql = read_down_file(version);
    PGresult *r = PQexec(db(), sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("down migration %ld failed: %s", version, PQresultErrorMessage(r));
    PQclear(r);
    free(sql);
    char v[24];
    snprintf(v, sizeof v, "%ld", version);
    db_exec("DELETE FROM schema_migrations WHERE version = $1", PARAMS(v));
}

static void migrate_up(void)
{
    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "migrate", NULL }, NULL, 60, &out, &err);
    if (rc != 0)
        print_error("migrate: %s%s\n", out ? out : "", err ? err : "");
    free(out);
    free(err);
    assert_int_equal(rc, 0);
}

static long long latest_version(void)
{
    return db_long("SELECT max(version) FROM schema_migrations", 0, NULL);
}

static bool relation_exists(const char *name)
{
    return db_long("SELECT count(*) FROM pg_class WHERE relname = $1", PARAMS(name)) > 0;
}

/* Every down file, newest first, leaves no chat table behind; migrate then
 * builds a schema the server runs on. */
static void test_every_down_migration_undoes_its_up(void **state)
{
    (void)state;
    long long latest = latest_version();
    assert_true(latest >= 4);
    for (long v = (long)latest; v >= 1; v--)
        migrate_down(v);
    assert_int_equal(db_long("SELECT count(*) FROM schema_migrations", 0, NULL), 0);
    assert_false(relation_exists("rooms"));
    assert_false(relation_exists("messages"));
    assert_false(relation_exists("notification_outbox"));
    assert_int_equal(db_long("SELECT count(*) FROM pg_proc WHERE proname LIKE 'chat\\_%'", 0, NULL),
                     0);
    migrate_up();
    assert_int_equal(latest_version(), latest);
    db_token(TOK_ALICE, "alice", NULL);
    server_t *s = scoped_server(NULL);
    h_srv = s;
    api_create_room("{\"type\":\"chess/v1\",\"users\":[\"alice\",\"bob\"]}");
    api_post_msg(TOK_ALICE, ROOM, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"back\"}");
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    json_object *m = assert_room(r, ROOM, "chess/v1", USERS("alice", "bob"), 1);
    assert_msg(json_object_array_get_idx(m, 0), "1", "alice", "text", "back");
    resp_free(r);
}

/* A database at version 3 with messages, upgraded: the messages stay, with
 * no stored JSON, and come back exactly as posted. */
static void test_upgrade_to_0004_keeps_earlier_messages(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"chess/v1\",\"users\":[\"alice\",\"bob\"]}");
    api_post_msg(TOK_ALICE, ROOM, "{\"timestamp\":\"7\",\"type\":\"text\",\"message\":\"one\"}");
    api_post_msg(TOK_BOB, ROOM, "{\"timestamp\":2.50,\"type\":\"move\",\"message\":\"two\"}");
    resp_t *before = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    assert_int_equal(before->status, 200);
    for (long v = (long)latest_version(); v >= 4; v--)
        migrate_down(v);
    assert_int_equal(db_long("SELECT count(*) FROM information_schema.columns "
                             "WHERE table_name = 'messages' AND column_name = 'json_text'",
                             0, NULL), 0);
    migrate_up();
    assert_int_equal(db_long("SELECT count(*) FROM messages WHERE json_text IS NULL", 0, NULL), 2);
    server_t *s = scoped_server(NULL);
    h_srv = s;
    resp_t *after = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    assert_int_equal(after->status, 200);
    assert_string_equal(after->body, before->body);
    json_object *m = assert_room(after, ROOM, "chess/v1", USERS("alice", "bob"), 2);
    assert_msg(json_object_array_get_idx(m, 0), "2.50", "bob", "move", "two");
    assert_msg(json_object_array_get_idx(m, 1), "\"7\"", "alice", "text", "one");
    resp_free(before);
    resp_free(after);
}

/* A database at version 7 holding messages, upgraded: every message enters
 * the record with its id, storage time and exact JSON, and the history
 * route pages through them; then 0008's down file takes the record away. */
static void test_upgrade_to_0008_puts_earlier_messages_on_record(void **state)
{
    (void)state;
    for (long v = (long)latest_version(); v >= 8; v--)
        migrate_down(v);
    assert_false(relation_exists("message_archive"));
    db_exec("INSERT INTO rooms (id, type, expires_at, created_at) VALUES ($1, 'chess/v1', "
            "now() + interval '1 day', now() - interval '40 days')", PARAMS(ROOM));
    db_exec("INSERT INTO room_users VALUES ($1, 'alice'), ($1, 'bob')", PARAMS(ROOM));
    db_exec("INSERT INTO messages (room_id, seq, ts, ts_is_string, sender, type, message, "
            "json_text, created_at) VALUES "
            "($1, 1, '1', false, 'alice', 'text', 'first', "
            "'{\"timestamp\":1,\"from\":\"alice\",\"type\":\"text\",\"message\":\"first\"}', "
            "now() - interval '35 days'), "
            "($1, 2, '2', true, 'bob', 'text', 'second', NULL, now() - interval '1 day')",
            PARAMS(ROOM));
    migrate_up();
    assert_int_equal(db_long("SELECT count(*) FROM message_archive a JOIN messages m "
                             "ON m.id = a.id AND m.room_id = a.room_id "
                             "AND a.stored_at = m.created_at", 0, NULL), 2);
    assert_int_equal(db_long("SELECT count(*) FROM message_archive WHERE message = 'first' "
                             "AND json_text IS NOT NULL", 0, NULL), 1);
    server_t *s = scoped_server(NULL);
    h_srv = s;
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    assert_status(r, 200);
    json_object *msgs = json_object_object_get(resp_json(r), "messages");
    assert_int_equal(json_object_array_length(msgs), 2);
    json_object *newest = json_object_array_get_idx(msgs, 0);
    assert_string_equal(json_object_get_string(json_object_object_get(newest, "timestamp")), "2");
    assert_string_equal(json_object_get_string(json_object_object_get(newest, "message")),
                        "second");
    resp_free(r);
    for (long v = (long)latest_version(); v >= 8; v--)
        migrate_down(v);
    assert_false(relation_exists("message_archive"));
    assert_false(relation_exists("audit_log"));
    assert_int_equal(db_long("SELECT count(*) FROM information_schema.columns "
                             "WHERE table_name = 'messages' AND column_name = 'id'", 0, NULL), 0);
    migrate_up();
}

/* Posts to a room update its row in place (HOT): no index holds a column
 * that a post changes (0005), so the room row's indexes do not grow with
 * every message. */
static void test_posts_update_their_room_without_index_entries(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"chess/v1\",\"users\":[\"alice\",\"bob\"]}");
    PQclear(db_query("SELECT pg_stat_reset_single_table_counters('rooms'::regclass)", 0, NULL));
    for (int i = 0; i < 50; i++)
        api_post_msg(TOK_ALICE, ROOM, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}");
    /* Backends report their counts at most every second, and an idle one
     * up to 10 s late: wait for ours, and allow for a few late reports of
     * earlier tests' updates among them. */
    long long updates = 0, hot = 0;
    for (int i = 0; i < 150 && updates < 50; i++) {
        PQclear(db_query("SELECT pg_stat_clear_snapshot()", 0, NULL));
        updates = db_long("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'rooms'",
                          0, NULL);
        hot = db_long("SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'rooms'",
                      0, NULL);
        if (updates < 50)
            usleep(100 * 1000);
    }
    assert_true(updates >= 50);
    /* A post that moves expires_hour, or one that finds its page full, is
     * not HOT: nearly all of them are (none were before 0005). */
    if (hot * 10 < updates * 9)
        print_error("only %lld of %lld room updates were HOT\n", hot, updates);
    assert_true(hot * 10 >= updates * 9);
}

int run_migrations_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_every_down_migration_undoes_its_up),
        T(test_upgrade_to_0004_keeps_earlier_messages),
        T(test_upgrade_to_0008_puts_earlier_messages_on_record),
        T(test_posts_update_their_room_without_index_entries),
    };
    return cmocka_run_group_tests_name("migrations", tests, group_setup_default,
                                       group_teardown_server);
}
