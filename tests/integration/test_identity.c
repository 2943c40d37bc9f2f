/*
 * Room identity: a room id ("<type>/<users sorted, joined by '/'>") names
 * one room only. A user name holding '/' is refused (400), and asking for
 * a live room whose id is taken by another type or other users answers 409
 * Conflict, changes nothing and reveals nothing of the stored room. Each
 * example of the forged ids that the original service (and this one until
 * migration 0006) answered with someone else's room has its test here.
 */
#include "harness.h"
#include "tests.h"

#include <stdlib.h>
#include <string.h>

#define CONFLICT_HINT "another room has this id"

/* Room ROOM_ID as the table holds it: type, users and expiry, one text. */
static char *stored_room(const char *room_id)
{
    return db_text("SELECT r.type || ' ' || r.expires_at::text || ' ' || "
                   "(SELECT string_agg(username, ',' ORDER BY username COLLATE \"C\") "
                   "   FROM room_users WHERE room_id = r.id) "
                   "FROM rooms r WHERE r.id = $1", PARAMS(room_id));
}

/* A 409 that names neither the stored type nor its users. */
static void assert_conflict(resp_t *r, const char *const *hidden, size_t n)
{
    assert_error(r, 409, "Conflict", NULL);
    const char *msg = json_object_get_string(json_object_object_get(resp_json(r), "message"));
    assert_non_null(strstr(msg, CONFLICT_HINT));
    assert_null(json_object_object_get(resp_json(r), "messages"));
    for (size_t i = 0; i < n; i++)
        if (strstr(r->body, hidden[i])) {
            print_error("409 reveals '%s': %s\n", hidden[i], r->body);
            fail();
        }
}

static void test_user_named_with_a_slash_cannot_open_a_private_room(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"triominos/v1\",\"users\":[\"alice\",\"bob\"]}");
    api_post_msg(TOK_ALICE, "triominos/v1/alice/bob",
                 "{\"timestamp\":1,\"type\":\"text\",\"message\":\"our secret\"}");
    char *before = stored_room("triominos/v1/alice/bob");
    db_token("tok-alice-slash-bob", "alice/bob", NULL);

    resp_t *r = http_post("{\"type\":\"triominos/v1\",\"users\":[\"alice/bob\"]}",
                          PFX "/auth/%s/rooms", "tok-alice-slash-bob");
    assert_error(r, 400, "BadRequest", NULL);
    const char *msg = json_object_get_string(json_object_object_get(resp_json(r), "message"));
    assert_non_null(strstr(msg, "'/'"));
    assert_null(strstr(r->body, "our secret"));
    resp_free(r);

    /* and SECRET.name for such a name fares no better */
    r = http_post("{\"type\":\"triominos/v1\",\"users\":[\"alice/bob\"]}",
                  PFX "/auth/%s/rooms", enc(IT_SECRET ".alice/bob"));
    assert_int_not_equal(r->status, 200);
    assert_null(strstr(r->body, "our secret"));
    resp_free(r);

    char *after = stored_room("triominos/v1/alice/bob");
    assert_string_equal(before, after);
    assert_int_equal(db_count_messages("triominos/v1/alice/bob"), 1);
    assert_int_equal(db_count_rooms(), 1);
    free(before);
    free(after);
}

static void test_slash_in_any_user_name_is_400_on_both_routes(void **state)
{
    (void)state;
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"a\",\"b/c\"]}", PFX "/auth/%s/rooms",
                          IT_SECRET);
    assert_error(r, 400, "BadRequest", NULL);
    assert_non_null(strstr(r->body, "'/'"));
    resp_free(r);
    r = http_post("{\"type\":\"t\",\"users\":[\"a\",\"b/c\"],\"timestamp\":1,\"message\":\"M\"}",
                  PFX "/auth/%s/system-messages", IT_SECRET);
    assert_error(r, 400, "BadRequest", NULL);
    assert_non_null(strstr(r->body, "'/'"));
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);
}

/* {"type":"t","users":["a","b/c"]} asked for the room of ["a/b","c"]: such
 * a room, stored before names with '/' were refused, stays its members'. */
static void test_room_of_other_users_under_the_same_id_is_never_answered(void **state)
{
    (void)state;
    db_exec("INSERT INTO rooms (id, type, expires_at) VALUES ('t/a/b/c', 't', "
            "now() + interval '1 day')", 0, NULL);
    db_exec("INSERT INTO room_users VALUES ('t/a/b/c', 'a/b'), ('t/a/b/c', 'c')", 0, NULL);
    db_exec("INSERT INTO messages (room_id, seq, ts, ts_is_string, sender, type, message) "
            "VALUES ('t/a/b/c', 1, '1', false, 'c', 'text', 'for a/b only')", 0, NULL);
    char *before = stored_room("t/a/b/c");
    static const char *const hidden[] = { "a/b", "for a/b only" };

    /* the same id from another type, or from other users: 409 */
    resp_t *r = http_post("{\"type\":\"t/a\",\"users\":[\"b\",\"c\"]}", PFX "/auth/%s/rooms",
                          IT_SECRET);
    assert_conflict(r, hidden, 2);
    resp_free(r);
    db_token("tok-c", "c", NULL);
    r = http_post("{\"type\":\"t/a\",\"users\":[\"b\",\"c\"]}", PFX "/auth/%s/rooms",
                  "tok-c");
    assert_conflict(r, hidden, 2);
    resp_free(r);
    r = http_post("{\"type\":\"t/a\",\"users\":[\"b\",\"c\"],\"timestamp\":1,\"message\":\"M\"}",
                  PFX "/auth/%s/system-messages", IT_SECRET);
    assert_conflict(r, hidden, 2);
    resp_free(r);

    char *after = stored_room("t/a/b/c");
    assert_string_equal(before, after);
    assert_int_equal(db_count_messages("t/a/b/c"), 1);
    free(before);
    free(after);

    /* its own members still read it */
    db_token("tok-a-slash-b", "a/b", NULL);
    r = http_get(PFX "/auth/%s/rooms/%s", "tok-a-slash-b", enc("t/a/b/c"));
    assert_room(r, "t/a/b/c", "t", USERS("a/b", "c"), 1);
    resp_free(r);
}

/* {"type":"col/alice","users":["bob"]} and {"type":"col","users":
 * ["alice","bob"]} are both "col/alice/bob": whichever came first keeps it. */
static void test_type_with_a_slash_cannot_take_a_room_of_other_users(void **state)
{
    (void)state;
    static const char *const hidden[] = { "col/alice\"", "\"users\"", "hi bob" };
    resp_t *r = http_post("{\"type\":\"col/alice\",\"users\":[\"bob\"]}", PFX "/auth/%s/rooms",
                          TOK_BOB);
    assert_room(r, "col/alice/bob", "col/alice", USERS("bob"), 0);
    resp_free(r);
    api_post_msg(TOK_BOB, "col/alice/bob",
                 "{\"timestamp\":1,\"type\":\"text\",\"message\":\"hi bob\"}");
    char *before = stored_room("col/alice/bob");

    r = http_post("{\"type\":\"col\",\"users\":[\"alice\",\"bob\"]}", PFX "/auth/%s/rooms",
                  TOK_ALICE);
    assert_conflict(r, hidden, 3);
    resp_free(r);
    r = http_post("{\"type\":\"col\",\"users\":[\"alice\",\"bob\"]}", PFX "/auth/%s/rooms",
                  IT_SECRET);
    assert_conflict(r, hidden, 3);
    resp_free(r);
    /* alice, not a member of the stored room, cannot read or post to it */
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc("col/alice/bob"));
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);

    char *after = stored_room("col/alice/bob");
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* the other way round */
    db_reset();
    db_token(TOK_ALICE, "alice", NULL);
    db_token(TOK_BOB, "bob", NULL);
    api_create_room("{\"type\":\"col\",\"users\":[\"alice\",\"bob\"]}");
    r = http_post("{\"type\":\"col/alice\",\"users\":[\"bob\"]}", PFX "/auth/%s/rooms",
                  TOK_BOB);
    assert_error(r, 409, "Conflict", NULL);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc("col/alice/bob"));
    assert_room(r, "col/alice/bob", "col", USERS("alice", "bob"), 0);
    resp_free(r);
}

static void test_same_type_and_users_still_gets_the_room(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"col/v1\",\"users\":[\"bob\",\"alice\"]}");
    api_post_msg(TOK_ALICE, "col/v1/alice/bob",
                 "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}");
    resp_t *r = http_post("{\"type\":\"col/v1\",\"users\":[\"alice\",\"bob\"]}",
                          PFX "/auth/%s/rooms", TOK_BOB);
    assert_room(r, "col/v1/alice/bob", "col/v1", USERS("alice", "bob"), 1);
    resp_free(r);
    r = http_post("{\"type\":\"col/v1\",\"users\":[\"alice\",\"bob\"],\"timestamp\":2,"
                  "\"message\":\"E\"}", PFX "/auth/%s/system-messages", IT_SECRET);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages("col/v1/alice/bob"), 2);
}

static void test_system_message_to_a_conflicting_room_stores_nothing(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"col/alice\",\"users\":[\"bob\"]}");
    char *before = stored_room("col/alice/bob");
    resp_t *r = http_post("{\"type\":\"col\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,"
                          "\"message\":\"ALICE_JOINED\"}", PFX "/auth/%s/system-messages",
                          IT_SECRET);
    assert_error(r, 409, "Conflict", NULL);
    resp_free(r);
    char *after = stored_room("col/alice/bob");
    assert_string_equal(before, after);
    assert_int_equal(db_count_messages("col/alice/bob"), 0);
    free(before);
    free(after);
}

/* An expired room is gone: its id is free for another type and users. */
static void test_expired_room_id_is_free_for_another_room(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"col/alice\",\"users\":[\"bob\"]}");
    db_expire_room("col/alice/bob");
    resp_t *r = http_post("{\"type\":\"col\",\"users\":[\"alice\",\"bob\"]}",
                          PFX "/auth/%s/rooms", TOK_ALICE);
    assert_room(r, "col/alice/bob", "col", USERS("alice", "bob"), 0);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc("col/alice/bob"));
    assert_room(r, "col/alice/bob", "col", USERS("alice", "bob"), 0);
    resp_free(r);
}

int run_identity_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_user_named_with_a_slash_cannot_open_a_private_room),
        T(test_slash_in_any_user_name_is_400_on_both_routes),
        T(test_room_of_other_users_under_the_same_id_is_never_answered),
        T(test_type_with_a_slash_cannot_take_a_room_of_other_users),
        T(test_same_type_and_users_still_gets_the_room),
        T(test_system_message_to_a_conflicting_room_stores_nothing),
        T(test_expired_room_id_is_free_for_another_room),
    };
    return cmocka_run_group_tests_name("identity", tests, group_setup_default,
                                       group_teardown_server);
}
