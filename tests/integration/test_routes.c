/*
 * Every route and every status it can give (rooms, ping, about, unknown
 * paths, wrong methods, request ids, gzip), and routing on the raw path
 * (encoded room ids, a user named "messages", odd user names).
 */
#include "harness.h"
#include "tests.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- POST rooms ------------------------------------------------------- */

static void test_create_room_new_returns_room_with_empty_messages(void **state)
{
    (void)state;
    resp_t *r = http_post("{\"type\":\"triominos/v1\",\"users\":[\"bob\",\"alice\"]}",
                          PFX "/auth/%s/rooms", TOK_ALICE);
    assert_room(r, "triominos/v1/alice/bob", "triominos/v1", USERS("alice", "bob"), 0);
    assert_content_type(r, "application/json");
    resp_free(r);
    assert_true(db_room_exists("triominos/v1/alice/bob"));
    assert_int_equal(db_long("SELECT count(*) FROM room_users WHERE room_id = $1",
                             PARAMS("triominos/v1/alice/bob")), 2);
}

static void test_create_room_sorts_users_bytewise(void **state)
{
    (void)state;
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"b\",\"a\",\"B\"]}",
                          PFX "/auth/%s/rooms", IT_SECRET);
    assert_room(r, "t/B/a/b", "t", USERS("B", "a", "b"), 0);
    resp_free(r);
    /* and stays sorted when read back */
    r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc("t/B/a/b"));
    assert_room(r, "t/B/a/b", "t", USERS("B", "a", "b"), 0);
    resp_free(r);
}

static void test_create_room_existing_returns_messages_newest_first(void **state)
{
    (void)state;
    const char *id = "triominos/v1/alice/bob";
    resp_t *r = http_post("{\"type\":\"triominos/v1\",\"users\":[\"alice\",\"bob\"]}",
                          PFX "/auth/%s/rooms", TOK_ALICE);
    assert_room(r, id, "triominos/v1", USERS("alice", "bob"), 0);
    resp_free(r);
    api_post_msg(TOK_ALICE, id, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"one\"}");
    api_post_msg(TOK_BOB, id, "{\"timestamp\":2,\"type\":\"text\",\"message\":\"two\"}");
    api_post_msg(TOK_ALICE, id, "{\"timestamp\":3,\"type\":\"text\",\"message\":\"three\"}");

    /* users in another order name the same room */
    r = http_post("{\"type\":\"triominos/v1\",\"users\":[\"bob\",\"alice\"]}",
                  PFX "/auth/%s/rooms", TOK_BOB);
    json_object *m = assert_room(r, id, "triominos/v1", USERS("alice", "bob"), 3);
    assert_msg(json_object_array_get_idx(m, 0), "3", "alice", "text", "three");
    assert_msg(json_object_array_get_idx(m, 1), "2", "bob", "text", "two");
    assert_msg(json_object_array_get_idx(m, 2), "1", "alice", "text", "one");
    resp_free(r);
    assert_int_equal(db_count_rooms(), 1);
    assert_int_equal(db_count_messages(id), 3);
}

static void test_create_room_keeps_only_id_type_users(void **state)
{
    (void)state;
    resp_t *r = http_post("{\"id\":\"evil/room\",\"type\":\"t\",\"users\":[\"alice\"],"
                          "\"extra\":{\"x\":1},\"messages\":[{\"from\":\"x\"}]}",
                          PFX "/auth/%s/rooms", TOK_ALICE);
    assert_room(r, "t/alice", "t", USERS("alice"), 0);
    resp_free(r);
    assert_false(db_room_exists("evil/room"));
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc("t/alice"));
    assert_room(r, "t/alice", "t", USERS("alice"), 0);
    resp_free(r);
}

static void test_create_room_rejects_bad_bodies_with_400(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"users\":[\"alice\"]}",
        "{\"type\":\"\",\"users\":[\"alice\"]}",
        "{\"type\":5,\"users\":[\"alice\"]}",
        "{\"type\":null,\"users\":[\"alice\"]}",
        "{\"type\":true,\"users\":[\"alice\"]}",
        "{\"type\":[\"t\"],\"users\":[\"alice\"]}",
        "{\"type\":{\"a\":\"t\"},\"users\":[\"alice\"]}",
        "{\"type\":\"t\"}",
        "{\"type\":\"t\",\"users\":[]}",
        "{\"type\":\"t\",\"users\":\"alice\"}",
        "{\"type\":\"t\",\"users\":{\"0\":\"alice\"}}",
        "{\"type\":\"t\",\"users\":null}",
        "{\"type\":\"t\",\"users\":5}",
        "{\"type\":\"t\",\"users\":[1]}",
        "{\"type\":\"t\",\"users\":[\"alice\",2]}",
        "{\"type\":\"t\",\"users\":[\"alice\",\"\"]}",
        "{\"type\":\"t\",\"users\":[\"alice\",null]}",
        "{\"type\":\"t\",\"users\":[\"alice\",true]}",
        "{\"type\":\"t\",\"users\":[[\"alice\"]]}",
        "{\"type\":\"t\",\"users\":[{\"name\":\"alice\"}]}",
        "[]",
        "[{\"type\":\"t\",\"users\":[\"alice\"]}]",
        "\"x\"",
        "5",
        "true",
        NULL
    };
    for (size_t i = 0; bodies[i]; i++) {
        resp_t *r = http_post(bodies[i], PFX "/auth/%s/rooms", IT_SECRET);
        if (r->status != 400)
            print_error("body: %s\n", bodies[i]);
        assert_error(r, 400, "BadRequest", NULL);
        json_object *msg = json_object_object_get(resp_json(r), "message");
        if (strlen(json_object_get_string(msg)) == 0)
            print_error("body: %s: message should say what is wrong\n", bodies[i]);
        assert_true(strlen(json_object_get_string(msg)) > 0);
        resp_free(r);
    }
    /* a user token gets the same 400 (it cannot be checked against users) */
    resp_t *r = http_post("{\"type\":\"t\"}", PFX "/auth/%s/rooms", TOK_ALICE);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);
}

static void test_create_room_null_body_is_400_bad_request(void **state)
{
    (void)state;
    /* `null` is valid JSON, just not an object: BadRequest, not InvalidContent */
    resp_t *r = http_post("null", PFX "/auth/%s/rooms", IT_SECRET);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    r = http_post("null", PFX "/auth/%s/system-messages", IT_SECRET);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);
}

static void test_create_room_more_than_default_user_limit_is_400(void **state)
{
    (void)state;
    /* default MAX_USERS_PER_ROOM is 100 */
    json_object *body = json_object_new_object();
    json_object *users = json_object_new_array();
    for (int i = 0; i < 101; i++) {
        char name[16];
        snprintf(name, sizeof name, "u%03d", i);
        json_object_array_add(users, json_object_new_string(name));
    }
    json_object_object_add(body, "type", json_object_new_string("big"));
    json_object_object_add(body, "users", users);
    resp_t *r = http_post(json_object_to_json_string(body), PFX "/auth/%s/rooms", IT_SECRET);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);

    json_object_array_del_idx(users, 100, 1);
    r = http_post(json_object_to_json_string(body), PFX "/auth/%s/rooms", IT_SECRET);
    assert_status(r, 200);
    json_object *u = json_object_object_get(resp_json(r), "users");
    assert_int_equal(json_object_array_length(u), 100);
    resp_free(r);
    json_object_put(body);
}

static void test_create_room_invalid_token_is_401_unauthorized_error(void **state)
{
    (void)state;
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"alice\"]}",
                          PFX "/auth/%s/rooms", "no-such-token");
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);
}

static void test_create_room_user_not_in_users_is_401_unauthorized(void **state)
{
    (void)state;
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"bob\",\"carol\"]}",
                          PFX "/auth/%s/rooms", TOK_ALICE);
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);
}

static void test_create_room_banned_user_is_403(void **state)
{
    (void)state;
    db_meta("alice", "$banned", "1429084016939");
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}",
                          PFX "/auth/%s/rooms", TOK_ALICE);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    assert_int_equal(db_count_rooms(), 0);
    /* an existing room too */
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}");
    r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}",
                  PFX "/auth/%s/rooms", TOK_ALICE);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
}

static void test_create_room_api_secret_creates_any_room(void **state)
{
    (void)state;
    resp_t *r = http_post("{\"type\":\"game/v2\",\"users\":[\"zed\",\"yan\"]}",
                          PFX "/auth/%s/rooms", IT_SECRET);
    assert_room(r, "game/v2/yan/zed", "game/v2", USERS("yan", "zed"), 0);
    resp_free(r);
    assert_true(db_room_exists("game/v2/yan/zed"));
}

/* ---- GET room --------------------------------------------------------- */

static void test_get_room_member_gets_room(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}");
    api_post_msg(TOK_BOB, "t/alice/bob", "{\"timestamp\":10,\"type\":\"text\",\"message\":\"hi\"}");
    api_post_msg(TOK_ALICE, "t/alice/bob", "{\"timestamp\":11,\"type\":\"text\",\"message\":\"yo\"}");
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc("t/alice/bob"));
    json_object *m = assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 2);
    assert_msg(json_object_array_get_idx(m, 0), "11", "alice", "text", "yo");
    assert_msg(json_object_array_get_idx(m, 1), "10", "bob", "text", "hi");
    assert_header(r, "x-request-id");
    resp_free(r);
}

static void test_get_room_missing_is_404(void **state)
{
    (void)state;
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc("t/alice/bob"));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc("t/alice/bob"));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    /* a missing room is 404 even for someone who would not be in it */
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_CAROL, enc("t/alice/bob"));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
}

static void test_get_room_invalid_token_is_401_unauthorized_error(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}");
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", "bogus", enc("t/alice/bob"));
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    /* the token is checked before the room exists */
    r = http_get(PFX "/auth/%s/rooms/%s", "bogus", enc("t/nobody"));
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
}

static void test_get_room_non_member_is_401_unauthorized(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}");
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_CAROL, enc("t/alice/bob"));
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
}

static void test_get_room_api_secret_reads_every_room(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}");
    api_create_room("{\"type\":\"u\",\"users\":[\"carol\"]}");
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc("t/alice/bob"));
    assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 0);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc("u/carol"));
    assert_room(r, "u/carol", "u", USERS("carol"), 0);
    resp_free(r);
}

static void test_get_room_banned_user_can_still_read(void **state)
{
    (void)state;
    /* SPEC: $banned refuses create-room and post-message only */
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}");
    db_meta("alice", "$banned", "1");
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc("t/alice/bob"));
    assert_room(r, "t/alice/bob", "t", USERS("alice", "bob"), 0);
    resp_free(r);
}

/* ---- ping, about -------------------------------------------------------- */

static void test_ping_get_answers_pong_token_as_text(void **state)
{
    (void)state;
    resp_t *r = http_get(PFX "/ping/abc123");
    assert_status(r, 200);
    assert_string_equal(r->body, "pong/abc123");
    assert_content_type(r, "text/plain");
    assert_header(r, "x-request-id");
    resp_free(r);
}

static void test_ping_head_answers_200(void **state)
{
    (void)state;
    req_t q = { .method = "HEAD", .path = PFX "/ping/abc123" };
    resp_t *r = http_do(&q);
    assert_status(r, 200);
    assert_int_equal(r->len, 0);
    assert_header(r, "x-request-id");
    resp_free(r);
}

static void test_ping_token_is_url_decoded_once(void **state)
{
    (void)state;
    resp_t *r = http_get(PFX "/ping/a%%20b%%2541");
    assert_status(r, 200);
    assert_string_equal(r->body, "pong/a b%41");
    resp_free(r);
}

static void check_about(const char *path)
{
    resp_t *r = http_get("%s", path);
    assert_status(r, 200);
    assert_content_type(r, "application/json");
    json_object *j = resp_json(r), *v;
    assert_non_null(j);
    assert_json_str(j, "type", "chat");
    static const char *const keys[] = { "hostname", "version", "description", "startDate" };
    for (size_t i = 0; i < 4; i++) {
        if (!json_object_object_get_ex(j, keys[i], &v) || !json_object_is_type(v, json_type_string))
            print_error("%s: \"%s\" missing or not a string in %s\n", path, keys[i], r->body);
        assert_true(json_object_is_type(v, json_type_string));
    }
    assert_true(strlen(json_object_get_string(json_object_object_get(j, "hostname"))) > 0);
    assert_true(strlen(json_object_get_string(json_object_object_get(j, "version"))) > 0);
    assert_true(strlen(json_object_get_string(json_object_object_get(j, "startDate"))) > 0);
    assert_header(r, "x-request-id");
    resp_free(r);
}

static void test_about_answers_on_both_paths(void **state)
{
    (void)state;
    check_about("/about");
    check_about(PFX "/about");
}

/* ---- unknown paths, wrong methods, headers ------------------------------ */

static void check_not_found(const char *path, const char *secret_part)
{
    resp_t *r = http_get("%s", path);
    assert_error(r, 404, "ResourceNotFound", NULL);
    const char *msg = json_object_get_string(json_object_object_get(resp_json(r), "message"));
    if (!strstr(msg, "does not exist"))
        print_error("GET %s: message \"%s\" should end in \"does not exist\"\n", path, msg);
    assert_non_null(strstr(msg, "does not exist"));
    if (secret_part && strstr(msg, secret_part))
        print_error("GET %s: message \"%s\" reveals the token\n", path, msg);
    if (secret_part) {
        assert_null(strstr(msg, secret_part));
        assert_null(strstr(r->body, secret_part));
    }
    resp_free(r);
}

static void test_unknown_path_is_404_without_revealing_token(void **state)
{
    (void)state;
    check_not_found(PFX "/auth/tok-hidden-8812/nothing", "tok-hidden-8812");
    check_not_found(PFX "/auth/tok-hidden-8812", "tok-hidden-8812");
    check_not_found(PFX "/auth/tok-hidden-8812/", "tok-hidden-8812");
    check_not_found(PFX "/auth/tok-hidden-8812/rooms/x/messages/more", "tok-hidden-8812");
    check_not_found(PFX "/auth/" IT_SECRET "/bogus/path", IT_SECRET);
    check_not_found(PFX "/auth/" TOK_ALICE "/rooms/x/y/z/w", TOK_ALICE);
    check_not_found("/nope", NULL);
    check_not_found("/", NULL);
    check_not_found(PFX, NULL);
    check_not_found(PFX "/ping/a/b", NULL);
}

static void test_wrong_method_on_known_path_is_405(void **state)
{
    (void)state;
    static const struct { const char *method, *path, *body; } cases[] = {
        { "DELETE", PFX "/auth/" IT_SECRET "/rooms/t%2Falice%2Fbob", NULL },
        { "PUT", PFX "/auth/" IT_SECRET "/rooms/t%2Falice%2Fbob", "{}" },
        { "PATCH", PFX "/auth/" IT_SECRET "/rooms/t%2Falice%2Fbob", "{}" },
        { "POST", PFX "/auth/" IT_SECRET "/rooms/t%2Falice%2Fbob", "{}" },
        /* GET on this path is "my rooms" (issue 15) */
        { "DELETE", PFX "/auth/" IT_SECRET "/rooms", NULL },
        { "GET", PFX "/auth/" IT_SECRET "/rooms/t%2Falice%2Fbob/read", NULL },
        /* GET on this path is the history (issue 12); other methods are 405 */
        { "DELETE", PFX "/auth/" IT_SECRET "/rooms/t%2Falice%2Fbob/messages", NULL },
        { "PUT", PFX "/auth/" IT_SECRET "/rooms/t%2Falice%2Fbob/messages", "{}" },
        { "GET", PFX "/auth/" IT_SECRET "/system-messages", NULL },
        { "PUT", PFX "/ping/x", "{}" },
        { "POST", PFX "/ping/x", "{}" },
        { "DELETE", PFX "/ping/x", NULL },
        { "POST", PFX "/about", "{}" },
        { "POST", "/about", "{}" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s is not allowed", cases[i].method);
        req_t q = { .method = cases[i].method, .path = cases[i].path, .body = cases[i].body };
        resp_t *r = http_do(&q);
        assert_error(r, 405, "MethodNotAllowed", want);
        resp_free(r);
    }
    assert_int_equal(db_count_rooms(), 0);
}

static void test_every_answer_has_a_request_id(void **state)
{
    (void)state;
    char *seen[16] = { 0 };
    size_t n = 0;
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}");
    static const struct { const char *method, *path, *body; long status; } cases[] = {
        { "GET", PFX "/ping/x", NULL, 200 },
        { "GET", "/about", NULL, 200 },
        { "GET", PFX "/auth/" TOK_ALICE "/rooms/t%2Falice%2Fbob", NULL, 200 },
        { "POST", PFX "/auth/" TOK_ALICE "/rooms/t%2Falice%2Fbob/messages",
          "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}", 200 },
        { "POST", PFX "/auth/" TOK_ALICE "/rooms", "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}", 200 },
        { "POST", PFX "/auth/" TOK_ALICE "/rooms", "{\"type\":\"t\"}", 400 },
        { "POST", PFX "/auth/" TOK_ALICE "/rooms", "{nope", 400 },
        { "GET", PFX "/auth/bogus/rooms/t%2Falice%2Fbob", NULL, 401 },
        { "GET", PFX "/auth/" TOK_CAROL "/rooms/t%2Falice%2Fbob", NULL, 401 },
        { "GET", PFX "/auth/" TOK_ALICE "/rooms/t%2Fnone", NULL, 404 },
        { "GET", "/no/such/path", NULL, 404 },
        { "DELETE", PFX "/auth/" TOK_ALICE "/rooms/t%2Falice%2Fbob", NULL, 405 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        req_t q = { .method = cases[i].method, .path = cases[i].path, .body = cases[i].body };
        resp_t *r = http_do(&q);
        assert_status(r, cases[i].status);
        assert_header(r, "x-request-id");
        char *id = resp_header(r, "x-request-id");
        for (size_t k = 0; k < n; k++) {
            if (strcmp(seen[k], id) == 0)
                print_error("x-request-id %s used twice\n", id);
            assert_string_not_equal(seen[k], id);
        }
        seen[n++] = id;
        if (cases[i].status >= 400)
            assert_content_type(r, "application/json");
        resp_free(r);
    }
    for (size_t k = 0; k < n; k++)
        free(seen[k]);
}

static void test_json_content_type_with_charset_is_accepted(void **state)
{
    (void)state;
    req_t q = { .method = "POST", .path = PFX "/auth/" TOK_ALICE "/rooms",
                .body = "{\"type\":\"t\",\"users\":[\"alice\"]}",
                .content_type = "application/json; charset=utf-8" };
    resp_t *r = http_do(&q);
    assert_room(r, "t/alice", "t", USERS("alice"), 0);
    resp_free(r);
}

/* ---- gzip ------------------------------------------------------------- */

static void test_large_room_is_gzipped_only_when_accepted(void **state)
{
    (void)state;
    char body[1024], text[401];
    memset(text, 'x', 400);
    text[400] = '\0';
    api_create_room("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}");
    for (int i = 0; i < 6; i++) {
        snprintf(body, sizeof body,
                 "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"%d%s\"}", i, i, text);
        api_post_msg(TOK_ALICE, "t/alice/bob", body);
    }
    char path[256];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s", TOK_ALICE, enc("t/alice/bob"));

    req_t plain_q = { .method = "GET", .path = path };
    resp_t *plain = http_do(&plain_q);
    assert_room(plain, "t/alice/bob", "t", USERS("alice", "bob"), 6);
    assert_true(plain->len > 1024);
    char *ce = resp_header(plain, "Content-Encoding");
    if (ce && strcasecmp(ce, "identity") != 0)
        print_error("Content-Encoding %s without Accept-Encoding\n", ce);
    assert_true(!ce || strcasecmp(ce, "identity") == 0);
    free(ce);

    req_t gz_q = { .method = "GET", .path = path, .accept_encoding = "gzip" };
    resp_t *gz = http_do(&gz_q);
    assert_status(gz, 200);
    ce = resp_header(gz, "Content-Encoding");
    if (!ce || strcasecmp(ce, "gzip") != 0)
        print_error("Content-Encoding is %s with Accept-Encoding: gzip\n", ce ? ce : "(none)");
    assert_non_null(ce);
    assert_string_equal(ce, "gzip");
    free(ce);
    assert_non_null(resp_json(gz));
    assert_true(json_object_equal(resp_json(gz), resp_json(plain)));
    resp_free(plain);
    resp_free(gz);
}

/* ---- routing on the raw path ---------------------------------------------- */

static void test_room_id_fully_encoded_is_routed(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"triominos/v1\",\"users\":[\"alice\",\"bob\"]}");
    resp_t *r = http_get(PFX "/auth/%s/rooms/triominos%%2Fv1%%2Falice%%2Fbob", TOK_ALICE);
    assert_room(r, "triominos/v1/alice/bob", "triominos/v1", USERS("alice", "bob"), 0);
    resp_free(r);
    /* lower-case hex too */
    r = http_get(PFX "/auth/%s/rooms/triominos%%2fv1%%2falice%%2fbob", TOK_ALICE);
    assert_room(r, "triominos/v1/alice/bob", "triominos/v1", USERS("alice", "bob"), 0);
    resp_free(r);
    r = http_post("{\"timestamp\":5,\"type\":\"text\",\"message\":\"x\"}",
                  PFX "/auth/%s/rooms/triominos%%2Fv1%%2Falice%%2Fbob/messages", TOK_BOB);
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages("triominos/v1/alice/bob"), 1);
}

static void test_room_id_with_only_slashes_encoded_is_routed(void **state)
{
    (void)state;
    /* "zoë" sent as raw UTF-8, "o'brien;--" with its punctuation raw */
    json_object *b = json_object_new_object();
    json_object *u = json_object_new_array();
    json_object_array_add(u, json_object_new_string("zo\xc3\xab"));
    json_object_array_add(u, json_object_new_string("o'brien;--"));
    json_object_object_add(b, "type", json_object_new_string("game/v1"));
    json_object_object_add(b, "users", u);
    api_create_room(json_object_to_json_string(b));
    json_object_put(b);
    const char *id = "game/v1/o'brien;--/zo\xc3\xab";
    assert_true(db_room_exists(id));

    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc_slash(id));
    assert_room(r, id, "game/v1", USERS("o'brien;--", "zo\xc3\xab"), 0);
    resp_free(r);
    r = http_post("{\"timestamp\":1,\"type\":\"text\",\"message\":\"raw\"}",
                  PFX "/auth/%s/rooms/%s/messages", IT_SECRET, enc_slash(id));
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(id), 1);
}

static void test_plus_in_room_id_is_not_a_space(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"t\",\"users\":[\"a+b\",\"c\"]}");
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc_slash("t/a+b/c"));
    assert_room(r, "t/a+b/c", "t", USERS("a+b", "c"), 0);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc("t/a+b/c"));
    assert_room(r, "t/a+b/c", "t", USERS("a+b", "c"), 0);
    resp_free(r);
}

static void test_room_id_is_decoded_exactly_once(void **state)
{
    (void)state;
    /* a user literally named "50%2Foff": encoded once it is 50%252Foff */
    api_create_room("{\"type\":\"t\",\"users\":[\"50%2Foff\",\"x\"]}");
    const char *id = "t/50%2Foff/x";
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc(id));
    assert_room(r, id, "t", USERS("50%2Foff", "x"), 0);
    resp_free(r);
    /* decoding twice would look for t/50/off/x */
    r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc("t/50/off/x"));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
}

static void test_room_with_user_named_messages_is_routed_by_segments(void **state)
{
    (void)state;
    const char *id = "t/alice/messages";
    db_token("tok-messages-user", "messages", NULL);
    api_create_room("{\"type\":\"t\",\"users\":[\"messages\",\"alice\"]}");

    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(id));
    assert_room(r, id, "t", USERS("alice", "messages"), 0);
    resp_free(r);

    r = http_post("{\"timestamp\":7,\"type\":\"text\",\"message\":\"to messages\"}",
                  PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(id));
    assert_empty_ok(r);
    resp_free(r);
    r = http_post("{\"timestamp\":8,\"type\":\"text\",\"message\":\"from messages\"}",
                  PFX "/auth/%s/rooms/%s/messages", "tok-messages-user", enc(id));
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(id), 2);
    assert_int_equal(db_count_rooms(), 1);

    r = http_get(PFX "/auth/%s/rooms/%s", "tok-messages-user", enc(id));
    json_object *m = assert_room(r, id, "t", USERS("alice", "messages"), 2);
    assert_msg(json_object_array_get_idx(m, 0), "8", "messages", "text", "from messages");
    assert_msg(json_object_array_get_idx(m, 1), "7", "alice", "text", "to messages");
    resp_free(r);

    /* POST on the room path itself (no trailing /messages segment) is no post */
    r = http_post("{\"timestamp\":9,\"type\":\"text\",\"message\":\"x\"}",
                  PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(id));
    assert_error(r, 405, "MethodNotAllowed", "POST is not allowed");
    resp_free(r);
    assert_int_equal(db_count_messages(id), 2);
}

static void test_odd_user_names_are_stored_and_returned_verbatim(void **state)
{
    (void)state;
    static const char *const names[] = {
        "o'brien; DROP TABLE rooms;--",
        "Robert\"); DROP TABLE messages;--",
        "zo\xc3\xab",
        "\xf0\x9f\x98\x80 emoji",
        "back\\slash",
        "100%",
        "a?b#c&d=e",
    };
    size_t n = sizeof names / sizeof names[0];
    json_object *b = json_object_new_object();
    json_object *u = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(u, json_object_new_string(names[i]));
    json_object_object_add(b, "type", json_object_new_string("t"));
    json_object_object_add(b, "users", u);
    resp_t *r = http_post(json_object_to_json_string(b), PFX "/auth/%s/rooms", IT_SECRET);
    json_object_put(b);
    assert_status(r, 200);

    /* expected order: strcmp */
    const char *sorted[16];
    for (size_t i = 0; i < n; i++)
        sorted[i] = names[i];
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            if (strcmp(sorted[k], sorted[i]) < 0) {
                const char *t = sorted[i];
                sorted[i] = sorted[k];
                sorted[k] = t;
            }
    char id[1024] = "t";
    for (size_t i = 0; i < n; i++) {
        strcat(id, "/");
        strcat(id, sorted[i]);
    }
    h_assert_room(r, id, "t", sorted, n, 0, __FILE__, __LINE__);
    resp_free(r);

    /* the tables are still there, the room is readable by its full id */
    assert_int_equal(db_count_rooms(), 1);
    assert_true(db_room_exists(id));
    db_token("tok-obrien", "o'brien; DROP TABLE rooms;--", NULL);
    const char *msg = "'; DELETE FROM messages; -- \xe2\x9c\x93 \\u0000 </script>";
    json_object *mb = json_object_new_object();
    json_object_object_add(mb, "timestamp", json_object_new_int64(1));
    json_object_object_add(mb, "type", json_object_new_string("text"));
    json_object_object_add(mb, "message", json_object_new_string(msg));
    r = http_post(json_object_to_json_string(mb), PFX "/auth/%s/rooms/%s/messages",
                  "tok-obrien", enc(id));
    json_object_put(mb);
    assert_empty_ok(r);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", "tok-obrien", enc(id));
    json_object *m = h_assert_room(r, id, "t", sorted, n, 1, __FILE__, __LINE__);
    assert_msg(json_object_array_get_idx(m, 0), "1", "o'brien; DROP TABLE rooms;--", "text", msg);
    resp_free(r);
    assert_int_equal(db_long("SELECT count(*) FROM room_users WHERE room_id = $1", PARAMS(id)),
                     (long long)n);
}

int run_routes_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_create_room_new_returns_room_with_empty_messages),
        T(test_create_room_sorts_users_bytewise),
        T(test_create_room_existing_returns_messages_newest_first),
        T(test_create_room_keeps_only_id_type_users),
        T(test_create_room_rejects_bad_bodies_with_400),
        T(test_create_room_null_body_is_400_bad_request),
        T(test_create_room_more_than_default_user_limit_is_400),
        T(test_create_room_invalid_token_is_401_unauthorized_error),
        T(test_create_room_user_not_in_users_is_401_unauthorized),
        T(test_create_room_banned_user_is_403),
        T(test_create_room_api_secret_creates_any_room),
        T(test_get_room_member_gets_room),
        T(test_get_room_missing_is_404),
        T(test_get_room_invalid_token_is_401_unauthorized_error),
        T(test_get_room_non_member_is_401_unauthorized),
        T(test_get_room_api_secret_reads_every_room),
        T(test_get_room_banned_user_can_still_read),
        T(test_ping_get_answers_pong_token_as_text),
        T(test_ping_head_answers_200),
        T(test_ping_token_is_url_decoded_once),
        T(test_about_answers_on_both_paths),
        T(test_unknown_path_is_404_without_revealing_token),
        T(test_wrong_method_on_known_path_is_405),
        T(test_every_answer_has_a_request_id),
        T(test_json_content_type_with_charset_is_accepted),
        T(test_large_room_is_gzipped_only_when_accepted),
        T(test_room_id_fully_encoded_is_routed),
        T(test_room_id_with_only_slashes_encoded_is_routed),
        T(test_plus_in_room_id_is_not_a_space),
        T(test_room_id_is_decoded_exactly_once),
        T(test_room_with_user_named_messages_is_routed_by_segments),
        T(test_odd_user_names_are_stored_and_returned_verbatim),
    };
    return cmocka_run_group_tests_name("routes", tests, group_setup_default,
                                       group_teardown_server);
}
