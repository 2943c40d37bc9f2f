/*
 * usermeta policies ($banned, $chatdisabled, $muted, $blocked) and the order
 * of checks on POST messages: token, chat disabled, banned, muted, room
 * (404, then membership 401), body (400).
 */
#include "harness.h"
#include "tests.h"

#include <string.h>

#define ROOM "t/alice/bob"
static const char *const ROOM_BODY = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";
static const char *const GOOD = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}";
static const char *const BAD = "{\"timestamp\":\"nope\",\"type\":\"text\",\"message\":\"m\"}";

static resp_t *post_msg(const char *token, const char *room, const char *body)
{
    return http_post(body, PFX "/auth/%s/rooms/%s/messages", token, enc(room));
}

static long long total_messages(void)
{
    return db_long("SELECT count(*) FROM messages", 0, NULL);
}

static void test_invalid_token_comes_before_everything(void **state)
{
    (void)state;
    resp_t *r = post_msg("bad-token", "t/missing", BAD);
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
}

static void test_banned_user_posting_to_missing_room_is_403(void **state)
{
    (void)state;
    db_meta("alice", "$banned", "1");
    resp_t *r = post_msg(TOK_ALICE, "t/alice/nobody", GOOD);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);
}

static void test_bad_body_to_missing_room_is_404(void **state)
{
    (void)state;
    resp_t *r = post_msg(TOK_ALICE, "t/alice/nobody", BAD);
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    r = post_msg(TOK_ALICE, "t/alice/nobody", "[]");
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
}

static void test_chat_disabled_and_banned_is_403(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    db_meta("alice", "$banned", "1");
    db_meta("alice", "$chatdisabled", "true");
    resp_t *r = post_msg(TOK_ALICE, ROOM, GOOD);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    r = post_msg(TOK_ALICE, "t/missing", BAD);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    assert_int_equal(total_messages(), 0);
}

static void test_chat_disabled_user_posting_to_missing_room_is_403(void **state)
{
    (void)state;
    db_meta("alice", "$chatdisabled", "true");
    resp_t *r = post_msg(TOK_ALICE, "t/missing", GOOD);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
}

static void test_chat_disabled_other_values_do_not_disable(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    db_meta("alice", "$chatdisabled", "false");
    resp_t *r = post_msg(TOK_ALICE, ROOM, GOOD);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 1);
}

static void test_muted_user_posting_to_missing_room_is_200(void **state)
{
    (void)state;
    db_meta("alice", "$muted", "true");
    resp_t *r = post_msg(TOK_ALICE, "t/alice/nobody", GOOD);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);
    assert_int_equal(total_messages(), 0);
}

static void test_muted_user_with_bad_body_or_other_room_is_200(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"t\",\"users\":[\"bob\",\"carol\"]}");
    db_meta("alice", "$muted", "true");
    /* mute is checked before membership and before the body */
    resp_t *r = post_msg(TOK_ALICE, "t/bob/carol", GOOD);
    assert_empty_ok(r);
    resp_free(r);
    r = post_msg(TOK_ALICE, "t/bob/carol", BAD);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(total_messages(), 0);
}

static void test_banned_non_member_is_403_not_401(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"t\",\"users\":[\"bob\",\"carol\"]}");
    db_meta("alice", "$banned", "1");
    resp_t *r = post_msg(TOK_ALICE, "t/bob/carol", GOOD);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
}

static void test_non_member_with_bad_body_is_401_not_400(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"t\",\"users\":[\"bob\",\"carol\"]}");
    resp_t *r = post_msg(TOK_ALICE, "t/bob/carol", BAD);
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
}

static void test_member_with_bad_body_is_400(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    resp_t *r = post_msg(TOK_ALICE, ROOM, BAD);
    assert_error(r, 400, "BadRequest", "bad timestamp");
    resp_free(r);
}

static void test_policy_changes_apply_on_next_request(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    db_meta("alice", "$banned", "1429084016939");
    resp_t *r = post_msg(TOK_ALICE, ROOM, GOOD);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    db_meta_del("alice", "$banned");
    r = post_msg(TOK_ALICE, ROOM, GOOD);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 1);

    db_meta("alice", "$muted", "true");
    r = post_msg(TOK_ALICE, ROOM, GOOD);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 1);
    db_meta_del("alice", "$muted");
    r = post_msg(TOK_ALICE, ROOM, GOOD);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 2);

    db_meta("alice", "$chatdisabled", "true");
    r = post_msg(TOK_ALICE, ROOM, GOOD);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    db_meta_del("alice", "$chatdisabled");
    r = post_msg(TOK_ALICE, ROOM, GOOD);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 3);
}

static void test_policies_of_other_users_do_not_block_the_sender(void **state)
{
    (void)state;
    /* bob's settings only change who is notified, never alice's post */
    api_create_room(ROOM_BODY);
    db_meta("bob", "$muted", "true");
    db_meta("bob", "$chatdisabled", "true");
    db_meta("bob", "$blocked", "alice,carol");
    db_meta("bob", "$banned", "1");
    resp_t *r = post_msg(TOK_ALICE, ROOM, GOOD);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 1);
}

static void test_banned_user_cannot_create_but_secret_can_create_their_room(void **state)
{
    (void)state;
    db_meta("alice", "$banned", "1");
    resp_t *r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", TOK_ALICE);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", IT_SECRET);
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 0);
    resp_free(r);
}

int run_policies_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_invalid_token_comes_before_everything),
        T(test_banned_user_posting_to_missing_room_is_403),
        T(test_bad_body_to_missing_room_is_404),
        T(test_chat_disabled_and_banned_is_403),
        T(test_chat_disabled_user_posting_to_missing_room_is_403),
        T(test_chat_disabled_other_values_do_not_disable),
        T(test_muted_user_posting_to_missing_room_is_200),
        T(test_muted_user_with_bad_body_or_other_room_is_200),
        T(test_banned_non_member_is_403_not_401),
        T(test_non_member_with_bad_body_is_401_not_400),
        T(test_member_with_bad_body_is_400),
        T(test_policy_changes_apply_on_next_request),
        T(test_policies_of_other_users_do_not_block_the_sender),
        T(test_banned_user_cannot_create_but_secret_can_create_their_room),
    };
    return cmocka_run_group_tests_name("policies", tests, group_setup_default,
                                       group_teardown_server);
}
