/*
 * The original's Redis links, against the suite's real redis-server:
 * player tokens from the authdb Redis (the key is the token, the value
 * node-authdb's JSON account), policies from the usermeta Redis
 * ("user:key"), on every route; a Redis stopped, paused or restarted costs
 * 503s within the deadline, never a 401, a hang or a lost message, and the
 * service heals by itself. (The policy rules themselves run against Redis
 * in the policies_redis and notify_redis groups.)
 */
#include "harness.h"
#include "tests.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ROOM "t/alice/bob"
#define RTOK_ALICE "rtok-alice-1"
#define RTOK_BOB "rtok-bob-2"
static const char *const ROOM_BODY = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";
static const char *const GOOD = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}";

static char auth_addr[64], auth_port[64], meta_addr[64], meta_port[64];

/* Both links on the suite's Redis; the authdb holds alice's and bob's
 * tokens as ganomede-users writes them. */
static server_t *linked_server(const char *extra)
{
    int port = h_redis_port();
    snprintf(auth_addr, sizeof auth_addr, "REDIS_AUTH_PORT_6379_TCP_ADDR=127.0.0.1");
    snprintf(auth_port, sizeof auth_port, "REDIS_AUTH_PORT_6379_TCP_PORT=%d", port);
    snprintf(meta_addr, sizeof meta_addr, "REDIS_USERMETA_PORT_6379_TCP_ADDR=127.0.0.1");
    snprintf(meta_port, sizeof meta_port, "REDIS_USERMETA_PORT_6379_TCP_PORT=%d", port);
    REDIS("SET", RTOK_ALICE, "{\"username\":\"alice\",\"email\":\"a@example.com\",\"level\":3}");
    REDIS("SET", RTOK_BOB, "{\"username\":\"bob\"}");
    server_t *s = scoped_server(extra ? OVERRIDES(auth_addr, auth_port, meta_addr, meta_port,
                                                  "REDIS_TIMEOUT_MS=1000", extra)
                                      : OVERRIDES(auth_addr, auth_port, meta_addr, meta_port,
                                                  "REDIS_TIMEOUT_MS=1000"));
    h_srv = s;
    return s;
}

static resp_t *post_msg(const char *token, const char *body)
{
    return http_post(body, PFX "/auth/%s/rooms/%s/messages", token, enc(ROOM));
}

static resp_t *get_room(const char *token)
{
    return http_get(PFX "/auth/%s/rooms/%s", token, enc(ROOM));
}

/* Waits up to SECONDS for GET room as TOKEN to answer 200. */
static bool heals_within(const char *token, double seconds)
{
    double until = now_s() + seconds * h_slow_factor();
    while (now_s() < until) {
        resp_t *r = get_room(token);
        long st = r->status;
        resp_free(r);
        if (st == 200)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

static void test_player_tokens_from_authdb_on_every_route(void **state)
{
    (void)state;
    linked_server(NULL);
    resp_t *r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", RTOK_ALICE);
    assert_status(r, 200);
    resp_free(r);
    r = post_msg(RTOK_ALICE, GOOD);
    assert_empty_ok(r);
    resp_free(r);
    r = get_room(RTOK_BOB);
    json_object *msgs = assert_room(r, ROOM, "t", USERS("alice", "bob"), 1);
    assert_msg(json_object_array_get_idx(msgs, 0), "1", "alice", "text", "m");
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s/messages", RTOK_BOB, enc(ROOM));
    assert_status(r, 200);
    resp_free(r);
    /* The secret and SECRET.name need no Redis; a player token is no secret. */
    r = get_room(IT_SECRET ".bob");
    assert_status(r, 200);
    resp_free(r);
    r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":2,\"message\":\"E\"}",
                  PFX "/auth/%s/system-messages", RTOK_ALICE);
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
    /* With the link set, auth_tokens is not read: the table's token is unknown. */
    r = get_room(TOK_ALICE);
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    r = get_room("rtok-nobody");
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
}

static void test_deleted_or_expired_key_is_honoured_at_once(void **state)
{
    (void)state;
    linked_server(NULL);
    api_create_room(ROOM_BODY);
    resp_t *r = get_room(RTOK_BOB);
    assert_status(r, 200);
    resp_free(r);
    REDIS("DEL", RTOK_BOB);
    r = get_room(RTOK_BOB);
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    r = post_msg(RTOK_BOB, GOOD);
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    REDIS("SET", RTOK_BOB, "{\"username\":\"bob\"}", "PX", "300");
    r = post_msg(RTOK_BOB, GOOD);
    assert_empty_ok(r);
    resp_free(r);
    usleep(400 * 1000);
    r = post_msg(RTOK_BOB, GOOD);
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 1);
}

static void test_values_that_are_not_accounts_are_invalid_tokens(void **state)
{
    (void)state;
    linked_server(NULL);
    api_create_room(ROOM_BODY);
    static const char *const bad[] = {
        "not json", "{\"user\":\"bob\"}", "{\"username\":7}", "{\"username\":\"\"}",
        "[\"bob\"]", "\"bob\"", "{\"username\":\"bob\"} trailing", "{\"username\":\"bob\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        REDIS("SET", "rtok-odd", bad[i]);
        resp_t *r = get_room("rtok-odd");
        assert_error(r, 401, "UnauthorizedError", "not authorized");
        resp_free(r);
    }
    REDIS("DEL", "rtok-odd");
    REDIS("RPUSH", "rtok-odd", "{\"username\":\"bob\"}");   /* not a string */
    resp_t *r = get_room("rtok-odd");
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
}

static void test_policies_come_from_usermeta_redis_not_the_table(void **state)
{
    (void)state;
    linked_server(NULL);
    api_create_room(ROOM_BODY);
    db_exec("INSERT INTO usermeta (username, key, value) VALUES ('alice', '$banned', '1')",
            0, NULL);
    resp_t *r = post_msg(RTOK_ALICE, GOOD);
    assert_empty_ok(r);   /* the table's ban is not the source any more */
    resp_free(r);
    REDIS("SET", "alice:$banned", "1764601200000");
    r = post_msg(RTOK_ALICE, GOOD);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", RTOK_ALICE);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    REDIS("SET", "alice:$banned", "<no>");   /* ganomede-users' unban */
    r = post_msg(RTOK_ALICE, GOOD);
    assert_empty_ok(r);
    resp_free(r);
    REDIS("SET", "alice:$muted", "true");
    r = post_msg(RTOK_ALICE, GOOD);
    assert_empty_ok(r);   /* muted: 200, nothing stored */
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 2);
    REDIS("SET", "alice:$chatdisabled", "true");
    r = post_msg(RTOK_ALICE, GOOD);
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
}

/* Redis stopped: 503 (never 401) within the deadline, the rest of the
 * service up; started again: 200 within 10 s, by itself. */
static void test_redis_down_is_503_and_heals(void **state)
{
    (void)state;
    linked_server(NULL);
    api_create_room(ROOM_BODY);
    h_redis_stop();
    resp_t *r = get_room(RTOK_BOB);
    assert_error(r, 503, "ServiceUnavailable", "authdb unavailable, retry later");
    assert_true(r->seconds < 6.0);
    resp_free(r);
    r = post_msg(IT_SECRET ".alice", GOOD);
    assert_error(r, 503, "ServiceUnavailable", "usermeta unavailable, retry later");
    resp_free(r);
    r = http_get(PFX "/ping/x");
    assert_status(r, 200);
    resp_free(r);
    r = get_room(IT_SECRET ".bob");   /* no Redis needed */
    assert_status(r, 200);
    resp_free(r);
    h_redis_port();   /* started again, empty, on the same port */
    REDIS("SET", RTOK_BOB, "{\"username\":\"bob\"}");
    assert_true(heals_within(RTOK_BOB, 10));
    assert_true(h_log_contains(h_srv, "authdb Redis at 127.0.0.1"));
}

/* A paused Redis accepts connections and never answers: the deadline
 * (REDIS_TIMEOUT_MS=1000 here) turns it into a 503. */
static void test_paused_redis_is_503_within_the_deadline(void **state)
{
    (void)state;
    linked_server(NULL);
    api_create_room(ROOM_BODY);
    resp_t *r = get_room(RTOK_BOB);
    assert_status(r, 200);
    resp_free(r);
    h_redis_pause(true);
    r = get_room(RTOK_BOB);
    long status = r->status;
    double took = r->seconds;
    resp_free(r);
    r = post_msg(IT_SECRET ".alice", GOOD);
    long post_status = r->status;
    resp_free(r);
    h_redis_pause(false);
    assert_int_equal(status, 503);
    assert_true(took < 6.0);
    assert_int_equal(post_status, 503);
    assert_true(heals_within(RTOK_BOB, 10));
    assert_int_equal(db_count_messages(ROOM), 0);
}

struct poster {
    pthread_t th;
    int port;
    int index;
    volatile bool *stop;
    int ok, unavailable, other;
    long other_status;
};

static void *poster_main(void *arg)
{
    struct poster *p = arg;
    server_t srv = { .port = p->port };
    char path[256], body[128];
    snprintf(path, sizeof path, PFX "/auth/" RTOK_ALICE "/rooms/t%%2Falice%%2Fbob/messages");
    for (int i = 0; !*p->stop; i++) {
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"p%d-%d\"}",
                 i, p->index, i);
        req_t rq = { .srv = &srv, .method = "POST", .path = path, .body = body,
                     .timeout_ms = 10000 };
        resp_t *r = http_do(&rq);
        if (r->status == 200)
            p->ok++;
        else if (r->status == 503)
            p->unavailable++;
        else {
            p->other++;
            p->other_status = r->status;
        }
        resp_free(r);
    }
    return NULL;
}

/* Posts keep coming while Redis goes away and comes back: each is answered
 * 200 (and stored) or 503 (and not), nothing else, and every 200 is on
 * record. */
static void test_redis_restart_under_load_loses_nothing(void **state)
{
    (void)state;
    linked_server(NULL);
    api_create_room(ROOM_BODY);
    volatile bool stop = false;
    struct poster ps[4];
    for (int i = 0; i < 4; i++) {
        ps[i] = (struct poster){ .port = h_srv->port, .index = i, .stop = &stop };
        if (pthread_create(&ps[i].th, NULL, poster_main, &ps[i]) != 0)
            fail_msg("pthread_create failed");
    }
    usleep(700 * 1000);
    h_redis_stop();
    usleep(1000 * 1000);
    h_redis_port();
    REDIS("SET", RTOK_ALICE, "{\"username\":\"alice\"}");
    REDIS("SET", RTOK_BOB, "{\"username\":\"bob\"}");
    usleep(1500 * 1000);
    stop = true;
    int ok = 0, unavailable = 0, other = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(ps[i].th, NULL);
        ok += ps[i].ok;
        unavailable += ps[i].unavailable;
        other += ps[i].other;
        if (ps[i].other)
            print_error("poster %d got status %ld\n", i, ps[i].other_status);
    }
    assert_int_equal(other, 0);
    assert_true(unavailable > 0);
    assert_true(ok > 0);
    assert_int_equal(db_long("SELECT count(*) FROM message_record WHERE room_id = $1",
                             PARAMS(ROOM)),
                     ok);
    assert_true(heals_within(RTOK_BOB, 10));
}

int run_redis_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_player_tokens_from_authdb_on_every_route),
        T(test_deleted_or_expired_key_is_honoured_at_once),
        T(test_values_that_are_not_accounts_are_invalid_tokens),
        T(test_policies_come_from_usermeta_redis_not_the_table),
        T(test_redis_down_is_503_and_heals),
        T(test_paused_redis_is_503_within_the_deadline),
        T(test_redis_restart_under_load_loses_nothing),
    };
    return cmocka_run_group_tests_name("redis", tests, group_setup_default,
                                       group_teardown_server);
}
