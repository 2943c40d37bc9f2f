/*
 * `ganomede-chat import-redis`: the original's chat Redis, seeded in its
 * exact key formats (room-manager.ts: "<prefix>:<roomId>" holding
 * JSON.stringify(room) with a PX TTL; redis-capped-list.ts:
 * "<prefix>:<roomId>:messages", LPUSHed JSON, newest first), copied into
 * PostgreSQL; afterwards GET room answers what the original answered,
 * room by room, message text byte for byte.
 */
#include "harness.h"
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char url[64];

static const char *redis_url(void)
{
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", h_redis_port());
    return url;
}

/* A room as the original writes it: the room key (TTL in ms) and its
 * messages, given oldest first and LPUSHed as the original does. */
static void original_room(const char *prefix, const char *id, const char *room_json,
                          const char *ttl_ms, const char *const *messages, size_t n)
{
    char key[512], list[600];
    snprintf(key, sizeof key, "%s:%s", prefix, id);
    snprintf(list, sizeof list, "%s:messages", key);
    REDIS("SET", key, room_json, "PX", ttl_ms);
    for (size_t i = 0; i < n; i++)
        REDIS("LPUSH", list, messages[i]);
}

/* What the original answers for GET room: the room's fields, then its
 * list as stored (LRANGE 0 -1, newest first). */
static void assert_answers_as_original(const char *id, const char *type, const char *users,
                                       const char *const *messages, size_t n)
{
    resp_t *r = http_get(PFX "/auth/" IT_SECRET "/rooms/%s", enc(id));
    assert_status(r, 200);
    char want[8192];
    json_object *jid = json_object_new_string(id), *jtype = json_object_new_string(type);
    int o = snprintf(want, sizeof want, "{\"id\":%s,\"type\":%s,\"users\":%s,\"messages\":[",
                     json_object_to_json_string_ext(jid, JSON_C_TO_STRING_NOSLASHESCAPE),
                     json_object_to_json_string_ext(jtype, JSON_C_TO_STRING_NOSLASHESCAPE), users);
    json_object_put(jid);
    json_object_put(jtype);
    for (size_t i = n; i-- > 0;)
        o += snprintf(want + o, sizeof want - (size_t)o, "%s%s", messages[i], i ? "," : "");
    snprintf(want + o, sizeof want - (size_t)o, "]}");
    if (strcmp(r->body, want) != 0)
        fail_msg("GET room %s\n  got  %s\n  want %s", id, r->body, want);
    resp_free(r);
}

static const char *const CHESS_MSGS[] = {
    "{\"timestamp\":1429084016939,\"from\":\"alice\",\"type\":\"text\",\"message\":\"Hey bob!\"}",
    "{\"timestamp\":\"1429084016940\",\"from\":\"bob\",\"type\":\"text\",\"message\":\"string ts\"}",
    "{\"from\":\"$$\",\"type\":\"event\",\"timestamp\":1.5,\"message\":\"ALICE_LEFT\"}",
    "{\"timestamp\":3,\"from\":\"bob\",\"type\":\"text\",\"message\":\"h\\u00e9llo \\ud83c\\udfb2 \xe2\x99\x9f \\\"q\\\"\"}",
};
static const char *const UNI_MSGS[] = {
    "{\"timestamp\":1,\"from\":\"\xc3\xa9lodie\",\"type\":\"text\",\"message\":\"\xe6\x97\xa5\xe6\x9c\xac\"}",
};

static void seed_original(void)
{
    original_room("chat/v1", "chess/v1/alice/bob",
                  "{\"type\":\"chess/v1\",\"users\":[\"alice\",\"bob\"],\"id\":\"chess/v1/alice/bob\"}",
                  "5184000000", CHESS_MSGS, 4);
    original_room("chat/v1", "t/zo\xc3\xa9/\xc3\xa9lodie",
                  "{\"type\":\"t\",\"users\":[\"zo\xc3\xa9\",\"\xc3\xa9lodie\"],"
                  "\"id\":\"t/zo\xc3\xa9/\xc3\xa9lodie\"}",
                  "86400000", UNI_MSGS, 1);
    /* About to expire: 1.5 s left. */
    original_room("chat/v1", "t/carol/dan",
                  "{\"type\":\"t\",\"users\":[\"carol\",\"dan\"],\"id\":\"t/carol/dan\"}", "1500",
                  NULL, 0);
    /* No messages yet. */
    original_room("chat/v1", "t/erin/frank",
                  "{\"type\":\"t\",\"users\":[\"erin\",\"frank\"],\"id\":\"t/erin/frank\"}",
                  "86400000", NULL, 0);
    /* An orphan list: the original expired the room key, never its list. */
    REDIS("LPUSH", "chat/v1:t/gone/away:messages",
          "{\"timestamp\":1,\"from\":\"gone\",\"type\":\"text\",\"message\":\"orphan\"}");
    /* Not this service's: another prefix, and a room key that is no room. */
    REDIS("SET", "chat/v2:t/x/y", "{\"type\":\"t\",\"users\":[\"x\",\"y\"]}");
    REDIS("SET", "chat/v1:t/broken", "not json");
}

static char *run_import(const char *const *extra, int expect_rc)
{
    char *out = NULL, *err = NULL;
    const char *args[4] = { "import-redis", NULL, NULL, NULL };
    size_t n = 1;
    for (size_t i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    int rc = run_chat(args, NULL, 120, &out, &err);
    if (rc != expect_rc)
        fail_msg("import-redis exited %d, want %d\nstdout:\n%s\nstderr:\n%s", rc, expect_rc, out,
                 err);
    free(err);
    return out;
}

static void test_import_answers_as_the_original(void **state)
{
    (void)state;
    seed_original();
    char *out = run_import(OVERRIDES(redis_url()), 0);
    assert_non_null(strstr(out, "rooms: 4 imported, 0 already here"));
    assert_non_null(strstr(out, "1 invalid"));
    assert_non_null(strstr(out, "messages: 5 imported, 0 invalid"));
    assert_non_null(strstr(out, "not imported): 1\n  chat/v1:t/gone/away:messages"));
    free(out);

    assert_answers_as_original("chess/v1/alice/bob", "chess/v1", "[\"alice\",\"bob\"]",
                               CHESS_MSGS, 4);
    assert_answers_as_original("t/zo\xc3\xa9/\xc3\xa9lodie", "t",
                               "[\"zo\xc3\xa9\",\"\xc3\xa9lodie\"]", UNI_MSGS, 1);
    assert_answers_as_original("t/erin/frank", "t", "[\"erin\",\"frank\"]", NULL, 0);
    assert_false(db_room_exists("t/gone/away"));
    assert_false(db_room_exists("t/x/y"));
    /* Each room keeps its remaining life; string timestamps stay strings. */
    assert_int_equal(db_long("SELECT count(*) FROM rooms WHERE id = 't/carol/dan' "
                             "AND expires_at < now() + interval '3 s'", 0, NULL), 1);
    assert_int_equal(db_long("SELECT count(*) FROM rooms WHERE id = 'chess/v1/alice/bob' "
                             "AND expires_at > now() + interval '59 days'", 0, NULL), 1);
    assert_int_equal(db_long("SELECT count(*) FROM messages WHERE ts_is_string", 0, NULL), 1);
    /* Imported messages are on record, and members read them as history. */
    assert_int_equal(db_long("SELECT count(*) FROM message_record", 0, NULL), 5);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s/messages", TOK_BOB, enc("chess/v1/alice/bob"));
    assert_status(r, 200);
    assert_int_equal(json_object_array_length(json_object_object_get(resp_json(r), "messages")),
                     4);
    resp_free(r);
    /* A post goes on after the imported ones. */
    api_post_msg(TOK_ALICE, "chess/v1/alice/bob",
                 "{\"timestamp\":5,\"type\":\"text\",\"message\":\"after\"}");
    r = http_get(PFX "/auth/" IT_SECRET "/rooms/%s", enc("chess/v1/alice/bob"));
    json_object *msgs = assert_room(r, "chess/v1/alice/bob", "chess/v1", USERS("alice", "bob"), 5);
    assert_msg(json_object_array_get_idx(msgs, 0), "5", "alice", "text", "after");
    resp_free(r);
    usleep(2000 * 1000);   /* the room about to expire has expired */
    r = http_get(PFX "/auth/" IT_SECRET "/rooms/%s", enc("t/carol/dan"));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
}

static void test_second_run_changes_nothing(void **state)
{
    (void)state;
    seed_original();
    free(run_import(OVERRIDES(redis_url()), 0));
    char *before = db_text("SELECT string_agg(room_id || seq || json_text || id, ',' "
                           "ORDER BY room_id, seq) FROM messages", 0, NULL);
    long long snap[3], again[3];
    db_snapshot(snap);
    char *out = run_import(OVERRIDES(redis_url()), 0);
    assert_non_null(strstr(out, "rooms: 0 imported, 4 already here"));
    assert_non_null(strstr(out, "messages: 0 imported"));
    free(out);
    db_snapshot(again);
    assert_memory_equal(snap, again, sizeof snap);
    char *after = db_text("SELECT string_agg(room_id || seq || json_text || id, ',' "
                          "ORDER BY room_id, seq) FROM messages", 0, NULL);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(db_long("SELECT count(*) FROM message_record", 0, NULL), 5);
}

static void test_dry_run_writes_nothing(void **state)
{
    (void)state;
    seed_original();
    char *out = run_import(OVERRIDES("--dry-run", redis_url()), 0);
    assert_non_null(strstr(out, "dry run, nothing written"));
    assert_non_null(strstr(out, "rooms: 4 would be imported"));
    assert_non_null(strstr(out, "messages: 5 would be imported"));
    free(out);
    assert_int_equal(db_count_rooms(), 0);
}

/* ROUTE_PREFIX names the keys, as the issue asks; --prefix names them when
 * it is not (the original used its package's "chat/v1" whatever
 * ROUTE_PREFIX said). */
static void test_prefix_follows_route_prefix(void **state)
{
    (void)state;
    seed_original();
    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "import-redis", redis_url(), NULL },
                      OVERRIDES("ROUTE_PREFIX=chat/v2"), 60, &out, &err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "rooms: 1 imported"));
    free(out);
    free(err);
    assert_true(db_room_exists("t/x/y"));
    assert_false(db_room_exists("chess/v1/alice/bob"));
    rc = run_chat((const char *const[]){ "import-redis", "--prefix", "chat/v1", redis_url(), NULL },
                  OVERRIDES("ROUTE_PREFIX=chat/v2"), 60, &out, &err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "rooms: 4 imported"));
    free(out);
    free(err);
    assert_true(db_room_exists("chess/v1/alice/bob"));
}

/* Killed half-way (each batch is one transaction), then run again: every
 * room once, with all its messages. */
static void test_interrupted_import_completes_on_the_next_run(void **state)
{
    (void)state;
    REDIS("EVAL",
          "for i = 1, tonumber(ARGV[1]) do "
          "  local id = 'big/a' .. i .. '/b' .. i "
          "  redis.call('SET', 'chat/v1:' .. id, cjson.encode({type = 'big', "
          "    users = {'a' .. i, 'b' .. i}, id = id}), 'PX', 86400000) "
          "  for k = 1, 10 do "
          "    redis.call('LPUSH', 'chat/v1:' .. id .. ':messages', "
          "      '{\"timestamp\":' .. k .. ',\"from\":\"a' .. i .. '\",\"type\":\"text\","
          "\"message\":\"m' .. k .. '\"}') "
          "  end "
          "end",
          "0", "20000");
    char *out = NULL, *err = NULL;
    (void)run_program(h_env("CHAT_BIN"), (const char *const[]){ "import-redis", redis_url(), NULL },
                      NULL, 400, true, &out, &err);
    free(out);
    free(err);
    long long part = db_count_rooms();
    print_message("interrupted after %lld of 20000 rooms\n", part);
    assert_true(part < 20000);
    out = run_import(OVERRIDES(redis_url()), 0);
    free(out);
    assert_int_equal(db_count_rooms(), 20000);
    assert_int_equal(db_long("SELECT count(*) FROM messages", 0, NULL), 200000);
    assert_int_equal(db_long("SELECT count(*) FROM message_record", 0, NULL), 200000);
    assert_int_equal(db_long("SELECT count(*) FROM (SELECT room_id FROM messages "
                             "GROUP BY room_id HAVING count(*) <> 10 OR max(seq) <> 10) x",
                             0, NULL), 0);
}

static void test_bad_source_is_a_clear_error(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "import-redis", "http://x", NULL }, NULL, 30, &out,
                      &err);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "redis:// URL"));
    free(out);
    free(err);
    char dead[64];
    snprintf(dead, sizeof dead, "redis://127.0.0.1:%d", h_free_port());
    rc = run_chat((const char *const[]){ "import-redis", dead, NULL }, NULL, 30, &out, &err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "cannot connect"));
    free(out);
    free(err);
}

int run_import_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_import_answers_as_the_original),
        T(test_second_run_changes_nothing),
        T(test_dry_run_writes_nothing),
        T(test_prefix_follows_route_prefix),
        T(test_interrupted_import_completes_on_the_next_run),
        T(test_bad_source_is_a_clear_error),
    };
    return cmocka_run_group_tests_name("import", tests, group_setup_default,
                                       group_teardown_server);
}
