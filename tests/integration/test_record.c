/*
 * The record (migration 0008): every stored message also in the
 * append-only message_archive, whatever trimming and expiry do; history for
 * members; moderation with the API secret (search, streamed export,
 * redaction of a message or of a user, legal holds); the audit log; and
 * retention, which drops whole partitions and keeps what a hold covers.
 */
#include "harness.h"
#include "tests.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROOM "rec/alice/bob"
#define MOD PFX "/auth/" IT_SECRET
#define ACTOR_BODY "{\"actor\":\"mod-ann\",\"reason\":\"abuse report 17\"}"

static int record_group_setup(void **state)
{
    (void)state;
    return group_start(OVERRIDES("MAX_MESSAGES=3"));
}

static void post_n(const char *token, const char *room, int from, int to)
{
    char body[128];
    for (int i = from; i <= to; i++) {
        snprintf(body, sizeof body, "{\"timestamp\":%d,\"type\":\"text\",\"message\":\"m%d\"}",
                 i, i);
        api_post_msg(token, room, body);
    }
}

static long long archived(const char *room)
{
    return db_long("SELECT count(*) FROM message_record WHERE room_id = $1", PARAMS(room));
}

/* The audit log holds an entry with ACTION on SUBJECT (via the API). */
static void assert_audited(const char *action, const char *subject)
{
    resp_t *r = http_get(MOD "/audit?limit=1000");
    assert_status(r, 200);
    json_object *entries = json_object_object_get(resp_json(r), "entries");
    bool found = false;
    for (size_t i = 0; !found && i < json_object_array_length(entries); i++) {
        json_object *e = json_object_array_get_idx(entries, i);
        const char *a = json_object_get_string(json_object_object_get(e, "action"));
        const char *s = json_object_get_string(json_object_object_get(e, "subject"));
        found = a && strcmp(a, action) == 0 && (!subject || (s && strcmp(s, subject) == 0));
    }
    if (!found)
        print_error("no audit entry %s %s in %s\n", action, subject ? subject : "", r->body);
    assert_true(found);
    resp_free(r);
}

static void test_trimmed_and_expired_messages_stay_on_record(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"]}");
    post_n(TOK_ALICE, ROOM, 1, 5);
    resp_t *r = http_post("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"],\"timestamp\":6,"
                          "\"message\":\"SYS\"}", MOD "/system-messages");
    assert_empty_ok(r);
    resp_free(r);
    assert_int_equal(db_count_messages(ROOM), 3);   /* trimmed to MAX_MESSAGES */
    assert_int_equal(archived(ROOM), 6);
    /* the request id of each post is on record with it */
    assert_int_equal(db_long("SELECT count(*) FROM message_archive WHERE room_id = $1 "
                             "AND request_id IS NOT NULL", PARAMS(ROOM)), 6);
    db_expire_room(ROOM);
    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "expire", NULL }, NULL, 60, &out, &err);
    assert_int_equal(rc, 0);
    free(out);
    free(err);
    assert_false(db_room_exists(ROOM));
    assert_int_equal(archived(ROOM), 6);
    /* and an export still has every one, the system message too */
    r = http_get(MOD "/archive/export?room=%s&actor=mod-ann&reason=legal%%20request",
                 enc(ROOM));
    assert_status(r, 200);
    assert_content_type(r, "application/x-ndjson");
    int lines = 0;
    for (const char *p = r->body; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 6);
    assert_non_null(strstr(r->body, "\"message\":\"m1\""));
    assert_non_null(strstr(r->body, "\"from\":\"$$\",\"type\":\"event\""));
    resp_free(r);
    assert_audited("export", ROOM);
}

/* ARCHIVE takes on or off, nothing else. */
static void check_bad_archive_setting(void)
{
    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "serve", NULL }, OVERRIDES("ARCHIVE=maybe"), 10,
                      &out, &err);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "ARCHIVE"));
    free(out);
    free(err);
}

static void assert_sql_refused(const char *sql)
{
    PGresult *res = PQexec(db(), sql);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (PQresultStatus(res) != PGRES_FATAL_ERROR || !state || strcmp(state, "42501") != 0)
        print_error("%s: %s %s\n", sql, PQresStatus(PQresultStatus(res)),
                    PQresultErrorMessage(res));
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    assert_string_equal(state, "42501");
    PQclear(res);
}

static void test_record_and_audit_log_are_append_only(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"]}");
    post_n(TOK_ALICE, ROOM, 1, 2);
    resp_t *r = http_post("{\"user\":\"alice\",\"actor\":\"mod-ann\",\"reason\":\"case 4\"}",
                          MOD "/holds");
    assert_status(r, 201);
    resp_free(r);
    db_exec("INSERT INTO message_archive_held (id, stored_at, room_id, sender, type, ts, "
            "ts_is_string, message) VALUES (nextval('message_id_seq'), now(), $1, 'alice', "
            "'text', '1', false, 'kept')", PARAMS(ROOM));
    long long before = db_long("SELECT count(*) FROM message_record", 0, NULL);
    long long audit = db_long("SELECT count(*) FROM audit_log", 0, NULL);
    assert_sql_refused("UPDATE message_archive SET message = 'forged'");
    assert_sql_refused("DELETE FROM message_archive");
    assert_sql_refused("TRUNCATE message_archive");
    assert_sql_refused("UPDATE message_archive_held SET message = 'forged'");
    assert_sql_refused("DELETE FROM message_archive_held");
    assert_sql_refused("UPDATE audit_log SET actor = 'nobody'");
    assert_sql_refused("DELETE FROM audit_log");
    assert_sql_refused("TRUNCATE audit_log");
    assert_int_equal(db_long("SELECT count(*) FROM message_record", 0, NULL), before);
    assert_int_equal(db_long("SELECT count(*) FROM audit_log", 0, NULL), audit);
    assert_int_equal(db_long("SELECT count(*) FROM message_archive WHERE message = 'forged'",
                             0, NULL), 0);
}

static void test_history_is_for_members_since_the_room_was_created(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"]}");
    post_n(TOK_ALICE, ROOM, 1, 5);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s/messages?limit=2", TOK_BOB, enc(ROOM));
    assert_status(r, 200);
    json_object *o = resp_json(r);
    json_object *msgs = json_object_object_get(o, "messages");
    assert_int_equal(json_object_array_length(msgs), 2);
    json_object *m0 = json_object_array_get_idx(msgs, 0);
    assert_string_equal(json_object_get_string(json_object_object_get(m0, "message")), "m5");
    assert_non_null(json_object_object_get(m0, "id"));
    char next[32];
    snprintf(next, sizeof next, "%s", json_object_get_string(json_object_object_get(o, "next")));
    resp_free(r);
    /* the next page, past the 3 the room itself still shows */
    r = http_get(PFX "/auth/%s/rooms/%s/messages?limit=10&before=%s", TOK_BOB, enc(ROOM), next);
    assert_status(r, 200);
    msgs = json_object_object_get(resp_json(r), "messages");
    assert_int_equal(json_object_array_length(msgs), 3);
    assert_string_equal(json_object_get_string(json_object_object_get(
                            json_object_array_get_idx(msgs, 2), "message")), "m1");
    assert_true(json_object_is_type(json_object_object_get(resp_json(r), "next"), json_type_null));
    resp_free(r);
    /* who may read it, and what a bad page asks */
    r = http_get(PFX "/auth/%s/rooms/%s/messages", TOK_CAROL, enc(ROOM));
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s/messages", "tok-nobody", enc(ROOM));
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s/messages", TOK_BOB, enc("rec/x/y"));
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s/messages?limit=101", TOK_BOB, enc(ROOM));
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s/messages?before=abc", TOK_BOB, enc(ROOM));
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    r = http_get(MOD "/rooms/%s/messages", enc(ROOM));
    assert_status(r, 200);
    resp_free(r);
    /* re-created after it expired: members see it since then only */
    db_expire_room(ROOM);
    api_create_room("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"]}");
    r = http_get(PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    assert_status(r, 200);
    assert_int_equal(json_object_array_length(json_object_object_get(resp_json(r), "messages")),
                     0);
    resp_free(r);
    assert_int_equal(archived(ROOM), 5);   /* the earlier ones are for auditors */
}

struct poster {
    int port;
    volatile bool stop;
    int posted;
};

static void *poster_main(void *arg)
{
    struct poster *p = arg;
    server_t srv = { .port = p->port };
    char path[256];
    snprintf(path, sizeof path, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    while (!p->stop) {
        req_t q = { .srv = &srv, .method = "POST", .path = path,
                    .body = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"later\"}" };
        resp_t *r = http_do(&q);
        if (r->status == 200)
            p->posted++;
        resp_free(r);
    }
    return NULL;
}

/* 1,000 messages walked back 100 at a time while posts keep coming: every
 * one once, in order, none of the new ones. */
static void test_history_walks_back_without_gaps_or_repeats(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"]}");
    post_n(TOK_BOB, ROOM, 1, 1000);
    long long newest = db_long("SELECT max(id) FROM message_archive WHERE room_id = $1",
                               PARAMS(ROOM));
    struct poster p = { .port = h_srv->port };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poster_main, &p), 0);
    char before[32], newest_text[32];
    snprintf(before, sizeof before, "%lld", newest + 1);
    snprintf(newest_text, sizeof newest_text, "%lld", newest);
    long long expect = newest;
    int seen = 0;
    for (;;) {
        resp_t *r = http_get(PFX "/auth/%s/rooms/%s/messages?limit=100&before=%s", TOK_ALICE,
                             enc(ROOM), before);
        assert_status(r, 200);
        json_object *msgs = json_object_object_get(resp_json(r), "messages");
        for (size_t i = 0; i < json_object_array_length(msgs); i++) {
            long long id = json_object_get_int64(
                json_object_object_get(json_object_array_get_idx(msgs, i), "id"));
            assert_true(id <= expect);
            expect = id - 1;
            seen++;
        }
        json_object *next = json_object_object_get(resp_json(r), "next");
        bool more = next && json_object_is_type(next, json_type_string);
        if (more)
            snprintf(before, sizeof before, "%s", json_object_get_string(next));
        resp_free(r);
        if (!more)
            break;
    }
    p.stop = true;
    pthread_join(t, NULL);
    assert_true(p.posted > 0);
    /* every message on record up to the first page's newest, once each */
    assert_int_equal(db_long("SELECT count(*) FROM message_archive "
                             "WHERE room_id = $1 AND id <= $2", PARAMS(ROOM, newest_text)),
                     seen);
    assert_int_equal(seen, 1000);
}

static long long message_id(const char *room, const char *text)
{
    return db_long("SELECT id FROM message_archive WHERE room_id = $1 AND message = $2",
                   PARAMS(room, text));
}

/* A redaction on one server is gone from the room and the history on
 * another at once; the record keeps a tombstone, the audit log the act. */
static void test_redaction_is_gone_at_once_from_every_server(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"]}");
    post_n(TOK_ALICE, ROOM, 1, 3);
    long long id = message_id(ROOM, "m2");
    server_t *other = scoped_server(OVERRIDES("MAX_MESSAGES=3"));
    char path[128];
    snprintf(path, sizeof path, MOD "/archive/messages/%lld/redact", id);
    resp_t *r = http_post(ACTOR_BODY, "%s", path);
    assert_status(r, 200);
    assert_string_equal(json_object_get_string(json_object_object_get(resp_json(r), "status")),
                        "redacted");
    assert_true(json_object_get_boolean(json_object_object_get(resp_json(r), "contentWiped")));
    resp_free(r);
    server_t *mine = h_srv;
    h_srv = other;
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM));
    assert_room(r, ROOM, "rec", USERS("alice", "bob"), 2);
    assert_null(strstr(r->body, "\"m2\""));
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s/messages", TOK_BOB, enc(ROOM));
    assert_status(r, 200);
    assert_int_equal(json_object_array_length(json_object_object_get(resp_json(r), "messages")),
                     2);
    assert_null(strstr(r->body, "\"m2\""));
    resp_free(r);
    h_srv = mine;
    /* the tombstone: who, when, why; the content wiped */
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", id);
    char *row = db_text("SELECT coalesce(message, '<wiped>') || ' ' || redacted_by || ' ' || "
                  "redaction_reason FROM message_archive WHERE id = $1", PARAMS(idtext));
    assert_string_equal(row, "<wiped> mod-ann abuse report 17");
    free(row);
    assert_audited("redact_message", idtext);
    /* again: the same answer, no second audit entry */
    long long audit = db_long("SELECT count(*) FROM audit_log", 0, NULL);
    r = http_post(ACTOR_BODY, "%s", path);
    assert_status(r, 200);
    assert_string_equal(json_object_get_string(json_object_object_get(resp_json(r), "status")),
                        "already");
    resp_free(r);
    assert_int_equal(db_long("SELECT count(*) FROM audit_log", 0, NULL), audit);
    r = http_post(ACTOR_BODY, MOD "/archive/messages/999999999/redact");
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    r = http_post("{\"actor\":\"mod-ann\"}", "%s", path);
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    r = http_post(ACTOR_BODY, PFX "/auth/%s/archive/messages/%lld/redact", TOK_ALICE, id);
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
}

static void test_held_message_keeps_its_content_when_redacted(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"]}");
    post_n(TOK_ALICE, ROOM, 1, 1);
    resp_t *r = http_post("{\"room\":\"" ROOM "\",\"actor\":\"legal\",\"reason\":\"case 9\"}",
                          MOD "/holds");
    assert_status(r, 201);
    resp_free(r);
    long long id = message_id(ROOM, "m1");
    r = http_post(ACTOR_BODY, MOD "/archive/messages/%lld/redact", id);
    assert_status(r, 200);
    assert_false(json_object_get_boolean(json_object_object_get(resp_json(r), "contentWiped")));
    resp_free(r);
    /* members no longer see it; auditors see it with its tombstone */
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM));
    assert_room(r, ROOM, "rec", USERS("alice", "bob"), 0);
    resp_free(r);
    r = http_get(MOD "/archive/messages?room=%s", enc(ROOM));
    assert_status(r, 200);
    json_object *m = json_object_array_get_idx(
        json_object_object_get(resp_json(r), "messages"), 0);
    assert_string_equal(json_object_get_string(json_object_object_get(m, "message")), "m1");
    json_object *red = json_object_object_get(m, "redacted");
    assert_string_equal(json_object_get_string(json_object_object_get(red, "by")), "mod-ann");
    resp_free(r);
}

/* Everything one user sent, in batches, counted; erasure refused while a
 * hold covers it, and done once the hold is lifted. */
static void test_bulk_redaction_counts_and_erasure_respects_holds(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"]}");
    post_n(TOK_ALICE, ROOM, 1, 2);
    post_n(TOK_BOB, ROOM, 3, 3);
    /* and 2,500 more on record in another room (three batches) */
    db_exec("INSERT INTO message_archive (id, stored_at, room_id, sender, type, ts, "
            "ts_is_string, message, json_text) SELECT nextval('message_id_seq'), now(), "
            "'rec/alice/carol', 'alice', 'text', '1', false, 'bulk ' || i, NULL "
            "FROM generate_series(1, 2500) i", 0, NULL);
    resp_t *r = http_post(ACTOR_BODY, MOD "/archive/users/alice/redact");
    assert_status(r, 200);
    assert_int_equal(json_object_get_int64(json_object_object_get(resp_json(r), "redacted")),
                     2502);
    resp_free(r);
    assert_int_equal(db_long("SELECT count(*) FROM audit_log WHERE action = 'redact_user' "
                             "AND subject = 'alice'", 0, NULL), 3);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM));
    assert_room(r, ROOM, "rec", USERS("alice", "bob"), 1);
    resp_free(r);
    /* kept for auditors: not erased */
    assert_int_equal(db_long("SELECT count(*) FROM message_archive WHERE sender = 'alice' "
                             "AND message IS NOT NULL", 0, NULL), 2502);
    r = http_post(ACTOR_BODY, MOD "/archive/users/alice/redact");
    assert_int_equal(json_object_get_int64(json_object_object_get(resp_json(r), "redacted")), 0);
    resp_free(r);
    /* erasing bob while a hold covers him: 409, nothing changed */
    r = http_post("{\"user\":\"bob\",\"actor\":\"legal\",\"reason\":\"case 10\"}", MOD "/holds");
    assert_status(r, 201);
    long long hold = json_object_get_int64(json_object_object_get(resp_json(r), "id"));
    resp_free(r);
    r = http_post("{\"actor\":\"dpo\",\"reason\":\"erasure request\",\"erase\":true}",
                  MOD "/archive/users/bob/redact");
    assert_error(r, 409, "Conflict", NULL);
    resp_free(r);
    assert_int_equal(db_long("SELECT count(*) FROM message_archive WHERE sender = 'bob' "
                             "AND message IS NOT NULL", 0, NULL), 1);
    r = http_post("{\"actor\":\"legal\",\"reason\":\"case closed\"}", MOD "/holds/%lld/lift",
                  hold);
    assert_status(r, 200);
    resp_free(r);
    r = http_post("{\"actor\":\"dpo\",\"reason\":\"erasure request\",\"erase\":true}",
                  MOD "/archive/users/bob/redact");
    assert_status(r, 200);
    assert_int_equal(json_object_get_int64(json_object_object_get(resp_json(r), "redacted")), 1);
    assert_true(json_object_get_boolean(json_object_object_get(resp_json(r), "contentWiped")));
    resp_free(r);
    assert_int_equal(db_long("SELECT count(*) FROM message_archive WHERE sender = 'bob' "
                             "AND (message IS NOT NULL OR json_text IS NOT NULL)", 0, NULL), 0);
    assert_audited("hold_set", "user:bob");
    assert_audited("hold_lift", "user:bob");
    assert_audited("redact_user", "bob");
}

static void test_holds_are_listed_and_checked(void **state)
{
    (void)state;
    resp_t *r = http_post("{\"user\":\"eve\",\"actor\":\"legal\",\"reason\":\"case 11\"}",
                          MOD "/holds");
    assert_status(r, 201);
    long long id = json_object_get_int64(json_object_object_get(resp_json(r), "id"));
    resp_free(r);
    r = http_get(MOD "/holds");
    assert_status(r, 200);
    assert_non_null(strstr(r->body, "\"subject\":\"eve\""));
    resp_free(r);
    r = http_post("{\"actor\":\"legal\",\"reason\":\"done\"}", MOD "/holds/%lld/lift", id);
    assert_string_equal(json_object_get_string(json_object_object_get(resp_json(r), "status")),
                        "lifted");
    resp_free(r);
    r = http_post("{\"actor\":\"legal\",\"reason\":\"done\"}", MOD "/holds/%lld/lift", id);
    assert_string_equal(json_object_get_string(json_object_object_get(resp_json(r), "status")),
                        "already");
    resp_free(r);
    r = http_get(MOD "/holds");
    assert_null(strstr(r->body, "\"subject\":\"eve\""));
    resp_free(r);
    r = http_get(MOD "/holds?all=true");
    assert_non_null(strstr(r->body, "\"subject\":\"eve\""));
    resp_free(r);
    static const char *const bad[] = {
        "{\"user\":\"a\",\"room\":\"b\",\"actor\":\"x\",\"reason\":\"y\"}",
        "{\"actor\":\"x\",\"reason\":\"y\"}",
        "{\"user\":\"a\",\"reason\":\"y\"}",
        "{\"user\":\"a\",\"actor\":\"x\"}",
        "[1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = http_post(bad[i], MOD "/holds");
        assert_error(r, 400, "BadRequest", NULL);
        resp_free(r);
    }
    r = http_post("{\"actor\":\"x\",\"reason\":\"y\"}", MOD "/holds/999999/lift");
    assert_error(r, 404, "NotFound", "");
    resp_free(r);
    r = http_get(PFX "/auth/%s/holds", TOK_ALICE);
    assert_error(r, 401, "Unauthorized", "");
    resp_free(r);
    r = http_get(MOD "/archive/messages?since=yesterday");
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
}

/* An export of 100,000 messages streams: the server's peak memory grows by
 * a small part of what the answer weighs. */
static void test_export_streams_with_flat_memory(void **state)
{
    (void)state;
    db_exec("INSERT INTO message_archive (id, stored_at, room_id, sender, type, ts, "
            "ts_is_string, message, json_text, request_id) SELECT nextval('message_id_seq'), "
            "now(), 'rec/exporter/x', 'exporter', 'text', i::text, false, "
            "'exported message number ' || i || ' with some words to weigh it', NULL, "
            "'req-' || i FROM generate_series(1, 100000) i", 0, NULL);
    long long hwm_before = h_server_hwm_kb(h_srv);
    resp_t *r = http_get(MOD "/archive/export?user=exporter&actor=mod-ann&reason=dsar");
    assert_status(r, 200);
    int lines = 0;
    for (const char *p = r->body; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 100000);
    long long grew = h_server_hwm_kb(h_srv) - hwm_before;
    print_message("export of %zu bytes (100,000 messages): server peak RSS +%lld kB\n", r->len,
                  grew);
    /* Buffered, the answer alone would take its size again (plus json-c's
     * trees); streamed, growth is a batch and a block. Sanitizers and
     * valgrind keep freed memory aside, so only a plain build is held to it. */
    if (!h_env("ASAN_OPTIONS") && h_slow_factor() == 1)
        assert_true(grew * 1024 < (long long)r->len / 2);
    resp_free(r);
    r = http_get(MOD "/archive/export?user=exporter&format=csv&actor=mod-ann&reason=dsar");
    assert_status(r, 200);
    assert_content_type(r, "text/csv");
    assert_memory_equal(r->body, "id,storedAt,roomId,from", 23);
    resp_free(r);
    r = http_get(MOD "/archive/export?user=exporter&format=xml&actor=a&reason=b");
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
    r = http_get(MOD "/archive/export?user=exporter");
    assert_error(r, 400, "BadRequest", NULL);
    resp_free(r);
}

/* ARCHIVE=off, for deployments that must not keep messages: the room
 * works as ever, nothing goes on record, history is empty; a user's
 * messages can still be redacted (they leave the room, a tombstone
 * without content stays). */
static void test_archive_off_keeps_nothing(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("ARCHIVE=off"));
    api_create_room("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"]}");
    post_n(TOK_ALICE, ROOM, 1, 2);
    resp_t *r = http_post("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"],\"timestamp\":3,"
                          "\"message\":\"SYS\"}", MOD "/system-messages");
    assert_empty_ok(r);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM));
    assert_room(r, ROOM, "rec", USERS("alice", "bob"), 3);
    resp_free(r);
    assert_int_equal(archived(ROOM), 0);
    r = http_get(PFX "/auth/%s/rooms/%s/messages", TOK_BOB, enc(ROOM));
    assert_status(r, 200);
    assert_int_equal(json_object_array_length(json_object_object_get(resp_json(r), "messages")),
                     0);
    resp_free(r);

    r = http_post("{\"actor\":\"mod\",\"reason\":\"spam\",\"erase\":true}",
                  MOD "/archive/users/alice/redact");
    assert_status(r, 200);
    assert_int_equal(json_object_get_int(json_object_object_get(resp_json(r), "redacted")), 2);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM));
    assert_room(r, ROOM, "rec", USERS("alice", "bob"), 1);
    resp_free(r);
    assert_int_equal(db_long("SELECT count(*) FROM message_record WHERE sender = 'alice' "
                             "AND redacted_at IS NOT NULL AND message IS NULL "
                             "AND json_text IS NULL", 0, NULL), 2);
    assert_audited("redact_user", "alice");
    check_bad_archive_setting();
}

/* Retention drops whole partitions older than ARCHIVE_RETENTION_DAYS (the
 * job's clock set 100 days ahead), recorded in the audit log; what a hold
 * covers survives. Last: it leaves the present without a partition (rows
 * then go to the default one). */
static void test_retention_drops_partitions_and_keeps_held_messages(void **state)
{
    (void)state;
    api_create_room("{\"type\":\"rec\",\"users\":[\"alice\",\"bob\"]}");
    post_n(TOK_ALICE, ROOM, 1, 2);
    post_n(TOK_BOB, ROOM, 3, 4);
    resp_t *r = http_post("{\"user\":\"alice\",\"actor\":\"legal\",\"reason\":\"case 12\"}",
                          MOD "/holds");
    assert_status(r, 201);
    resp_free(r);
    long long drops = db_long("SELECT count(*) FROM audit_log WHERE action = 'retention_drop'",
                              0, NULL);
    char *out = NULL, *err = NULL;
    int rc = run_chat((const char *const[]){ "expire", NULL },
                      OVERRIDES("ARCHIVE_RETENTION_DAYS=1", "ARCHIVE_CLOCK_OFFSET_SECONDS=8640000"),
                      120, &out, &err);
    if (rc != 0)
        print_error("expire: %s %s\n", out, err);
    assert_int_equal(rc, 0);
    free(out);
    free(err);
    assert_true(db_long("SELECT count(*) FROM audit_log WHERE action = 'retention_drop'", 0,
                        NULL) > drops);
    /* bob's are gone with their partition; alice's, held, are kept */
    assert_int_equal(db_long("SELECT count(*) FROM message_record WHERE room_id = $1 "
                             "AND sender = 'bob'", PARAMS(ROOM)), 0);
    assert_int_equal(db_long("SELECT count(*) FROM message_archive_held WHERE room_id = $1 "
                             "AND sender = 'alice'", PARAMS(ROOM)), 2);
    r = http_get(MOD "/archive/messages?user=alice&room=%s", enc(ROOM));
    assert_status(r, 200);
    assert_int_equal(json_object_array_length(json_object_object_get(resp_json(r), "messages")),
                     2);
    resp_free(r);
    /* posts still go on record, in the default partition */
    post_n(TOK_BOB, ROOM, 5, 5);
    assert_int_equal(db_long("SELECT count(*) FROM message_archive WHERE room_id = $1 "
                             "AND sender = 'bob'", PARAMS(ROOM)), 1);
}

int run_record_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_trimmed_and_expired_messages_stay_on_record),
        T(test_record_and_audit_log_are_append_only),
        T(test_history_is_for_members_since_the_room_was_created),
        T(test_history_walks_back_without_gaps_or_repeats),
        T(test_redaction_is_gone_at_once_from_every_server),
        T(test_held_message_keeps_its_content_when_redacted),
        T(test_bulk_redaction_counts_and_erasure_respects_holds),
        T(test_holds_are_listed_and_checked),
        T(test_export_streams_with_flat_memory),
        T(test_archive_off_keeps_nothing),
        T(test_retention_drops_partitions_and_keeps_held_messages),
    };
    return cmocka_run_group_tests_name("record", tests, record_group_setup,
                                       group_teardown_server);
}
