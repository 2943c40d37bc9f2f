/*
 * POST messages and system-messages: what is stored, timestamps that round
 * trip exactly, every 400/401/403/404, the mute; then trimming to
 * MAX_MESSAGES, alone and under 40 concurrent writers.
 */
#include "harness.h"
#include "tests.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ROOM "triominos/v1/alice/bob"
static const char *const ROOM_BODY = "{\"type\":\"triominos/v1\",\"users\":[\"alice\",\"bob\"]}";

static resp_t *post_to_room(const char *token, const char *body)
{
    return http_post(body, PFX "/auth/%s/rooms/%s/messages", token, enc(ROOM));
}

static resp_t *get_room(const char *token)
{
    return http_get(PFX "/auth/%s/rooms/%s", token, enc(ROOM));
}

/* ---- storing ---------------------------------------------------------- */

static void test_post_message_stores_it_and_answers_empty_200(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    resp_t *r = post_to_room(TOK_ALICE, "{\"timestamp\":1429084016939,\"type\":\"text\","
                                        "\"message\":\"Hey bob!\"}");
    assert_empty_ok(r);
    assert_header(r, "x-request-id");
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 1);
    r = get_room(TOK_BOB);
    json_object *m = assert_room(r, ROOM, "triominos/v1", USERS("alice", "bob"), 1);
    assert_msg(json_object_array_get_idx(m, 0), "1429084016939", "alice", "text", "Hey bob!");
    resp_free(r);
}

static void test_post_message_keeps_only_timestamp_from_type_message(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    resp_t *r = post_to_room(TOK_ALICE,
                             "{\"timestamp\":5,\"type\":\"text\",\"message\":\"m\","
                             "\"from\":\"mallory\",\"id\":\"x1\",\"roomId\":\"other\","
                             "\"push\":{\"app\":\"triominos/v1\",\"title\":[\"a\"]},"
                             "\"extra\":42}");
    assert_empty_ok(r);
    resp_free(r);
    r = get_room(TOK_ALICE);
    json_object *m = assert_room(r, ROOM, "triominos/v1", USERS("alice", "bob"), 1);
    /* assert_msg checks there are exactly four keys */
    assert_msg(json_object_array_get_idx(m, 0), "5", "alice", "text", "m");
    resp_free(r);
}

static void test_timestamp_round_trips_exactly(void **state)
{
    (void)state;
    static const char *const sent[] = {
        "1429084016939", "9007199254740992", "\"1429084016939\"", "1.5",
        "0", "-5", "\"1.5\"", "1429084016939.25",
    };
    size_t n = sizeof sent / sizeof sent[0];
    char body[256];
    api_create_room(ROOM_BODY);
    for (size_t i = 0; i < n; i++) {
        snprintf(body, sizeof body, "{\"timestamp\":%s,\"type\":\"text\",\"message\":\"m%zu\"}",
                 sent[i], i);
        resp_t *r = post_to_room(TOK_ALICE, body);
        if (r->status != 200)
            print_error("timestamp %s refused\n", sent[i]);
        assert_empty_ok(r);
        resp_free(r);
    }
    resp_t *r = get_room(TOK_ALICE);
    json_object *m = assert_room(r, ROOM, "triominos/v1", USERS("alice", "bob"), n);
    for (size_t i = 0; i < n; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%zu", i);
        json_object *msg = json_object_array_get_idx(m, n - 1 - i);
        assert_msg(msg, sent[i], "alice", "text", text);
        json_object *ts = json_object_object_get(msg, "timestamp");
        if (sent[i][0] == '"')
            assert_true(json_object_is_type(ts, json_type_string));
        else
            assert_false(json_object_is_type(ts, json_type_string));
    }
    /* the raw text, not just an equal double */
    assert_non_null(strstr(r->body, "9007199254740992"));
    assert_non_null(strstr(r->body, "\"1429084016939\""));
    resp_free(r);
}

/* Each message keeps its JSON (messages.json_text, migration 0004) and a
 * read sends it as stored; rows from before 0004 have none and are rendered
 * from their columns: both ways must give the same bytes. */
static void test_stored_json_and_rendered_columns_give_the_same_room(void **state)
{
    (void)state;
    static const char *const sent[] = {
        "1429084016939", "\"1429084016939\"", "1.5e3", "-5", "9007199254740993",
    };
    size_t n = sizeof sent / sizeof sent[0];
    char body[256];
    api_create_room(ROOM_BODY);
    for (size_t i = 0; i < n; i++) {
        snprintf(body, sizeof body,
                 "{\"timestamp\":%s,\"type\":\"t\\\"q\",\"message\":\"h\u00e9 / \\n%zu\"}",
                 sent[i], i);
        resp_t *r = post_to_room(TOK_ALICE, body);
        assert_empty_ok(r);
        resp_free(r);
    }
    const char *params[] = { ROOM };
    char *stored = db_text("SELECT json_text FROM messages WHERE room_id = $1 ORDER BY seq LIMIT 1",
                           1, params);
    assert_string_equal(stored, "{\"timestamp\":1429084016939,\"from\":\"alice\",\"type\":"
                                "\"t\\\"q\",\"message\":\"h\u00e9 / \\n0\"}");
    free(stored);
    resp_t *before = get_room(TOK_ALICE);
    assert_int_equal(before->status, 200);
    db_exec("UPDATE messages SET json_text = NULL WHERE room_id = $1 AND seq % 2 = 0", 1, params);
    assert_int_equal(db_long("SELECT count(*) FROM messages WHERE room_id = $1 AND json_text IS NULL",
                             1, params), 2);
    resp_t *after = get_room(TOK_ALICE);
    assert_int_equal(after->status, 200);
    assert_string_equal(after->body, before->body);
    assert_room(after, ROOM, "triominos/v1", USERS("alice", "bob"), n);
    resp_free(before);
    resp_free(after);
}

static void check_bad_message_bodies(const char *const *bodies, const char *want)
{
    for (size_t i = 0; bodies[i]; i++) {
        resp_t *r = post_to_room(TOK_ALICE, bodies[i]);
        if (r->status != 400)
            print_error("body: %s\n", bodies[i]);
        assert_error(r, 400, "BadRequest", want);
        resp_free(r);
    }
    assert_int_equal(db_count_messages(ROOM), 0);
}

static void test_bad_timestamp_is_400_bad_timestamp(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    static const char *const bodies[] = {
        "{\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":null,\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":true,\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":false,\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":\"abc\",\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":\"\",\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":\"12abc\",\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":\"NaN\",\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":\"Infinity\",\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":{},\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":[],\"type\":\"text\",\"message\":\"m\"}",
        "{\"timestamp\":[1],\"type\":\"text\",\"message\":\"m\"}",
        NULL
    };
    check_bad_message_bodies(bodies, "bad timestamp");
}

static void test_bad_type_is_400_bad_type(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    static const char *const bodies[] = {
        "{\"timestamp\":1,\"message\":\"m\"}",
        "{\"timestamp\":1,\"type\":\"\",\"message\":\"m\"}",
        "{\"timestamp\":1,\"type\":5,\"message\":\"m\"}",
        "{\"timestamp\":1,\"type\":null,\"message\":\"m\"}",
        "{\"timestamp\":1,\"type\":true,\"message\":\"m\"}",
        "{\"timestamp\":1,\"type\":{},\"message\":\"m\"}",
        "{\"timestamp\":1,\"type\":[\"text\"],\"message\":\"m\"}",
        NULL
    };
    check_bad_message_bodies(bodies, "bad type");
}

static void test_bad_message_is_400_bad_message(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    static const char *const bodies[] = {
        "{\"timestamp\":1,\"type\":\"text\"}",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":\"\"}",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":5}",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":null}",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":false}",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":{\"a\":1}}",
        "{\"timestamp\":1,\"type\":\"text\",\"message\":[\"m\"]}",
        NULL
    };
    check_bad_message_bodies(bodies, "bad message");
}

static void test_message_body_not_an_object_is_400(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    static const char *const bodies[] = { "[]", "\"x\"", "5", "true", "null",
                                          "[{\"timestamp\":1,\"type\":\"t\",\"message\":\"m\"}]",
                                          NULL };
    check_bad_message_bodies(bodies, NULL);
}

/* ---- refusals --------------------------------------------------------- */

static void test_post_message_invalid_token_is_401(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    resp_t *r = post_to_room("bad-token", "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}");
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 0);
}

static void test_post_message_non_member_is_401(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    resp_t *r = post_to_room(TOK_CAROL, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}");
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 0);
}

static void test_post_message_banned_sender_is_403(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    db_meta("alice", "$banned", "1429084016939");
    resp_t *r = post_to_room(TOK_ALICE, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}");
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 0);
    /* bob is not banned */
    api_post_msg(TOK_BOB, ROOM, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}");
}

static void test_post_message_chat_disabled_sender_is_403(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    db_meta("alice", "$chatdisabled", "true");
    resp_t *r = post_to_room(TOK_ALICE, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}");
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 0);
}

static void test_post_message_missing_room_is_404(void **state)
{
    (void)state;
    resp_t *r = post_to_room(TOK_ALICE, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}");
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    r = post_to_room(IT_SECRET, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}");
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);
    assert_int_equal(db_long("SELECT count(*) FROM messages", 0, NULL), 0);
}

static void test_muted_sender_gets_200_but_nothing_is_stored(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    db_meta("alice", "$muted", "true");
    resp_t *r = post_to_room(TOK_ALICE, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"shh\"}");
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 0);
    r = get_room(TOK_ALICE);
    assert_room(r, ROOM, "triominos/v1", USERS("alice", "bob"), 0);
    resp_free(r);
}

/* ---- system messages ---------------------------------------------------- */

static void test_system_message_creates_room_and_appends_event(void **state)
{
    (void)state;
    resp_t *r = http_post("{\"type\":\"triominos/v1\",\"users\":[\"bob\",\"alice\"],"
                          "\"timestamp\":1429084016939,\"message\":\"ALICE_DISCONNECTED\"}",
                          PFX "/auth/%s/system-messages", IT_SECRET);
    assert_empty_ok(r);
    assert_header(r, "x-request-id");
    resp_free(r);
    assert_true(db_room_exists(ROOM));
    r = get_room(TOK_BOB);
    json_object *m = assert_room(r, ROOM, "triominos/v1", USERS("alice", "bob"), 1);
    assert_msg(json_object_array_get_idx(m, 0), "1429084016939", "$$", "event",
               "ALICE_DISCONNECTED");
    resp_free(r);
}

static void test_system_message_appends_to_existing_room(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    api_post_msg(TOK_ALICE, ROOM, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"gg\"}");
    resp_t *r = http_post("{\"type\":\"triominos/v1\",\"users\":[\"alice\",\"bob\"],"
                          "\"timestamp\":\"2\",\"message\":\"BOB_LEFT\","
                          "\"from\":\"mallory\",\"extra\":1}",
                          PFX "/auth/%s/system-messages", IT_SECRET);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_rooms(), 1);
    r = get_room(TOK_ALICE);
    json_object *m = assert_room(r, ROOM, "triominos/v1", USERS("alice", "bob"), 2);
    assert_msg(json_object_array_get_idx(m, 0), "\"2\"", "$$", "event", "BOB_LEFT");
    assert_msg(json_object_array_get_idx(m, 1), "1", "alice", "text", "gg");
    resp_free(r);
}

static void test_system_message_bad_body_is_400(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"users\":[\"alice\",\"bob\"],\"timestamp\":1,\"message\":\"E\"}",
        "{\"type\":\"\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,\"message\":\"E\"}",
        "{\"type\":7,\"users\":[\"alice\",\"bob\"],\"timestamp\":1,\"message\":\"E\"}",
        "{\"type\":\"t\",\"timestamp\":1,\"message\":\"E\"}",
        "{\"type\":\"t\",\"users\":[],\"timestamp\":1,\"message\":\"E\"}",
        "{\"type\":\"t\",\"users\":\"alice\",\"timestamp\":1,\"message\":\"E\"}",
        "{\"type\":\"t\",\"users\":[\"alice\",3],\"timestamp\":1,\"message\":\"E\"}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"\"],\"timestamp\":1,\"message\":\"E\"}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"message\":\"E\"}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":\"x\",\"message\":\"E\"}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":true,\"message\":\"E\"}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,\"message\":\"\"}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,\"message\":9}",
        "[]",
        "\"x\"",
        NULL
    };
    for (size_t i = 0; bodies[i]; i++) {
        resp_t *r = http_post(bodies[i], PFX "/auth/%s/system-messages", IT_SECRET);
        if (r->status != 400)
            print_error("body: %s\n", bodies[i]);
        assert_error(r, 400, "BadRequest", NULL);
        resp_free(r);
    }
    assert_int_equal(db_count_rooms(), 0);
    assert_int_equal(db_long("SELECT count(*) FROM messages", 0, NULL), 0);
}

int run_messages_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_post_message_stores_it_and_answers_empty_200),
        T(test_post_message_keeps_only_timestamp_from_type_message),
        T(test_timestamp_round_trips_exactly),
        T(test_stored_json_and_rendered_columns_give_the_same_room),
        T(test_bad_timestamp_is_400_bad_timestamp),
        T(test_bad_type_is_400_bad_type),
        T(test_bad_message_is_400_bad_message),
        T(test_message_body_not_an_object_is_400),
        T(test_post_message_invalid_token_is_401),
        T(test_post_message_non_member_is_401),
        T(test_post_message_banned_sender_is_403),
        T(test_post_message_chat_disabled_sender_is_403),
        T(test_post_message_missing_room_is_404),
        T(test_muted_sender_gets_200_but_nothing_is_stored),
        T(test_system_message_creates_room_and_appends_event),
        T(test_system_message_appends_to_existing_room),
        T(test_system_message_bad_body_is_400),
    };
    return cmocka_run_group_tests_name("messages", tests, group_setup_default,
                                       group_teardown_server);
}

/* ---- trimming (server with MAX_MESSAGES=5) ------------------------------- */

#define CAP 5

static int trim_group_setup(void **state)
{
    (void)state;
    return group_start(OVERRIDES("MAX_MESSAGES=5"));
}

/* Checks GET and the table agree: the newest CAP messages, newest first. */
static void check_room_holds(const char *const *texts_newest_first, size_t n)
{
    resp_t *r = get_room(TOK_ALICE);
    json_object *m = assert_room(r, ROOM, "triominos/v1", USERS("alice", "bob"), n);
    for (size_t i = 0; i < n; i++) {
        json_object *msg = json_object_array_get_idx(m, i);
        assert_json_str(msg, "message", texts_newest_first[i]);
    }
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), (long long)n);
}

static void test_messages_are_trimmed_to_max_messages(void **state)
{
    (void)state;
    char body[128];
    api_create_room(ROOM_BODY);
    for (int i = 1; i <= 8; i++) {
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"m%d\"}",
                 i, i);
        api_post_msg(i % 2 ? TOK_ALICE : TOK_BOB, ROOM, body);
    }
    check_room_holds((const char *const[]){ "m8", "m7", "m6", "m5", "m4" }, CAP);
    resp_t *r = get_room(TOK_ALICE);
    json_object *m = json_object_object_get(resp_json(r), "messages");
    assert_msg(json_object_array_get_idx(m, 0), "8", "bob", "text", "m8");
    assert_msg(json_object_array_get_idx(m, 4), "4", "bob", "text", "m4");
    resp_free(r);
    /* creating the room again returns the same five */
    r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", TOK_ALICE);
    m = assert_room(r, ROOM, "triominos/v1", USERS("alice", "bob"), CAP);
    assert_json_str(json_object_array_get_idx(m, 0), "message", "m8");
    assert_json_str(json_object_array_get_idx(m, 4), "message", "m4");
    resp_free(r);
}

static void test_system_messages_count_toward_the_cap(void **state)
{
    (void)state;
    char body[256];
    api_create_room(ROOM_BODY);
    for (int i = 1; i <= 4; i++) {
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"u%d\"}", i, i);
        api_post_msg(TOK_ALICE, ROOM, body);
    }
    for (int i = 1; i <= 3; i++) {
        snprintf(body, sizeof body, "{\"type\":\"triominos/v1\",\"users\":[\"alice\",\"bob\"],"
                 "\"timestamp\":%d,\"message\":\"s%d\"}", 10 + i, i);
        resp_t *r = http_post(body, PFX "/auth/%s/system-messages", IT_SECRET);
        assert_empty_ok(r);
        resp_free(r);
    }
    check_room_holds((const char *const[]){ "s3", "s2", "s1", "u4", "u3" }, CAP);
}

#define WRITERS 40

typedef struct writer {
    int index;
    pthread_barrier_t *barrier;
    long status;
    char error[512];
} writer_t;

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    char body[128], path[256];
    snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"c%02d\"}",
             w->index, w->index);
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s/messages",
             w->index % 2 ? TOK_ALICE : TOK_BOB, "triominos%2Fv1%2Falice%2Fbob");
    req_t q = { .method = "POST", .path = path, .body = body, .timeout_ms = 30000 };
    pthread_barrier_wait(w->barrier);
    resp_t *r = http_do(&q);
    w->status = r->status;
    snprintf(w->error, sizeof w->error, "%.250s %.200s", r->error, r->body);
    resp_free(r);
    return NULL;
}

static void test_concurrent_posts_keep_exactly_max_messages(void **state)
{
    (void)state;
    pthread_t th[WRITERS];
    writer_t w[WRITERS];
    pthread_barrier_t barrier;

    api_create_room(ROOM_BODY);
    pthread_barrier_init(&barrier, NULL, WRITERS);
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer_t){ .index = i, .barrier = &barrier };
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);

    int failed = 0;
    for (int i = 0; i < WRITERS; i++)
        if (w[i].status != 200) {
            print_error("writer %d: status %ld: %s\n", i, w[i].status, w[i].error);
            failed++;
        }
    assert_int_equal(failed, 0);

    assert_int_equal(db_count_messages(ROOM), CAP);
    /* the survivors are the CAP newest in commit (seq) order */
    PGresult *res = db_query("SELECT seq, message FROM messages WHERE room_id = $1 "
                             "ORDER BY seq DESC", PARAMS(ROOM));
    assert_int_equal(PQntuples(res), CAP);
    long long seqs[CAP];
    char *texts[CAP];
    for (int i = 0; i < CAP; i++) {
        seqs[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        texts[i] = strdup(PQgetvalue(res, i, 1));
    }
    PQclear(res);
    long long last_seq = db_long("SELECT last_seq FROM rooms WHERE id = $1", PARAMS(ROOM));
    if (seqs[0] != last_seq)
        print_error("newest remaining seq %lld but rooms.last_seq %lld\n", seqs[0], last_seq);
    assert_int_equal(seqs[0], last_seq);
    for (int i = 1; i < CAP; i++) {
        if (seqs[i] != seqs[i - 1] - 1)
            print_error("remaining seqs not the newest run: %lld after %lld\n", seqs[i], seqs[i - 1]);
        assert_int_equal(seqs[i], seqs[i - 1] - 1);
    }
    /* every writer took a sequence number */
    assert_true(last_seq >= WRITERS);

    resp_t *r = get_room(TOK_ALICE);
    json_object *m = assert_room(r, ROOM, "triominos/v1", USERS("alice", "bob"), CAP);
    for (int i = 0; i < CAP; i++) {
        assert_json_str(json_object_array_get_idx(m, (size_t)i), "message", texts[i]);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(texts[k], texts[i]);
    }
    resp_free(r);
    for (int i = 0; i < CAP; i++)
        free(texts[i]);
}

int run_trim_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_messages_are_trimmed_to_max_messages),
        T(test_system_messages_count_toward_the_cap),
        T(test_concurrent_posts_keep_exactly_max_messages),
    };
    return cmocka_run_group_tests_name("trim", tests, trim_group_setup, group_teardown_server);
}
