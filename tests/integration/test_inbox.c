/*
 * What REST clients expect beyond the original (issue 15): my rooms with
 * their newest message and unread counts (GET rooms), read markers (POST
 * rooms/:roomId/read), posts that are safe to retry (Idempotency-Key),
 * and a per-user rate limit (429 with Retry-After).
 */
#include "harness.h"
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* GET rooms as TOKEN with QUERY ("" or "?..."); 200 asserted; caller frees. */
static resp_t *my_rooms(const char *token, const char *query)
{
    resp_t *r = http_get(PFX "/auth/%s/rooms%s", token, query);
    assert_status(r, 200);
    return r;
}

static json_object *rooms_of(resp_t *r)
{
    return json_object_object_get(resp_json(r), "rooms");
}

static const char *room_id_at(resp_t *r, size_t i)
{
    return json_object_get_string(
        json_object_object_get(json_object_array_get_idx(rooms_of(r), i), "id"));
}

static long long unread_of(resp_t *r, const char *id)
{
    json_object *rooms = rooms_of(r);
    for (size_t i = 0; i < json_object_array_length(rooms); i++) {
        json_object *one = json_object_array_get_idx(rooms, i);
        if (strcmp(json_object_get_string(json_object_object_get(one, "id")), id) == 0)
            return json_object_get_int64(json_object_object_get(one, "unread"));
    }
    fail_msg("room %s is not listed: %s", id, r->body);
    return -1;
}

static long long unread_now(const char *token, const char *id)
{
    resp_t *r = my_rooms(token, "");
    long long n = unread_of(r, id);
    resp_free(r);
    return n;
}

static void mark_read(const char *token, const char *id, const char *body, long status)
{
    resp_t *r = http_post(body, PFX "/auth/%s/rooms/%s/read", token, enc(id));
    assert_status(r, status);
    resp_free(r);
}

/* ---- my rooms ---------------------------------------------------------- */

static void test_my_rooms_by_activity_with_last_message_and_unread(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    api_room_of_two("t", "alice", "carol");
    api_room_of_two("t", "bob", "carol");
    api_post_text(TOK_BOB, "t/alice/bob", "hi alice");
    api_post_text(TOK_BOB, "t/alice/bob", "again");
    usleep(2000);
    api_post_text(TOK_CAROL, "t/alice/carol", "from carol");
    api_post_text(TOK_ALICE, "t/alice/carol", "my own");
    resp_t *r = my_rooms(TOK_ALICE, "");
    assert_int_equal(json_object_array_length(rooms_of(r)), 2);
    assert_string_equal(room_id_at(r, 0), "t/alice/carol");
    assert_string_equal(room_id_at(r, 1), "t/alice/bob");
    json_object *first = json_object_array_get_idx(rooms_of(r), 0);
    assert_msg(json_object_object_get(first, "lastMessage"), "1", "alice", "text", "my own");
    assert_string_equal(json_object_to_json_string(json_object_object_get(first, "users")),
                        "[ \"alice\", \"carol\" ]");
    assert_int_equal(unread_of(r, "t/alice/carol"), 1);   /* her own does not count */
    assert_int_equal(unread_of(r, "t/alice/bob"), 2);
    assert_true(json_object_is_type(json_object_object_get(resp_json(r), "next"), json_type_null));
    resp_free(r);
    /* A room without messages: activity is its creation, lastMessage null. */
    api_room_of_two("u", "alice", "dave");
    r = my_rooms(TOK_ALICE, "");
    assert_string_equal(room_id_at(r, 0), "u/alice/dave");
    assert_true(json_object_is_type(
        json_object_object_get(json_object_array_get_idx(rooms_of(r), 0), "lastMessage"),
        json_type_null));
    resp_free(r);
}

static void test_secret_lists_any_users_rooms(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    api_room_of_two("t", "bob", "carol");
    resp_t *r = my_rooms(IT_SECRET, "?user=bob");
    assert_int_equal(json_object_array_length(rooms_of(r)), 2);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms", IT_SECRET);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms?user=bob", TOK_ALICE);
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
    r = http_get(PFX "/auth/nope/rooms");
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    r = my_rooms(TOK_CAROL, "?user=carol");   /* naming oneself is fine */
    assert_int_equal(json_object_array_length(rooms_of(r)), 1);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms?limit=0", TOK_ALICE);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms?cursor=garbage!", TOK_ALICE);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
}

/* 30 rooms walked 7 at a time while posts land in rooms seen and unseen:
 * every room comes at least once, pages stay within the limit. */
static void test_paging_skips_no_room_while_posts_arrive(void **state)
{
    (void)state;
    char ids[30][32];
    for (int i = 0; i < 30; i++) {
        char type[16];
        snprintf(type, sizeof type, "p%02d", i);
        api_room_of_two(type, "alice", "bob");
        snprintf(ids[i], sizeof ids[i], "%s/alice/bob", type);
    }
    bool seen[30] = { false };
    char query[256] = "?limit=7";
    int pages = 0;
    for (;;) {
        resp_t *r = my_rooms(TOK_ALICE, query);
        json_object *rooms = rooms_of(r);
        assert_true(json_object_array_length(rooms) <= 7);
        for (size_t i = 0; i < json_object_array_length(rooms); i++)
            for (int k = 0; k < 30; k++)
                if (strcmp(room_id_at(r, i), ids[k]) == 0)
                    seen[k] = true;
        json_object *next = json_object_object_get(resp_json(r), "next");
        /* Activity meanwhile: one room likely seen, one likely not. */
        api_post_text(TOK_BOB, ids[(pages * 7) % 30], "seen");
        api_post_text(TOK_BOB, ids[29 - pages], "unseen");
        pages++;
        if (!next || json_object_is_type(next, json_type_null) || pages > 20) {
            resp_free(r);
            break;
        }
        snprintf(query, sizeof query, "?limit=7&cursor=%s", json_object_get_string(next));
        resp_free(r);
    }
    for (int k = 0; k < 30; k++)
        if (!seen[k])
            fail_msg("room %s was skipped", ids[k]);
    assert_true(pages <= 20);
}

/* ---- read markers -------------------------------------------------------- */

static void test_unread_follows_reads_and_trims(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("MAX_MESSAGES=5"));
    api_room_of_two("t", "alice", "bob");
    for (int i = 0; i < 8; i++)
        api_post_text(TOK_BOB, "t/alice/bob", "b");
    /* Counted among the messages the room keeps: capped at MAX_MESSAGES. */
    assert_int_equal(unread_now(TOK_ALICE, "t/alice/bob"), 5);
    mark_read(TOK_ALICE, "t/alice/bob", NULL, 200);
    assert_int_equal(unread_now(TOK_ALICE, "t/alice/bob"), 0);
    api_post_text(TOK_BOB, "t/alice/bob", "b9");
    api_post_text(TOK_ALICE, "t/alice/bob", "mine");
    api_post_text(TOK_BOB, "t/alice/bob", "b10");
    assert_int_equal(unread_now(TOK_ALICE, "t/alice/bob"), 2);
    /* Up to a given message: the marker survives trimming past it. */
    long long b9 = db_long("SELECT id FROM messages WHERE room_id = 't/alice/bob' "
                           "AND message = 'b9'", 0, NULL);
    char body[64];
    snprintf(body, sizeof body, "{\"messageId\":%lld}", b9);
    mark_read(TOK_ALICE, "t/alice/bob", body, 200);
    assert_int_equal(unread_now(TOK_ALICE, "t/alice/bob"), 1);
    /* Four more keep b10 and trim b9 (5 kept): b10 still unread. */
    for (int i = 0; i < 4; i++)
        api_post_text(TOK_ALICE, "t/alice/bob", "push b9 out");
    assert_int_equal(db_long("SELECT count(*) FROM messages WHERE message = 'b9'", 0, NULL), 0);
    assert_int_equal(unread_now(TOK_ALICE, "t/alice/bob"), 1);
    /* Never back: an older id keeps the newer marker. */
    long long oldest = db_long("SELECT min(id) FROM message_record WHERE room_id = 't/alice/bob'",
                               0, NULL);
    snprintf(body, sizeof body, "{\"messageId\":\"%lld\"}", oldest);
    resp_t *r = http_post(body, PFX "/auth/%s/rooms/%s/read", TOK_ALICE, enc("t/alice/bob"));
    assert_status(r, 200);
    assert_int_equal(json_object_get_int64(json_object_object_get(resp_json(r), "lastReadId")), b9);
    resp_free(r);
    assert_int_equal(unread_now(TOK_BOB, "t/alice/bob"), 4);   /* alice's, kept */
}

static void test_read_marker_errors(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    api_post_text(TOK_BOB, "t/alice/bob", "x");
    mark_read(TOK_CAROL, "t/alice/bob", NULL, 401);
    mark_read(TOK_ALICE, "t/alice/nobody", NULL, 404);
    mark_read(IT_SECRET, "t/alice/bob", NULL, 401);
    mark_read(TOK_ALICE, "t/alice/bob", "{\"messageId\":\"abc\"}", 400);
    mark_read(TOK_ALICE, "t/alice/bob", "{\"messageId\":-3}", 400);
    mark_read(TOK_ALICE, "t/alice/bob", "[1]", 400);
    mark_read(TOK_ALICE, "t/alice/bob", "{\"messageId\":999999999}", 404);
    mark_read("nope", "t/alice/bob", NULL, 401);
    assert_int_equal(db_long("SELECT count(*) FROM room_reads", 0, NULL), 0);
}

/* A room that expires takes its markers; created again, its messages are
 * all unread, and it is listed again. */
static void test_markers_go_with_the_room(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    api_post_text(TOK_BOB, "t/alice/bob", "old");
    mark_read(TOK_ALICE, "t/alice/bob", NULL, 200);
    db_expire_room("t/alice/bob");
    resp_t *r = my_rooms(TOK_ALICE, "");
    assert_int_equal(json_object_array_length(rooms_of(r)), 0);
    resp_free(r);
    api_room_of_two("t", "alice", "bob");
    api_post_text(TOK_BOB, "t/alice/bob", "new");
    assert_int_equal(unread_now(TOK_ALICE, "t/alice/bob"), 1);
    char *out = NULL, *err = NULL;
    db_expire_room("t/alice/bob");
    assert_int_equal(run_chat((const char *const[]){ "expire", NULL }, NULL, 30, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(db_long("SELECT count(*) FROM room_reads", 0, NULL), 0);
}

/* ---- Idempotency-Key ------------------------------------------------------ */

static resp_t *post_keyed(server_t *s, const char *token, const char *room_id, const char *key,
                          const char *body)
{
    char path[256], header[320];
    snprintf(path, sizeof path, "%s/auth/%s/rooms/%s/messages", s->prefix, token, enc(room_id));
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    const char *const headers[] = { header, NULL };
    req_t q = { .srv = s, .method = "POST", .path = path, .body = body, .headers = headers };
    return http_do(&q);
}

static void test_same_key_stores_once(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    const char *body = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"once\"}";
    for (int i = 0; i < 3; i++) {
        resp_t *r = post_keyed(h_srv, TOK_ALICE, "t/alice/bob", "k-1", body);
        assert_empty_ok(r);
        resp_free(r);
    }
    assert_int_equal(db_count_messages("t/alice/bob"), 1);
    /* Another body under the same key: 422, nothing stored. */
    resp_t *r = post_keyed(h_srv, TOK_ALICE, "t/alice/bob", "k-1",
                           "{\"timestamp\":2,\"type\":\"text\",\"message\":\"other\"}");
    assert_error(r, 422, "UnprocessableEntity", NULL);
    resp_free(r);
    /* The key is the caller's and the room's: another caller or room stores. */
    r = post_keyed(h_srv, TOK_BOB, "t/alice/bob", "k-1", body);
    assert_empty_ok(r);
    resp_free(r);
    api_room_of_two("t", "alice", "carol");
    r = post_keyed(h_srv, TOK_ALICE, "t/alice/carol", "k-1", body);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages("t/alice/bob"), 2);
    assert_int_equal(db_count_messages("t/alice/carol"), 1);
    /* Without the header, as ever: every post is stored. */
    api_post_text(TOK_ALICE, "t/alice/bob", "plain");
    api_post_text(TOK_ALICE, "t/alice/bob", "plain");
    assert_int_equal(db_count_messages("t/alice/bob"), 4);
}

static void test_refused_post_does_not_keep_its_key(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    db_meta("alice", "$banned", "1");
    const char *body = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"later\"}";
    resp_t *r = post_keyed(h_srv, TOK_ALICE, "t/alice/bob", "k-2", body);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    db_meta_del("alice", "$banned");
    r = post_keyed(h_srv, TOK_ALICE, "t/alice/bob", "k-2", body);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages("t/alice/bob"), 1);
}

static void test_two_servers_share_keys(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    server_t *other = scoped_server(NULL);
    const char *body = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"shared\"}";
    resp_t *r = post_keyed(h_srv, TOK_ALICE, "t/alice/bob", "k-3", body);
    assert_empty_ok(r);
    resp_free(r);
    r = post_keyed(other, TOK_ALICE, "t/alice/bob", "k-3", body);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages("t/alice/bob"), 1);
}

static void test_keys_expire(void **state)
{
    (void)state;
    server_t *s = scoped_server(OVERRIDES("IDEMPOTENCY_TTL_SECONDS=1"));
    h_srv = s;
    api_room_of_two("t", "alice", "bob");
    const char *body = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"ttl\"}";
    resp_t *r = post_keyed(s, TOK_ALICE, "t/alice/bob", "k-4", body);
    assert_empty_ok(r);
    resp_free(r);
    usleep(1200 * 1000);
    r = post_keyed(s, TOK_ALICE, "t/alice/bob", "k-4", body);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages("t/alice/bob"), 2);
    /* The expiry job deletes keys past their life. */
    db_exec("UPDATE idempotency_keys SET expires_at = now() - interval '1 s'", 0, NULL);
    char *out = NULL, *err = NULL;
    assert_int_equal(run_chat((const char *const[]){ "expire", NULL }, NULL, 30, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(db_long("SELECT count(*) FROM idempotency_keys", 0, NULL), 0);
    /* So does pg_cron's procedure. */
    r = post_keyed(s, TOK_ALICE, "t/alice/bob", "k-5", body);
    assert_empty_ok(r);
    resp_free(r);
    db_exec("UPDATE idempotency_keys SET expires_at = now() - interval '1 s'", 0, NULL);
    db_exec("CALL chat_expire(1000)", 0, NULL);
    assert_int_equal(db_long("SELECT count(*) FROM idempotency_keys", 0, NULL), 0);
}

static void test_system_message_key_and_bad_keys(void **state)
{
    (void)state;
    const char *body =
        "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,\"message\":\"SYS\"}";
    const char *const keyed[] = { "Idempotency-Key: sys-1", NULL };
    for (int i = 0; i < 2; i++) {
        req_t q = { .method = "POST", .path = PFX "/auth/" IT_SECRET "/system-messages",
                    .body = body, .headers = keyed };
        resp_t *r = http_do(&q);
        assert_empty_ok(r);
        resp_free(r);
    }
    assert_int_equal(db_count_messages("t/alice/bob"), 1);
    const char *const bad[] = { "Idempotency-Key: has space", NULL };
    req_t q = { .method = "POST", .path = PFX "/auth/" IT_SECRET "/system-messages",
                .body = body, .headers = bad };
    resp_t *r = http_do(&q);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    char longkey[300] = "Idempotency-Key: ";
    memset(longkey + strlen(longkey), 'k', 260);
    const char *const toolong[] = { longkey, NULL };
    r = post_keyed(h_srv, TOK_ALICE, "t/alice/bob", longkey + 17,
                   "{\"timestamp\":1,\"type\":\"text\",\"message\":\"x\"}");
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    (void)toolong;
    assert_int_equal(db_count_messages("t/alice/bob"), 1);
}

/* ---- rate limit ----------------------------------------------------------- */

static void test_rate_limit_answers_429_with_retry_after(void **state)
{
    (void)state;
    server_t *s = scoped_server(OVERRIDES("RATE_LIMIT_POSTS_PER_MINUTE=60", "RATE_LIMIT_BURST=3"));
    h_srv = s;
    api_room_of_two("t", "alice", "bob");
    for (int i = 0; i < 3; i++)
        api_post_text(TOK_ALICE, "t/alice/bob", "burst");
    resp_t *r = http_post("{\"timestamp\":1,\"type\":\"text\",\"message\":\"too many\"}",
                          PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc("t/alice/bob"));
    assert_error(r, 429, "TooManyRequests", NULL);
    char *retry = resp_header(r, "Retry-After");
    assert_non_null(retry);
    assert_true(atoi(retry) >= 1 && atoi(retry) <= 2);
    free(retry);
    resp_free(r);
    assert_int_equal(db_count_messages("t/alice/bob"), 3);
    /* Another user has a bucket of their own; the secret has none. */
    api_post_text(TOK_BOB, "t/alice/bob", "bob is fine");
    for (int i = 0; i < 5; i++)
        api_post_text(IT_SECRET, "t/alice/bob", "secret");
    /* One post a second comes back. */
    usleep(1100 * 1000);
    api_post_text(TOK_ALICE, "t/alice/bob", "again");
    assert_int_equal(db_count_messages("t/alice/bob"), 10);
}

int run_inbox_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_my_rooms_by_activity_with_last_message_and_unread),
        T(test_secret_lists_any_users_rooms),
        T(test_paging_skips_no_room_while_posts_arrive),
        T(test_unread_follows_reads_and_trims),
        T(test_read_marker_errors),
        T(test_markers_go_with_the_room),
        T(test_same_key_stores_once),
        T(test_refused_post_does_not_keep_its_key),
        T(test_two_servers_share_keys),
        T(test_keys_expire),
        T(test_system_message_key_and_bad_keys),
        T(test_rate_limit_answers_429_with_retry_after),
    };
    return cmocka_run_group_tests_name("inbox", tests, group_setup_default,
                                       group_teardown_server);
}
