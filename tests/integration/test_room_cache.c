/*
 * GET room's answers kept by each server (issue 17, migration 0014): a room
 * read again is answered from the server's cache only while PostgreSQL says
 * its version is unchanged, so every answer is the room as it is now, on
 * every server copy: after a post, a redaction (of a message or of a user),
 * a room created again after expiring; the token and the membership are
 * checked on every read; the cache holds to its byte budget.
 */
#include "harness.h"
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOM "rc/alice/bob"
#define MOD PFX "/auth/" IT_SECRET
#define ACTOR_BODY "{\"actor\":\"mod-ann\",\"reason\":\"report 5\"}"

/* The value of the Prometheus sample NAME on S's /metrics. */
static long long metric(server_t *s, const char *name)
{
    req_t q = { .srv = s, .method = "GET", .path = PFX "/metrics" };
    resp_t *r = http_do(&q);
    assert_status(r, 200);
    char needle[128];
    snprintf(needle, sizeof needle, "\n%s ", name);
    const char *at = strstr(r->body, needle);
    if (!at)
        fail_msg("no %s in /metrics: %s", name, r->body);
    long long v = atoll(at + strlen(needle));
    resp_free(r);
    return v;
}

/* GET ROOM on S as TOKEN (plain); 200 asserted; caller frees. */
static resp_t *get_room(server_t *s, const char *token)
{
    char path[256];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s", token, enc(ROOM));
    req_t q = { .srv = s, .method = "GET", .path = path };
    resp_t *r = http_do(&q);
    assert_status(r, 200);
    return r;
}

/* The message texts of a GET room answer, newest first, joined by ','. */
static void texts_of(resp_t *r, char *out, size_t size)
{
    json_object *msgs = json_object_object_get(resp_json(r), "messages");
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        n += (size_t)snprintf(out + n, size - n, "%s%s", i ? "," : "",
                              json_object_get_string(json_object_object_get(m, "message")));
        assert_true(n < size);
    }
}

/* Asserts that ROOM read on S as TOKEN shows WANT (texts, newest first). */
static void assert_texts(server_t *s, const char *token, const char *want)
{
    resp_t *r = get_room(s, token);
    char got[1024];
    texts_of(r, got, sizeof got);
    assert_string_equal(got, want);
    resp_free(r);
}

static void room_with(int n)
{
    api_room_of_two("rc", "alice", "bob");
    for (int i = 1; i <= n; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        api_post_text(TOK_ALICE, ROOM, text);
    }
}

static void test_a_room_read_again_is_answered_from_the_cache(void **state)
{
    (void)state;
    room_with(3);
    long long hits = metric(h_srv, "chat_room_cache_hits_total");
    long long misses = metric(h_srv, "chat_room_cache_misses_total");
    resp_t *first = get_room(h_srv, TOK_BOB);
    resp_t *again = get_room(h_srv, TOK_ALICE);
    assert_string_equal(first->body, again->body);
    assert_room(again, ROOM, "rc", USERS("alice", "bob"), 3);
    assert_int_equal(metric(h_srv, "chat_room_cache_misses_total"), misses + 1);
    assert_int_equal(metric(h_srv, "chat_room_cache_hits_total"), hits + 1);
    assert_true(metric(h_srv, "chat_room_cache_entries") >= 1);
    /* A client that takes gzip gets the kept bytes: the same JSON. */
    char path[256];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    req_t q = { .method = "GET", .path = path, .accept_encoding = "gzip" };
    resp_t *z = http_do(&q);
    assert_status(z, 200);
    assert_string_equal(z->body, first->body);
    char *enc_hdr = resp_header(z, "Content-Encoding");
    assert_non_null(enc_hdr);
    assert_string_equal(enc_hdr, "gzip");
    free(enc_hdr);
    assert_content_type(z, "application/json");
    assert_int_equal(metric(h_srv, "chat_room_cache_hits_total"), hits + 2);
    resp_free(z);
    resp_free(first);
    resp_free(again);
}

static void test_a_post_is_in_the_next_read(void **state)
{
    (void)state;
    room_with(2);
    assert_texts(h_srv, TOK_BOB, "m2,m1");
    api_post_text(TOK_BOB, ROOM, "m3");
    assert_texts(h_srv, TOK_BOB, "m3,m2,m1");
    assert_texts(h_srv, TOK_ALICE, "m3,m2,m1");
}

/* Both servers hold the room; a redaction through one is gone from the
 * other's next answer (its version moved: rooms.edits). */
static void test_redactions_are_gone_from_every_servers_cache(void **state)
{
    (void)state;
    room_with(3);
    api_room_of_two("rc2", "alice", "bob");
    api_post_text(TOK_ALICE, "rc2/alice/bob", "other room");
    server_t *other = scoped_server(NULL);
    assert_texts(h_srv, TOK_BOB, "m3,m2,m1");
    assert_texts(other, TOK_BOB, "m3,m2,m1");
    long long id = db_long("SELECT id FROM messages WHERE room_id = $1 AND message = 'm2'",
                           PARAMS(ROOM));
    char path[128];
    snprintf(path, sizeof path, MOD "/archive/messages/%lld/redact", id);
    req_t q = { .srv = other, .method = "POST", .path = path, .body = ACTOR_BODY };
    resp_t *r = http_do(&q);
    assert_status(r, 200);
    resp_free(r);
    assert_texts(h_srv, TOK_BOB, "m3,m1");
    assert_texts(other, TOK_BOB, "m3,m1");
    /* Everything alice sent, in every room she is in. */
    r = http_post(ACTOR_BODY, MOD "/archive/users/alice/redact");
    assert_status(r, 200);
    resp_free(r);
    assert_texts(other, TOK_BOB, "");
    assert_texts(h_srv, TOK_ALICE, "");
    char rc2[256];
    snprintf(rc2, sizeof rc2, PFX "/auth/%s/rooms/%s", TOK_BOB, enc("rc2/alice/bob"));
    r = http_get("%s", rc2);
    assert_room(r, "rc2/alice/bob", "rc2", USERS("alice", "bob"), 0);
    resp_free(r);
}

/* A room that expired and is created again starts empty (its version
 * names the new room: rooms.created_at), also on a server that held it. */
static void test_a_room_created_again_is_not_the_old_one(void **state)
{
    (void)state;
    room_with(2);
    assert_texts(h_srv, TOK_ALICE, "m2,m1");
    db_expire_room(ROOM);
    char path[256];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    resp_t *r = http_get("%s", path);
    assert_error(r, 404, "NotFound", NULL);
    resp_free(r);
    api_room_of_two("rc", "alice", "bob");
    assert_texts(h_srv, TOK_ALICE, "");
}

/* A kept answer is served only after the token and the membership are
 * checked again. */
static void test_tokens_and_members_are_checked_on_every_read(void **state)
{
    (void)state;
    room_with(1);
    assert_texts(h_srv, TOK_ALICE, "m1");
    char path[256];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s", TOK_CAROL, enc(ROOM));
    resp_t *r = http_get("%s", path);
    assert_error(r, 401, "Unauthorized", NULL);
    resp_free(r);
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s", IT_SECRET, enc(ROOM));
    r = http_get("%s", path);
    assert_room(r, ROOM, "rc", USERS("alice", "bob"), 1);
    resp_free(r);
    db_exec("DELETE FROM auth_tokens WHERE token = $1", PARAMS(TOK_ALICE));
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    r = http_get("%s", path);
    assert_error(r, 401, "UnauthorizedError", NULL);
    resp_free(r);
}

/* POST rooms for ROOM as TOKEN; 200 asserted; caller frees. */
static resp_t *open_room(server_t *s, const char *token)
{
    char path[256];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms", token);
    req_t q = { .srv = s, .method = "POST", .path = path,
                .body = "{\"type\":\"rc\",\"users\":[\"alice\",\"bob\"]}" };
    resp_t *r = http_do(&q);
    assert_status(r, 200);
    return r;
}

/* POST rooms for a room that is there answers what GET room answers: the
 * kept answer while the version holds, the room as it is now after a post
 * or a redaction through another server. */
static void test_create_again_answers_as_get_room(void **state)
{
    (void)state;
    resp_t *created = open_room(h_srv, TOK_ALICE);
    assert_room(created, ROOM, "rc", USERS("alice", "bob"), 0);
    resp_free(created);
    api_post_text(TOK_ALICE, ROOM, "m1");
    api_post_text(TOK_ALICE, ROOM, "m2");
    resp_t *got = get_room(h_srv, TOK_BOB);
    long long hits = metric(h_srv, "chat_room_cache_hits_total");
    resp_t *again = open_room(h_srv, TOK_BOB);
    assert_string_equal(again->body, got->body);
    assert_int_equal(metric(h_srv, "chat_room_cache_hits_total"), hits + 1);
    resp_free(again);
    resp_free(got);
    server_t *other = scoped_server(NULL);
    char body[128], path[256];
    snprintf(body, sizeof body, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m3\"}");
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s/messages", TOK_BOB, enc(ROOM));
    req_t q = { .srv = other, .method = "POST", .path = path, .body = body };
    resp_t *r = http_do(&q);
    assert_status(r, 200);
    resp_free(r);
    r = open_room(h_srv, TOK_ALICE);
    char texts[256];
    texts_of(r, texts, sizeof texts);
    assert_string_equal(texts, "m3,m2,m1");
    resp_free(r);
    long long id = db_long("SELECT id FROM messages WHERE room_id = $1 AND message = 'm1'",
                           PARAMS(ROOM));
    snprintf(path, sizeof path, MOD "/archive/messages/%lld/redact", id);
    req_t red = { .srv = other, .method = "POST", .path = path, .body = ACTOR_BODY };
    r = http_do(&red);
    assert_status(r, 200);
    resp_free(r);
    r = open_room(h_srv, TOK_ALICE);
    texts_of(r, texts, sizeof texts);
    assert_string_equal(texts, "m3,m2");
    resp_free(r);
}

static void test_cache_off_answers_the_same(void **state)
{
    (void)state;
    room_with(2);
    server_t *off = scoped_server(OVERRIDES("ROOM_CACHE_BYTES=0"));
    resp_t *a = get_room(off, TOK_ALICE);
    resp_t *b = get_room(h_srv, TOK_ALICE);
    resp_t *c = get_room(h_srv, TOK_ALICE);
    assert_string_equal(a->body, b->body);
    assert_string_equal(a->body, c->body);
    resp_free(a);
    resp_free(b);
    resp_free(c);
    assert_int_equal(metric(off, "chat_room_cache_hits_total"), 0);
    assert_int_equal(metric(off, "chat_room_cache_entries"), 0);
}

/* 60 rooms read through a cache of 16 kB (1 kB a shard, a few answers
 * each): it keeps some, never more than its budget, and every answer is
 * right. */
static void test_the_cache_keeps_to_its_budget(void **state)
{
    (void)state;
    server_t *small = scoped_server(OVERRIDES("ROOM_CACHE_BYTES=16384"));
    for (int i = 0; i < 60; i++) {
        char user[16], room[64], path[256];
        snprintf(user, sizeof user, "u%02d", i);
        snprintf(room, sizeof room, "rc/alice/%s", user);
        api_room_of_two("rc", "alice", user);
        api_post_text(TOK_ALICE, room, user);
        snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(room));
        for (int k = 0; k < 2; k++) {
            req_t q = { .srv = small, .method = "GET", .path = path };
            resp_t *r = http_do(&q);
            assert_room(r, room, "rc", USERS("alice", user), 1);
            resp_free(r);
        }
    }
    long long entries = metric(small, "chat_room_cache_entries");
    assert_true(entries >= 1 && entries < 60);
    assert_true(metric(small, "chat_room_cache_bytes") <= 16384);
    assert_true(metric(small, "chat_room_cache_hits_total") >= 1);
}

int run_room_cache_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_a_room_read_again_is_answered_from_the_cache),
        T(test_a_post_is_in_the_next_read),
        T(test_redactions_are_gone_from_every_servers_cache),
        T(test_a_room_created_again_is_not_the_old_one),
        T(test_tokens_and_members_are_checked_on_every_read),
        T(test_create_again_answers_as_get_room),
        T(test_cache_off_answers_the_same),
        T(test_the_cache_keeps_to_its_budget),
    };
    return cmocka_run_group_tests_name("room_cache", tests, group_setup_default,
                                       group_teardown_server);
}
