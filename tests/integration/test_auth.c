/*
 * Authentication: the API secret, "SECRET.user" tokens, auth_tokens rows
 * (valid, expired, no expiry, deleted), and a server without API_SECRET.
 */
#include "harness.h"
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ROOM_AB = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";
static const char *const MSG = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}";

static void test_api_secret_grants_every_room(void **state)
{
    (void)state;
    resp_t *r = http_post(ROOM_AB, PFX "/auth/%s/rooms", IT_SECRET);
    assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 0);
    resp_free(r);
    r = http_post(MSG, PFX "/auth/%s/rooms/%s/messages", IT_SECRET, enc("t/alice/bob"));
    assert_empty_ok(r);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc("t/alice/bob"));
    json_object *m = assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 1);
    assert_msg(json_object_array_get_idx(m, 0), "1", "$$", "text", "m");
    resp_free(r);
}

static void test_secret_dot_user_authenticates_as_that_user(void **state)
{
    (void)state;
    const char *tok = IT_SECRET ".alice";
    resp_t *r = http_post(ROOM_AB, PFX "/auth/%s/rooms", tok);
    assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 0);
    resp_free(r);
    r = http_post(MSG, PFX "/auth/%s/rooms/%s/messages", tok, enc("t/alice/bob"));
    assert_empty_ok(r);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", tok, enc("t/alice/bob"));
    json_object *m = assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 1);
    assert_msg(json_object_array_get_idx(m, 0), "1", "alice", "text", "m");
    resp_free(r);

    /* as alice, not as the secret: other rooms are closed */
    r = http_post("{\"type\":\"t\",\"users\":[\"bob\",\"carol\"]}", PFX "/auth/%s/rooms", tok);
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
    api_create_room("{\"type\":\"t\",\"users\":[\"bob\",\"carol\"]}");
    r = http_get(PFX "/auth/%s/rooms/%s", tok, enc("t/bob/carol"));
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
    r = http_post(MSG, PFX "/auth/%s/rooms/%s/messages", tok, enc("t/bob/carol"));
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
    assert_int_equal(db_count_messages("t/bob/carol"), 0);
}

static void test_secret_dot_user_with_dots_in_name(void **state)
{
    (void)state;
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"alice.smith\",\"bob\"]}",
                          PFX "/auth/%s/rooms", IT_SECRET ".alice.smith");
    assert_room(r, "t/alice.smith/bob", "t", USERS("alice.smith", "bob"), 0);
    resp_free(r);
}

static void test_secret_dot_without_name_is_401(void **state)
{
    (void)state;
    api_create_room(ROOM_AB);
    const char *tok = IT_SECRET ".";
    resp_t *r = http_post(ROOM_AB, PFX "/auth/%s/rooms", tok);
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", tok, enc("t/alice/bob"));
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    r = http_post(MSG, PFX "/auth/%s/rooms/%s/messages", tok, enc("t/alice/bob"));
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    assert_int_equal(db_count_messages("t/alice/bob"), 0);
}

static void test_near_misses_of_the_secret_are_401(void **state)
{
    (void)state;
    api_create_room(ROOM_AB);
    char shorter[64];
    snprintf(shorter, sizeof shorter, "%s", IT_SECRET);
    shorter[strlen(shorter) - 1] = '\0';
    const char *const toks[] = {
        IT_SECRET "x", shorter, "wrong.alice", IT_SECRET "x.alice", "x" IT_SECRET,
        ".alice", "alice",
    };
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
        resp_t *r = http_get(PFX "/auth/%s/rooms/%s", enc(toks[i]), enc("t/alice/bob"));
        assert_error(r, 401, "UnauthorizedError", "not authorized");
        resp_free(r);
    }
}

static void test_auth_token_row_authenticates(void **state)
{
    (void)state;
    db_token("row-token-1", "alice", "1 day");
    resp_t *r = http_post(ROOM_AB, PFX "/auth/%s/rooms", "row-token-1");
    assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 0);
    resp_free(r);
    r = http_post(MSG, PFX "/auth/%s/rooms/%s/messages", "row-token-1", enc("t/alice/bob"));
    assert_empty_ok(r);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", "row-token-1", enc("t/alice/bob"));
    json_object *m = assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 1);
    assert_msg(json_object_array_get_idx(m, 0), "1", "alice", "text", "m");
    resp_free(r);
}

static void test_expired_auth_token_is_401(void **state)
{
    (void)state;
    api_create_room(ROOM_AB);
    db_token("old-token", "alice", "-1 second");
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", "old-token", enc("t/alice/bob"));
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    r = http_post(ROOM_AB, PFX "/auth/%s/rooms", "old-token");
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    r = http_post(MSG, PFX "/auth/%s/rooms/%s/messages", "old-token", enc("t/alice/bob"));
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    assert_int_equal(db_count_messages("t/alice/bob"), 0);
}

static void test_auth_token_without_expiry_is_valid(void **state)
{
    (void)state;
    api_create_room(ROOM_AB);
    db_token("forever-token", "bob", NULL);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", "forever-token", enc("t/alice/bob"));
    assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 0);
    resp_free(r);
}

static void test_auth_token_changes_apply_on_next_request(void **state)
{
    (void)state;
    api_create_room(ROOM_AB);
    db_token("short-lived", "alice", "1 hour");
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", "short-lived", enc("t/alice/bob"));
    assert_status(r, 200);
    resp_free(r);

    db_exec("DELETE FROM auth_tokens WHERE token = $1", PARAMS("short-lived"));
    r = http_get(PFX "/auth/%s/rooms/%s", "short-lived", enc("t/alice/bob"));
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);

    /* re-issued for carol: now a valid token of a non-member */
    db_token("short-lived", "carol", NULL);
    r = http_get(PFX "/auth/%s/rooms/%s", "short-lived", enc("t/alice/bob"));
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);

    /* expired in place */
    db_token("short-lived", "alice", "-1 minute");
    r = http_get(PFX "/auth/%s/rooms/%s", "short-lived", enc("t/alice/bob"));
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
}

/* POST messages: the server remembers a table token's user after its first
 * request and sends the token along for the post to check. Every change to
 * the token must still take effect on the next post. */
static resp_t *post_as(const char *token, const char *text)
{
    char body[128];
    snprintf(body, sizeof body, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"%s\"}", text);
    return http_post(body, PFX "/auth/%s/rooms/%s/messages", token, enc("t/alice/bob"));
}

static char *sender_of(const char *text)
{
    return db_text("SELECT sender FROM messages WHERE room_id = 't/alice/bob' AND message = $1",
                   PARAMS(text));
}

/* POST TEXT with the cached token: 200, or the error CODE/MESSAGE. */
static void post_cached(const char *text, long status, const char *code, const char *message)
{
    resp_t *r = post_as("cached-token", text);
    if (status == 200)
        assert_empty_ok(r);
    else
        assert_error(r, status, code, message);
    resp_free(r);
}

static void check_post_message_token_changes(void)
{
    api_create_room(ROOM_AB);
    db_token("cached-token", "alice", "1 hour");
    post_cached("one", 200, NULL, NULL);   /* looked up, then remembered */
    post_cached("two", 200, NULL, NULL);   /* remembered: checked by the post */
    char *who = sender_of("two");
    assert_string_equal(who, "alice");
    free(who);

    /* given to bob: his post now, not alice's */
    db_token("cached-token", "bob", NULL);
    post_cached("three", 200, NULL, NULL);
    who = sender_of("three");
    assert_string_equal(who, "bob");
    free(who);

    /* given to carol, who is not in the room */
    db_token("cached-token", "carol", NULL);
    post_cached("four", 401, "Unauthorized", "");

    /* back to bob, then expired in place */
    db_token("cached-token", "bob", NULL);
    post_cached("five", 200, NULL, NULL);
    db_token("cached-token", "bob", "-1 second");
    post_cached("six", 401, "UnauthorizedError", "not authorized");

    /* back, then deleted */
    db_token("cached-token", "bob", NULL);
    post_cached("seven", 200, NULL, NULL);
    db_exec("DELETE FROM auth_tokens WHERE token = $1", PARAMS("cached-token"));
    post_cached("eight", 401, "UnauthorizedError", "not authorized");
    /* a bad body with a deleted token: the token is checked first */
    resp_t *r = http_post("{\"timestamp\":1}", PFX "/auth/%s/rooms/%s/messages", "cached-token",
                          enc("t/alice/bob"));
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    assert_int_equal(db_count_messages("t/alice/bob"), 5);
}

static void test_post_message_token_changes_apply_on_next_post(void **state)
{
    (void)state;
    check_post_message_token_changes();
}

/* The same with the cache off: every post looks its token up. */
static void test_post_message_token_changes_without_token_cache(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("TOKEN_CACHE_SIZE=0"));
    check_post_message_token_changes();
}

/* A user learnt from a room read (get_room returns the token's user) is
 * checked just the same when that token posts after being deleted. */
static void test_token_seen_by_a_read_is_checked_by_the_post(void **state)
{
    (void)state;
    api_create_room(ROOM_AB);
    db_token("read-token", "alice", NULL);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", "read-token", enc("t/alice/bob"));
    assert_status(r, 200);
    resp_free(r);
    db_exec("DELETE FROM auth_tokens WHERE token = $1", PARAMS("read-token"));
    r = post_as("read-token", "x");
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    assert_int_equal(db_count_messages("t/alice/bob"), 0);
}

static void test_system_messages_refuse_user_tokens(void **state)
{
    (void)state;
    const char *body = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],"
                       "\"timestamp\":1,\"message\":\"X\"}";
    const char *const toks[] = { TOK_ALICE, IT_SECRET ".alice" };
    for (size_t i = 0; i < 2; i++) {
        resp_t *r = http_post(body, PFX "/auth/%s/system-messages", toks[i]);
        assert_error(r, 401, "Unauthorized", "");
        resp_free(r);
    }
    resp_t *r = http_post(body, PFX "/auth/%s/system-messages", "garbage-token");
    assert_status(r, 401);
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);
}

/* With no secret configured, nothing that looks like an empty secret works. */
static void check_no_secret_server(const char *const *overrides)
{
    h_srv = scoped_server(overrides);

    /* a real token still works, so the server is usable */
    resp_t *r = http_post(ROOM_AB, PFX "/auth/%s/rooms", TOK_ALICE);
    assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 0);
    resp_free(r);

    const char *const toks[] = {
        ".alice", "undefined", "undefined.alice", "null", "null.alice",
        IT_SECRET, IT_SECRET ".alice", "%20", "%20.alice", "%2Ealice", "..alice",
    };
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
        r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"zed\"]}",
                      PFX "/auth/%s/rooms", toks[i]);
        if (r->status != 401)
            print_error("token \"%s\" on a server without API_SECRET\n", toks[i]);
        assert_error(r, 401, "UnauthorizedError", "not authorized");
        resp_free(r);
        r = http_get(PFX "/auth/%s/rooms/%s", toks[i], enc("t/alice/bob"));
        assert_error(r, 401, "UnauthorizedError", "not authorized");
        resp_free(r);
        r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"zed\"],\"timestamp\":1,"
                      "\"message\":\"E\"}", PFX "/auth/%s/system-messages", toks[i]);
        assert_status(r, 401);
        resp_free(r);
    }
    /* an empty token segment or "." is refused one way or another */
    const char *const paths[] = {
        PFX "/auth//rooms", PFX "/auth/./rooms", PFX "/auth/%2E/rooms",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        req_t q = { .method = "POST", .path = paths[i],
                    .body = "{\"type\":\"t\",\"users\":[\"alice\",\"zed\"]}" };
        r = http_do(&q);
        if (r->status < 400 || r->status > 499)
            print_error("POST %s: %ld\n", paths[i], r->status);
        assert_in_range(r->status, 400, 499);
        resp_free(r);
    }
    assert_false(db_room_exists("t/alice/zed"));
    assert_int_equal(db_count_messages("t/alice/zed"), 0);
}

static void test_unset_api_secret_grants_nothing(void **state)
{
    (void)state;
    check_no_secret_server(OVERRIDES("API_SECRET"));
}

static void test_empty_api_secret_grants_nothing(void **state)
{
    (void)state;
    check_no_secret_server(OVERRIDES("API_SECRET="));
}

int run_auth_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_api_secret_grants_every_room),
        T(test_secret_dot_user_authenticates_as_that_user),
        T(test_secret_dot_user_with_dots_in_name),
        T(test_secret_dot_without_name_is_401),
        T(test_near_misses_of_the_secret_are_401),
        T(test_auth_token_row_authenticates),
        T(test_expired_auth_token_is_401),
        T(test_auth_token_without_expiry_is_valid),
        T(test_auth_token_changes_apply_on_next_request),
        T(test_post_message_token_changes_apply_on_next_post),
        T(test_post_message_token_changes_without_token_cache),
        T(test_token_seen_by_a_read_is_checked_by_the_post),
        T(test_system_messages_refuse_user_tokens),
        T(test_unset_api_secret_grants_nothing),
        T(test_empty_api_secret_grants_nothing),
    };
    return cmocka_run_group_tests_name("auth", tests, group_setup_default,
                                       group_teardown_server);
}
