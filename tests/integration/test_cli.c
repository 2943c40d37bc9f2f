/*
 * The operators' command line (issue 18): `ganomede-chat token|policy|room`
 * run as a separate process against the suite's database, its effect seen
 * through the running server (a new token works, a revoked one is 401, a
 * ban is 403), in the tables and in the audit log; exit codes 0, 1, 2;
 * plain output and --json; never a whole token in a listing.
 */
#include "harness.h"
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLI(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Runs the command; its exit code, *OUT its stdout (caller frees). */
static int cli(const char *const *args, char **out)
{
    char *err = NULL;
    int rc = run_chat(args, NULL, 30, out, &err);
    free(err);
    return rc;
}

static void strip_newline(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static long get_room_status(const char *token, const char *room_id)
{
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", token, enc(room_id));
    long st = r->status;
    resp_free(r);
    return st;
}

static void test_token_add_list_revoke(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "zed");
    char *token = NULL;
    assert_int_equal(cli(CLI("token", "add", "zed", "--reason", "support ticket 12"), &token), 0);
    strip_newline(token);
    assert_int_equal(strlen(token), 64);
    assert_int_equal(get_room_status(token, "t/alice/zed"), 200);
    /* Listed by digest, never in clear. */
    char *digest = db_text("SELECT encode(token_sha256, 'hex') FROM auth_tokens WHERE token = $1",
                           PARAMS(token));
    char *out = NULL;
    assert_int_equal(cli(CLI("token", "list", "zed"), &out), 0);
    assert_non_null(strstr(out, "never expires"));
    assert_null(strstr(out, token));
    char prefix[17];
    snprintf(prefix, sizeof prefix, "%s", digest);
    assert_non_null(strstr(out, prefix));
    free(out);
    assert_int_equal(cli(CLI("token", "list", "zed", "--json"), &out), 0);
    json_object *j = json_tokener_parse(out);
    assert_non_null(j);
    json_object *t0 = json_object_array_get_idx(json_object_object_get(j, "tokens"), 0);
    assert_string_equal(json_object_get_string(json_object_object_get(t0, "sha256")), digest);
    assert_null(strstr(out, token));
    json_object_put(j);
    free(out);
    /* Revoked: 401 at once; again: not found. */
    assert_int_equal(cli(CLI("token", "revoke", token), &out), 0);
    free(out);
    assert_int_equal(get_room_status(token, "t/alice/zed"), 401);
    assert_int_equal(cli(CLI("token", "revoke", token), &out), 1);
    free(out);
    /* Both changes are on the audit log, by digest. */
    assert_int_equal(db_long("SELECT count(*) FROM audit_log WHERE subject = 'zed' AND "
                             "action IN ('token_add', 'token_revoke') AND "
                             "details->>'token_sha256' = $1", PARAMS(digest)), 2);
    assert_int_equal(db_long("SELECT count(*) FROM audit_log WHERE reason = 'support ticket 12'",
                             0, NULL), 1);
    free(digest);
    free(token);
}

static void test_token_with_a_ttl_expires(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "zed");
    char *token = NULL;
    assert_int_equal(cli(CLI("token", "add", "zed", "--ttl", "1s", "--json"), &token), 0);
    json_object *j = json_tokener_parse(token);
    const char *t = json_object_get_string(json_object_object_get(j, "token"));
    assert_non_null(json_object_get_string(json_object_object_get(j, "expiresAt")));
    assert_int_equal(get_room_status(t, "t/alice/zed"), 200);
    usleep(1500 * 1000);
    assert_int_equal(get_room_status(t, "t/alice/zed"), 401);
    json_object_put(j);
    free(token);
}

static void test_policies_take_effect_and_are_recorded(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    const char *msg = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"hi\"}";
    char *out = NULL;
    assert_int_equal(cli(CLI("policy", "set", "alice", "ban", "--actor", "mod-ann"), &out), 0);
    free(out);
    resp_t *r = http_post(msg, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc("t/alice/bob"));
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    assert_int_equal(cli(CLI("policy", "show", "alice", "--json"), &out), 0);
    json_object *j = json_tokener_parse(out);
    assert_true(json_object_get_boolean(json_object_object_get(j, "banned")));
    json_object_put(j);
    free(out);
    assert_int_equal(cli(CLI("policy", "set", "alice", "unban"), &out), 0);
    free(out);
    api_post_msg(TOK_ALICE, "t/alice/bob", msg);
    assert_int_equal(cli(CLI("policy", "set", "alice", "disable-chat"), &out), 0);
    free(out);
    r = http_post(msg, PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc("t/alice/bob"));
    assert_error(r, 403, "Forbidden", "");
    resp_free(r);
    /* Blocks: a sorted list, without repeats; emptied, the key goes. */
    assert_int_equal(cli(CLI("policy", "block", "bob", "carol"), &out), 0);
    free(out);
    assert_int_equal(cli(CLI("policy", "block", "bob", "alice"), &out), 0);
    free(out);
    assert_int_equal(cli(CLI("policy", "block", "bob", "alice"), &out), 0);
    assert_string_equal(out, "bob blocks: alice,carol\n");
    free(out);
    char *v = db_text("SELECT value FROM usermeta WHERE username = 'bob' AND key = '$blocked'",
                      0, NULL);
    assert_string_equal(v, "alice,carol");
    free(v);
    assert_int_equal(cli(CLI("policy", "unblock", "bob", "alice"), &out), 0);
    free(out);
    assert_int_equal(cli(CLI("policy", "unblock", "bob", "carol"), &out), 0);
    free(out);
    assert_int_equal(db_long("SELECT count(*) FROM usermeta WHERE username = 'bob'", 0, NULL), 0);
    assert_int_equal(cli(CLI("policy", "show", "bob"), &out), 0);
    assert_string_equal(out, "bob: banned no, muted no, chat enabled, blocks: nobody\n");
    free(out);
    assert_int_equal(db_long("SELECT count(*) FROM audit_log WHERE action = 'policy_set' AND "
                             "subject = 'alice' AND actor = 'mod-ann'", 0, NULL), 1);
    assert_int_equal(db_long("SELECT count(*) FROM audit_log WHERE action LIKE 'policy_%'", 0,
                             NULL), 8);
}

static void test_rooms_as_the_api_shows_them(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    api_post_text(TOK_ALICE, "t/alice/bob", "first");
    api_post_text(TOK_BOB, "t/alice/bob", "second");
    char *out = NULL;
    assert_int_equal(cli(CLI("room", "show", "t/alice/bob", "--json"), &out), 0);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", IT_SECRET, enc("t/alice/bob"));
    assert_status(r, 200);
    strip_newline(out);
    assert_string_equal(out, r->body);
    resp_free(r);
    free(out);
    assert_int_equal(cli(CLI("room", "show", "t/alice/bob"), &out), 0);
    assert_non_null(strstr(out, "users alice, bob, 2 messages"));
    assert_non_null(strstr(out, "  bob: second\n  alice: first\n"));
    free(out);
    assert_int_equal(cli(CLI("room", "list", "--user", "alice"), &out), 0);
    assert_non_null(strstr(out, "t/alice/bob  (1 unread)"));
    free(out);
    assert_int_equal(cli(CLI("room", "show", "t/nobody"), &out), 1);
    free(out);
}

static void test_usage_and_sources(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(cli(CLI("token", "--help"), &out), 0);
    assert_non_null(strstr(out, "token add USER"));
    free(out);
    const char *const *bad[] = { CLI("token"), CLI("token", "add"), CLI("policy", "set", "a", "smite"),
                                 CLI("room", "list"), CLI("token", "add", "a", "--ttl", "soon"),
                                 CLI("room", "show", "x", "--bogus") };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cli(bad[i], &out), 2);
        assert_string_equal(out, "");
        free(out);
    }
    /* Tokens and policies kept in the original's Redis: said, not done. */
    char *err = NULL;
    assert_int_equal(run_chat(CLI("token", "add", "zed"),
                              OVERRIDES("REDIS_AUTH_PORT_6379_TCP_ADDR=127.0.0.1"), 30, &out, &err), 1);
    assert_non_null(strstr(err, "authdb Redis"));
    free(out);
    free(err);
    assert_int_equal(run_chat(CLI("policy", "set", "zed", "ban"),
                              OVERRIDES("REDIS_USERMETA_PORT_6379_TCP_ADDR=127.0.0.1"), 30, &out,
                              &err), 1);
    assert_non_null(strstr(err, "usermeta Redis"));
    free(out);
    free(err);
    assert_int_equal(db_long("SELECT count(*) FROM auth_tokens WHERE username = 'zed'", 0, NULL), 0);
}

/* make run's development sink prints each notification, never the
 * secret, and answers 200 so that nothing is retried. */
static void test_notify_sink_prints_notifications(void **state)
{
    (void)state;
    int port = h_free_port();
    char addr[64], port_var[64], port_arg[16];
    snprintf(addr, sizeof addr, "NOTIFICATIONS_PORT_8080_TCP_ADDR=127.0.0.1");
    snprintf(port_var, sizeof port_var, "NOTIFICATIONS_PORT_8080_TCP_PORT=%d", port);
    snprintf(port_arg, sizeof port_arg, "%d", port);
    h_srv = scoped_server(OVERRIDES(addr, port_var));
    api_room_of_two("t", "alice", "bob");
    pid_t child = fork();
    if (child == 0) {
        usleep(700 * 1000);
        api_post_text(TOK_ALICE, "t/alice/bob", "Hey bob!");
        _exit(0);
    }
    char *out = NULL, *err = NULL;
    /* Stopped (SIGTERM) by the harness after 3 s. */
    (void)run_program(h_env("CHAT_BIN"), CLI("notify-sink", "--port", port_arg), NULL, 3000, true,
                      &out, &err);
    waitpid(child, NULL, 0);
    assert_non_null(strstr(err, "notification to bob: alice in t/alice/bob: Hey bob!"));
    assert_null(strstr(err, IT_SECRET));
    assert_int_equal(db_long("SELECT count(*) FROM notification_outbox", 0, NULL), 0);
    free(out);
    free(err);
}

/* The console is off unless CONSOLE=on: its paths do not exist; on, the
 * page and its files come with a strict CSP (the browser test is
 * scripts/console-test.sh). */
static void test_console_is_off_by_default(void **state)
{
    (void)state;
    resp_t *r = http_get(PFX "/console");
    assert_error(r, 404, "ResourceNotFound", PFX "/console does not exist");
    resp_free(r);
    h_srv = scoped_server(OVERRIDES("CONSOLE=on"));
    r = http_get(PFX "/console");
    assert_status(r, 200);
    assert_content_type(r, "text/html");
    char *csp = resp_header(r, "Content-Security-Policy");
    assert_non_null(csp);
    assert_non_null(strstr(csp, "script-src 'self'"));
    free(csp);
    assert_non_null(strstr(r->body, "src=\"" PFX "/console/console.js\""));
    resp_free(r);
    r = http_get(PFX "/console/console.js");
    assert_status(r, 200);
    assert_content_type(r, "text/javascript");
    resp_free(r);
    r = http_get(PFX "/console/..%%2Fmain.c");
    assert_status(r, 404);
    resp_free(r);
}

/* The moderation verbs: the HTTP routes' effects and audit rows, from the
 * command line; a reason is required. */
static void test_moderation_from_the_command_line(void **state)
{
    (void)state;
    api_room_of_two("t", "alice", "bob");
    api_post_text(TOK_ALICE, "t/alice/bob", "nice game");
    api_post_text(TOK_ALICE, "t/alice/bob", "you are terrible");
    api_post_text(TOK_BOB, "t/alice/bob", "thanks");
    char *id = db_text("SELECT id::text FROM message_archive WHERE message = 'you are terrible'",
                       0, NULL);
    char *out = NULL;
    assert_int_equal(cli(CLI("redact", "message", id), &out), 2);   /* no reason */
    free(out);
    assert_int_equal(cli(CLI("redact", "message", id, "--reason", "insult"), &out), 0);
    free(out);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc("t/alice/bob"));
    assert_status(r, 200);
    assert_null(strstr(r->body, "terrible"));
    assert_non_null(strstr(r->body, "nice game"));
    resp_free(r);
    assert_int_equal(cli(CLI("redact", "message", "999999999", "--reason", "x"), &out), 1);
    free(out);
    /* A hold on alice: erasing her messages is refused until it is lifted. */
    assert_int_equal(cli(CLI("hold", "set", "--user", "alice", "--reason", "case 7", "--json"), &out), 0);
    json_object *hold = json_tokener_parse(out);
    char hold_id[24];
    snprintf(hold_id, sizeof hold_id, "%lld", (long long)json_object_get_int64(json_object_object_get(hold, "id")));
    json_object_put(hold);
    free(out);
    assert_int_equal(cli(CLI("hold", "list"), &out), 0);
    assert_non_null(strstr(out, "on user alice: case 7"));
    free(out);
    assert_int_equal(cli(CLI("redact", "user", "alice", "--erase", "--reason", "gdpr"), &out), 1);
    free(out);
    assert_int_equal(cli(CLI("hold", "lift", hold_id, "--reason", "case closed"), &out), 0);
    free(out);
    assert_int_equal(cli(CLI("redact", "user", "alice", "--erase", "--reason", "gdpr"), &out), 0);
    assert_string_equal(out, "1 message(s) of alice redacted\n");
    free(out);
    /* An export: every message of the room on record, one JSON line each. */
    assert_int_equal(cli(CLI("export", "--room", "t/alice/bob", "--reason", "audit"), &out), 0);
    int lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 3);
    assert_non_null(strstr(out, "\"from\":\"bob\""));
    free(out);
    assert_int_equal(cli(CLI("export", "--room", "t/alice/bob", "--format", "csv", "--reason", "audit"), &out), 0);
    assert_non_null(strstr(out, "id,storedAt,roomId,from,type,timestamp,message,requestId,"
                                "redactedAt,redactedBy,redactionReason\r\n"));
    free(out);
    assert_int_equal(db_long("SELECT count(*) FROM audit_log WHERE action IN ('redact_message', "
                             "'redact_user', 'hold_set', 'hold_lift', 'export')", 0, NULL), 6);
    free(id);
}

int run_cli_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_token_add_list_revoke),
        T(test_token_with_a_ttl_expires),
        T(test_policies_take_effect_and_are_recorded),
        T(test_rooms_as_the_api_shows_them),
        T(test_usage_and_sources),
        T(test_notify_sink_prints_notifications),
        T(test_console_is_off_by_default),
        T(test_moderation_from_the_command_line),
    };
    return cmocka_run_group_tests_name("cli", tests, group_setup_default, group_teardown_server);
}
