/*
 * Room expiry: an expired room is gone for every route at once, comes back
 * empty when re-created, is deleted by `ganomede-chat expire` and by the
 * in-process job, and every create/message/system message refreshes it.
 */
#include "harness.h"
#include "tests.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROOM "t/alice/bob"
static const char *const ROOM_BODY = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";
static const char *const MSG = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"old\"}";

static void make_room_with_messages(const char *type, const char *u1, const char *u2, int n)
{
    char body[256], id[256];
    snprintf(body, sizeof body, "{\"type\":\"%s\",\"users\":[\"%s\",\"%s\"]}", type, u1, u2);
    api_create_room(body);
    snprintf(id, sizeof id, "%s/%s/%s", type, u1, u2);
    for (int i = 0; i < n; i++) {
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"m%d\"}", i, i);
        api_post_msg(IT_SECRET, id, body);
    }
}

/* expires_at is at least `days` days ahead. */
static bool expires_after_days(const char *room, int days)
{
    char d[16];
    snprintf(d, sizeof d, "%d", days);
    return db_long("SELECT (expires_at > now() + make_interval(days => $2::int))::int "
                   "FROM rooms WHERE id = $1", PARAMS(room, d)) == 1;
}

static void set_expiry_in_one_hour(const char *room)
{
    db_exec("UPDATE rooms SET expires_at = now() + interval '1 hour' WHERE id = $1",
            PARAMS(room));
}

static void test_expired_room_get_is_404(void **state)
{
    (void)state;
    make_room_with_messages("t", "alice", "bob", 2);
    db_expire_room(ROOM);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc(ROOM));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_CAROL, enc(ROOM));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
}

static void test_expired_room_post_message_is_404(void **state)
{
    (void)state;
    make_room_with_messages("t", "alice", "bob", 2);
    db_expire_room(ROOM);
    resp_t *r = http_post(MSG, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    r = http_post(MSG, PFX "/auth/%s/rooms/%s/messages", IT_SECRET, enc(ROOM));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    /* nothing was added to the dead room */
    assert_true(db_count_messages(ROOM) <= 2);
}

static void test_system_message_recreates_expired_room_with_only_the_event(void **state)
{
    (void)state;
    make_room_with_messages("t", "alice", "bob", 3);
    db_expire_room(ROOM);
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":99,"
                          "\"message\":\"REVIVED\"}", PFX "/auth/%s/system-messages", IT_SECRET);
    assert_empty_ok(r);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    json_object *m = assert_room(r, ROOM, "t", USERS("alice", "bob"), 1);
    assert_msg(json_object_array_get_idx(m, 0), "99", "$$", "event", "REVIVED");
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 1);
    assert_true(expires_after_days(ROOM, 59));
}

static void test_create_recreates_expired_room_empty(void **state)
{
    (void)state;
    make_room_with_messages("t", "alice", "bob", 3);
    db_expire_room(ROOM);
    resp_t *r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", TOK_BOB);
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 0);
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 0);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 0);
    resp_free(r);
    assert_true(expires_after_days(ROOM, 59));
    /* and it works as a fresh room */
    api_post_msg(TOK_ALICE, ROOM, "{\"timestamp\":5,\"type\":\"text\",\"message\":\"new\"}");
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    json_object *m = assert_room(r, ROOM, "t", USERS("alice", "bob"), 1);
    assert_msg(json_object_array_get_idx(m, 0), "5", "alice", "text", "new");
    resp_free(r);
}

/* The one line of `out` that is a bare integer; -1 if none or several. */
static long bare_integer_line(const char *out)
{
    long value = -1;
    int found = 0;
    const char *p = out;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        size_t i = 0, digits = 0;
        while (i < len && isspace((unsigned char)p[i]))
            i++;
        size_t start = i;
        while (i < len && isdigit((unsigned char)p[i])) {
            i++;
            digits++;
        }
        size_t end = i;
        while (i < len && isspace((unsigned char)p[i]))
            i++;
        if (digits > 0 && i == len) {
            value = strtol(p + start, NULL, 10);
            (void)end;
            found++;
        }
        p = eol ? eol + 1 : p + len;
    }
    return found == 1 ? value : -1;
}

static void test_expire_command_deletes_expired_rooms_and_prints_count(void **state)
{
    (void)state;
    make_room_with_messages("t", "alice", "bob", 3);
    make_room_with_messages("t", "alice", "carol", 2);
    make_room_with_messages("u", "bob", "carol", 1);
    make_room_with_messages("live", "alice", "bob", 2);
    db_expire_room("t/alice/bob");
    db_expire_room("t/alice/carol");
    db_expire_room("u/bob/carol");

    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "expire", NULL }, NULL, 60, &out, &err);
    if (rc != 0 || bare_integer_line(out) != 3)
        print_error("expire: exit %d\nstdout:\n%s\nstderr:\n%s\n", rc, out, err);
    assert_int_equal(rc, 0);
    assert_int_equal(bare_integer_line(out), 3);
    free(out);
    free(err);

    static const char *const dead[] = { "t/alice/bob", "t/alice/carol", "u/bob/carol" };
    for (size_t i = 0; i < 3; i++) {
        assert_false(db_room_exists(dead[i]));
        assert_int_equal(db_long("SELECT count(*) FROM room_users WHERE room_id = $1",
                                 PARAMS(dead[i])), 0);
        assert_int_equal(db_count_messages(dead[i]), 0);
    }
    assert_true(db_room_exists("live/alice/bob"));
    assert_int_equal(db_count_messages("live/alice/bob"), 2);
    assert_int_equal(db_long("SELECT count(*) FROM room_users WHERE room_id = $1",
                             PARAMS("live/alice/bob")), 2);
    assert_int_equal(db_long("SELECT count(*) FROM room_users", 0, NULL), 2);
    assert_int_equal(db_long("SELECT count(*) FROM messages", 0, NULL), 2);

    /* nothing left to do: prints 0 */
    rc = run_chat((const char *const[]){ "expire", NULL }, NULL, 60, &out, &err);
    if (rc != 0 || bare_integer_line(out) != 0)
        print_error("second expire: exit %d\nstdout:\n%s\nstderr:\n%s\n", rc, out, err);
    assert_int_equal(rc, 0);
    assert_int_equal(bare_integer_line(out), 0);
    free(out);
    free(err);
}

static void test_expiry_job_in_server_deletes_expired_rows(void **state)
{
    (void)state;
    scoped_server(OVERRIDES("EXPIRY_INTERVAL_SECONDS=1"));
    make_room_with_messages("t", "alice", "bob", 3);
    make_room_with_messages("live", "alice", "bob", 1);
    db_expire_room(ROOM);
    double end = now_s() + 10.0;
    long long rooms = 1, users = 1, msgs = 1;
    while (now_s() < end) {
        rooms = db_room_exists(ROOM);
        users = db_long("SELECT count(*) FROM room_users WHERE room_id = $1", PARAMS(ROOM));
        msgs = db_count_messages(ROOM);
        if (rooms + users + msgs == 0)
            break;
        usleep(200 * 1000);
    }
    if (rooms + users + msgs != 0)
        print_error("after 10 s: rooms %lld, room_users %lld, messages %lld remain\n",
                    rooms, users, msgs);
    assert_int_equal(rooms + users + msgs, 0);
    assert_true(db_room_exists("live/alice/bob"));
    assert_int_equal(db_count_messages("live/alice/bob"), 1);
}

static void test_post_message_refreshes_expiry(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    set_expiry_in_one_hour(ROOM);
    assert_false(expires_after_days(ROOM, 1));
    api_post_msg(TOK_ALICE, ROOM, MSG);
    assert_true(expires_after_days(ROOM, 59));
}

static void test_create_existing_room_refreshes_expiry(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    set_expiry_in_one_hour(ROOM);
    resp_t *r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", TOK_ALICE);
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 0);
    resp_free(r);
    assert_true(expires_after_days(ROOM, 59));
}

static void test_system_message_refreshes_expiry(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    set_expiry_in_one_hour(ROOM);
    resp_t *r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,"
                          "\"message\":\"E\"}", PFX "/auth/%s/system-messages", IT_SECRET);
    assert_empty_ok(r);
    resp_free(r);
    assert_true(expires_after_days(ROOM, 59));
}

static void test_reading_a_room_does_not_refresh_expiry(void **state)
{
    (void)state;
    api_create_room(ROOM_BODY);
    set_expiry_in_one_hour(ROOM);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    assert_status(r, 200);
    resp_free(r);
    assert_false(expires_after_days(ROOM, 1));
}

static void test_room_ttl_seconds_sets_the_expiry(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("ROOM_TTL_SECONDS=3600"));
    api_create_room(ROOM_BODY);
    assert_int_equal(db_long("SELECT (expires_at BETWEEN now() + interval '3500 seconds' "
                             "AND now() + interval '3700 seconds')::int FROM rooms WHERE id = $1",
                             PARAMS(ROOM)), 1);
}

static void test_room_expires_in_real_time(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("ROOM_TTL_SECONDS=1"));
    make_room_with_messages("t", "alice", "bob", 1);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    assert_status(r, 200);
    resp_free(r);
    usleep(2200 * 1000);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", TOK_ALICE);
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 0);
    resp_free(r);
}

/* Creating a live room again moves its expiry only when that gains more
 * than 1 % of the TTL: the row is not written otherwise (same expires_at,
 * same row version), and the answer is the room with its messages. */
static void test_create_again_writes_the_room_once_per_one_percent_of_the_ttl(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("ROOM_TTL_SECONDS=100000"));   /* slack: 1,000 s */
    make_room_with_messages("t", "alice", "bob", 2);
    char *before = db_text("SELECT expires_at::text || ' ' || xmin::text FROM rooms WHERE id = $1",
                           PARAMS(ROOM));
    resp_t *r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", TOK_ALICE);
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 2);
    resp_free(r);
    char *after = db_text("SELECT expires_at::text || ' ' || xmin::text FROM rooms WHERE id = $1",
                          PARAMS(ROOM));
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* 1,001 s short of the full TTL: written again. */
    db_exec("UPDATE rooms SET expires_at = now() + interval '98999 seconds' WHERE id = $1",
            PARAMS(ROOM));
    r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", TOK_ALICE);
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 2);
    resp_free(r);
    assert_int_equal(db_long("SELECT (expires_at > now() + interval '99990 seconds')::int "
                             "FROM rooms WHERE id = $1", PARAMS(ROOM)), 1);
}

int run_expiry_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_expired_room_get_is_404),
        T(test_expired_room_post_message_is_404),
        T(test_system_message_recreates_expired_room_with_only_the_event),
        T(test_create_recreates_expired_room_empty),
        T(test_expire_command_deletes_expired_rooms_and_prints_count),
        T(test_expiry_job_in_server_deletes_expired_rows),
        T(test_post_message_refreshes_expiry),
        T(test_create_existing_room_refreshes_expiry),
        T(test_system_message_refreshes_expiry),
        T(test_reading_a_room_does_not_refresh_expiry),
        T(test_room_ttl_seconds_sets_the_expiry),
        T(test_room_expires_in_real_time),
        T(test_create_again_writes_the_room_once_per_one_percent_of_the_ttl),
    };
    return cmocka_run_group_tests_name("expiry", tests, group_setup_default,
                                       group_teardown_server);
}
