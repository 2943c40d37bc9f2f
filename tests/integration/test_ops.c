/*
 * Operations: statsd counters (exact keys, sampling, a statsd that is not
 * there), the health route (schema current or behind; ping needs no
 * database), the bunyan log lines (layout, one request line per request,
 * LOG_LEVEL, no secret or token), and two copies of the server on one
 * database (shared state, one expiry job at a time under the advisory lock).
 * Every test starts its own servers (scoped_server), so no other server is
 * connected to the database while it runs.
 */
#include "harness.h"
#include "tests.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ROOM "t/alice/bob"
static const char *const ROOM_BODY = "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"]}";
static const char *const MSG = "{\"timestamp\":1,\"type\":\"text\",\"message\":\"m\"}";
/* The expiry job's advisory lock (sql/expiry_lock.sql). */
#define EXPIRY_LOCK_KEY "7462630402"

/* ---- statsd: a UDP receiver on 127.0.0.1 ------------------------------- */

typedef struct udp_rx {
    int fd;
    int port;
} udp_rx_t;

static udp_rx_t udp_open(void)
{
    udp_rx_t rx = { -1, 0 };
    struct sockaddr_in a;
    socklen_t alen = sizeof a;

    rx.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (rx.fd < 0)
        fail_msg("socket: %s", strerror(errno));
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(rx.fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(rx.fd, (struct sockaddr *)&a, &alen) != 0) {
        int e = errno;
        close(rx.fd);
        fail_msg("bind/getsockname: %s", strerror(e));
    }
    rx.port = ntohs(a.sin_port);
    return rx;
}

/* Reads datagrams until none came for quiet_ms (or max_ms in all); stores
 * up to max_out of them NUL-terminated in out (caller frees each). Returns
 * how many arrived (all of them, even past max_out). */
static int udp_collect(udp_rx_t *rx, char **out, int max_out, int quiet_ms, int max_ms)
{
    int n = 0;
    double end = now_s() + max_ms / 1000.0;
    char buf[2048];

    while (now_s() < end) {
        struct pollfd p = { .fd = rx->fd, .events = POLLIN };
        int pr = poll(&p, 1, quiet_ms);
        if (pr <= 0)
            break;
        ssize_t len = recv(rx->fd, buf, sizeof buf - 1, 0);
        if (len < 0)
            continue;
        buf[len] = '\0';
        if (out && n < max_out)
            out[n] = strdup(buf);
        n++;
    }
    return n;
}

static void udp_drain(udp_rx_t *rx)
{
    (void)udp_collect(rx, NULL, 0, 300, 3000);
}

static void free_lines(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ping_ok(void)
{
    resp_t *r = http_get("%s/ping/x", h_srv->prefix);
    assert_status(r, 200);
    resp_free(r);
}

/* True when the N datagrams in GOT (at most 16 kept) are exactly WANT, in
 * any order; prints both lists otherwise. Frees GOT's lines. */
static bool same_datagrams(char **got, int n, const char *const *want, size_t nwant)
{
    int stored = n < 16 ? n : 16;
    qsort(got, (size_t)stored, sizeof got[0], cmp_str);
    const char *sorted_want[16];
    size_t nsorted = nwant < 16 ? nwant : 16;
    memcpy(sorted_want, want, nsorted * sizeof want[0]);
    qsort(sorted_want, nsorted, sizeof sorted_want[0], cmp_str);
    bool same = (size_t)n == nwant;
    for (size_t i = 0; same && i < nwant; i++)
        same = strcmp(got[i], sorted_want[i]) == 0;
    if (!same) {
        print_error("statsd datagrams (%d, sorted):\n", n);
        for (int i = 0; i < stored; i++)
            print_error("  %s\n", got[i]);
        print_error("want exactly (sorted):\n");
        for (size_t i = 0; i < nsorted; i++)
            print_error("  %s\n", sorted_want[i]);
    }
    free_lines(got, stored);
    return same;
}

static void test_statsd_sends_restify_route_names_and_statuses(void **state)
{
    (void)state;
    udp_rx_t rx = udp_open();
    char host_port[64];
    snprintf(host_port, sizeof host_port, "STATSD_PORT=%d", rx.port);
    h_srv = scoped_server(OVERRIDES("STATSD_HOST=127.0.0.1", host_port,
                                    "STATSD_SAMPLE_PERCENT=100"));
    udp_drain(&rx);   /* the start-up pings of the harness */

    resp_t *r = http_get(PFX "/ping/hello");
    assert_status(r, 200);
    resp_free(r);
    r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", IT_SECRET);
    assert_status(r, 200);
    resp_free(r);
    r = http_get(PFX "/no/such/path");
    assert_error(r, 404, "ResourceNotFound", NULL);
    resp_free(r);

    char *got[16];
    int n = udp_collect(&rx, got, 16, 500, 5000);
    const char *want[] = {
        "ganomede.chat.route.getchatv1pingtoken.status.200:1|c",
        "ganomede.chat.route.postchatv1authauthtokenrooms.status.200:1|c",
        "ganomede.chat.invalid_route.status.404:1|c",
    };
    bool same = same_datagrams(got, n, want, sizeof want / sizeof want[0]);
    close(rx.fd);
    assert_true(same);
}

static void test_statsd_prefix_and_every_route_name(void **state)
{
    (void)state;
    udp_rx_t rx = udp_open();
    char port[64];
    snprintf(port, sizeof port, "STATSD_PORT=%d", rx.port);
    h_srv = scoped_server(OVERRIDES("STATSD_HOST=127.0.0.1", port, "STATSD_PREFIX=my.app.",
                                    "STATSD_SAMPLE_PERCENT=100"));
    udp_drain(&rx);

    api_create_room(ROOM_BODY);
    api_post_msg(TOK_ALICE, ROOM, MSG);
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM));
    assert_status(r, 200);
    resp_free(r);
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc("t/none"));
    assert_status(r, 404);
    resp_free(r);
    r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":2,\"message\":\"E\"}",
                  PFX "/auth/%s/system-messages", IT_SECRET);
    assert_status(r, 200);
    resp_free(r);
    r = http_get(PFX "/about");
    assert_status(r, 200);
    resp_free(r);

    char *got[16];
    int n = udp_collect(&rx, got, 16, 500, 5000);
    const char *want[] = {
        "my.app.route.getchatv1about.status.200:1|c",
        "my.app.route.getchatv1authauthtokenroomsroomid.status.200:1|c",
        "my.app.route.getchatv1authauthtokenroomsroomid.status.404:1|c",
        "my.app.route.postchatv1authauthtokenrooms.status.200:1|c",
        "my.app.route.postchatv1authauthtokenroomsroomidmessages.status.200:1|c",
        "my.app.route.postchatv1authauthtokensystemmessages.status.200:1|c",
    };
    bool same = same_datagrams(got, n, want, sizeof want / sizeof want[0]);
    close(rx.fd);
    assert_true(same);
}

/* The original declared GET /about and GET /<prefix>/about as two restify
 * routes, so restify named the first "getabout". */
static void test_statsd_about_without_prefix_is_getabout(void **state)
{
    (void)state;
    udp_rx_t rx = udp_open();
    char port[64];
    snprintf(port, sizeof port, "STATSD_PORT=%d", rx.port);
    h_srv = scoped_server(OVERRIDES("STATSD_HOST=127.0.0.1", port, "STATSD_SAMPLE_PERCENT=100"));
    udp_drain(&rx);
    resp_t *r = http_get("/about");
    assert_status(r, 200);
    resp_free(r);
    char *got[4];
    int n = udp_collect(&rx, got, 4, 500, 5000);
    close(rx.fd);
    int stored = n < 4 ? n : 4;
    assert_int_equal(n, 1);
    bool right = strcmp(got[0], "ganomede.chat.route.getabout.status.200:1|c") == 0;
    if (!right)
        print_error("GET /about sent \"%s\", want \"ganomede.chat.route.getabout.status.200:1|c\"\n",
                    got[0]);
    free_lines(got, stored);
    assert_true(right);
}

static void test_statsd_samples_ten_percent(void **state)
{
    (void)state;
    udp_rx_t rx = udp_open();
    char port[64];
    snprintf(port, sizeof port, "STATSD_PORT=%d", rx.port);
    h_srv = scoped_server(OVERRIDES("STATSD_HOST=127.0.0.1", port, "STATSD_SAMPLE_PERCENT=10"));
    udp_drain(&rx);

    for (int i = 0; i < 200; i++)
        ping_ok();
    char *got[200];
    int n = udp_collect(&rx, got, 200, 500, 5000);
    int stored = n < 200 ? n : 200;
    int bad = 0;
    for (int i = 0; i < stored; i++) {
        if (strcmp(got[i], "ganomede.chat.route.getchatv1pingtoken.status.200:1|c|@0.10") != 0) {
            if (bad++ < 5)
                print_error("unexpected sampled datagram: %s\n", got[i]);
        }
    }
    print_message("200 pings at 10 %%: %d datagrams\n", n);
    free_lines(got, stored);
    close(rx.fd);
    assert_int_equal(bad, 0);
    assert_in_range(n, 1, 60);
}

/* Nothing listens on the statsd port (ICMP port unreachable on loopback),
 * or the receiver never reads (its buffer fills up): requests are answered
 * as usual and as fast. */
static void test_statsd_that_is_not_there_never_blocks(void **state)
{
    (void)state;
    char port[64];
    snprintf(port, sizeof port, "STATSD_PORT=%d", h_free_port());
    h_srv = scoped_server(OVERRIDES("STATSD_HOST=127.0.0.1", port, "STATSD_SAMPLE_PERCENT=100"));
    double t0 = now_s();
    for (int i = 0; i < 100; i++)
        ping_ok();
    api_create_room(ROOM_BODY);
    api_post_msg(TOK_ALICE, ROOM, MSG);
    double dead_port = now_s() - t0;

    /* A receiver that never reads, with the smallest buffer. */
    udp_rx_t rx = udp_open();
    int small = 1;
    setsockopt(rx.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    snprintf(port, sizeof port, "STATSD_PORT=%d", rx.port);
    server_t *full = scoped_server(OVERRIDES("STATSD_HOST=127.0.0.1", port,
                                             "STATSD_SAMPLE_PERCENT=100"));
    h_srv = full;
    t0 = now_s();
    for (int i = 0; i < 300; i++)
        ping_ok();
    api_post_msg(TOK_ALICE, ROOM, MSG);
    double full_buffer = now_s() - t0;
    close(rx.fd);
    print_message("102 requests with no statsd listener: %.2f s; 301 with a full receiver: %.2f s\n",
                  dead_port, full_buffer);
    assert_true(dead_port < 10.0);
    assert_true(full_buffer < 20.0);
    assert_true(server_alive(h_srv));
}

/* ---- health ------------------------------------------------------------ */

static char *saved_migration;   /* row_to_json of the deleted schema_migrations row */

static void restore_migration(void)
{
    if (!saved_migration)
        return;
    db_exec("INSERT INTO schema_migrations "
            "SELECT * FROM json_populate_record(NULL::schema_migrations, $1::json)",
            PARAMS(saved_migration));
    free(saved_migration);
    saved_migration = NULL;
}

static int health_teardown(void **state)
{
    restore_migration();
    return std_teardown(state);
}

static void assert_health_ok(resp_t *r, long long version)
{
    assert_status(r, 200);
    assert_content_type(r, "application/json");
    assert_header(r, "x-request-id");
    json_object *j = resp_json(r), *v;
    assert_non_null(j);
    assert_true(json_object_is_type(j, json_type_object));
    assert_int_equal(json_object_object_length(j), 2);
    assert_json_str(j, "status", "ok");
    assert_true(json_object_object_get_ex(j, "schemaVersion", &v));
    assert_true(json_object_is_type(v, json_type_int));
    assert_int_equal(json_object_get_int64(v), version);
}

static void test_health_ok_with_schema_version(void **state)
{
    (void)state;
    h_srv = scoped_server(NULL);
    long long version = db_long("SELECT max(version) FROM schema_migrations", 0, NULL);
    resp_t *r = http_get(PFX "/health");
    assert_health_ok(r, version);
    resp_free(r);
    req_t head = { .method = "HEAD", .path = PFX "/health" };
    r = http_do(&head);
    assert_status(r, 200);
    assert_int_equal(r->len, 0);
    resp_free(r);
    r = http_post("{}", PFX "/health");
    assert_error(r, 405, "MethodNotAllowed", "POST is not allowed");
    resp_free(r);
    /* the documented examples show the schema this server runs on */
    const char *pg_script = h_env("PG_SCRIPT");
    assert_non_null(pg_script);
    char want_md[64], want_yaml[64];
    snprintf(want_md, sizeof want_md, "{\"status\":\"ok\",\"schemaVersion\":%lld}", version);
    snprintf(want_yaml, sizeof want_yaml, "{status: ok, schemaVersion: %lld}", version);
    static const char *const docs[] = { "api.md", "openapi.yaml" };
    for (size_t i = 0; i < 2; i++) {
        char path[600];
        snprintf(path, sizeof path, "%.*s/../docs/%s",
                 (int)(strrchr(pg_script, '/') - pg_script), pg_script, docs[i]);
        char *text = h_read_file(path);
        const char *want = i == 0 ? want_md : want_yaml;
        if (!strstr(text, want))
            print_error("docs/%s does not show %s\n", docs[i], want);
        assert_non_null(strstr(text, want));
        free(text);
    }
}

static void test_health_503_when_schema_is_behind(void **state)
{
    (void)state;
    h_srv = scoped_server(NULL);
    long long version = db_long("SELECT max(version) FROM schema_migrations", 0, NULL);
    saved_migration = db_text("DELETE FROM schema_migrations "
                              "WHERE version = (SELECT max(version) FROM schema_migrations) "
                              "RETURNING row_to_json(schema_migrations)::text",
                              0, NULL);
    assert_non_null(saved_migration);
    resp_t *r = http_get(PFX "/health");
    assert_error(r, 503, "ServiceUnavailable", NULL);
    resp_free(r);
    req_t head = { .method = "HEAD", .path = PFX "/health" };
    r = http_do(&head);
    assert_status(r, 503);
    resp_free(r);
    /* ping does not care */
    r = http_get(PFX "/ping/still-up");
    assert_status(r, 200);
    assert_string_equal(r->body, "pong/still-up");
    resp_free(r);
    restore_migration();
    r = http_get(PFX "/health");
    assert_health_ok(r, version);
    resp_free(r);
}

/* The server's backends, seen from pg_stat_activity: how many, and the
 * latest moment one of them changed state (every statement changes it). */
static char *backend_activity(void)
{
    return db_text("SELECT count(*) || ' ' || coalesce(max(state_change)::text, '-') "
                   "FROM pg_stat_activity WHERE application_name = 'ganomede-chat'",
                   0, NULL);
}

static void test_ping_does_not_touch_the_database(void **state)
{
    (void)state;
    h_srv = scoped_server(NULL);
    resp_t *r = http_get(PFX "/health");   /* opens a pooled connection */
    assert_status(r, 200);
    resp_free(r);
    usleep(100 * 1000);
    char *before = backend_activity();
    for (int i = 0; i < 20; i++)
        ping_ok();
    req_t head = { .method = "HEAD", .path = PFX "/ping/x" };
    r = http_do(&head);
    assert_status(r, 200);
    resp_free(r);
    usleep(100 * 1000);
    char *after = backend_activity();
    if (strcmp(before, after) != 0)
        print_error("the server's backends changed during pings: before %s, after %s\n",
                    before, after);
    assert_string_equal(before, after);
    /* and the probe does see a request that uses the database */
    r = http_get(PFX "/health");
    assert_status(r, 200);
    resp_free(r);
    usleep(100 * 1000);
    char *later = backend_activity();
    assert_string_not_equal(after, later);
    free(before);
    free(after);
    free(later);
}

static void test_ping_answers_without_a_database(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url,
             "DATABASE_URL=postgresql://postgres@127.0.0.1:%d/chat?connect_timeout=2",
             h_free_port());
    h_srv = scoped_server(OVERRIDES(url));
    double t0 = now_s();
    for (int i = 0; i < 10; i++)
        ping_ok();
    double secs = now_s() - t0;
    assert_true(secs < 2.0);
    resp_t *r = http_get(PFX "/health");
    assert_error(r, 503, "ServiceUnavailable", NULL);
    resp_free(r);
    r = http_get(PFX "/about");
    assert_status(r, 200);
    resp_free(r);
}

static void test_metrics_is_prometheus_text(void **state)
{
    (void)state;
    h_srv = scoped_server(NULL);
    ping_ok();
    resp_t *r = http_get(PFX "/metrics");
    assert_status(r, 200);
    assert_content_type(r, "text/plain; version=0.0.4");
    assert_non_null(strstr(r->body, "# TYPE chat_http_requests_total counter\n"));
    assert_non_null(strstr(r->body, "# TYPE chat_http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(r->body, "chat_http_requests_total{route=\"ping\",status=\"200\"} "));
    assert_non_null(strstr(r->body,
                           "chat_http_request_duration_seconds_bucket{route=\"ping\",le=\"+Inf\"} "));
    resp_free(r);
}

/* ---- logs -------------------------------------------------------------- */

typedef struct sent {
    const char *method;
    const char *route;
    long status;
    char req_id[128];
} sent_t;

static void send_logged(sent_t *s, const char *method, const char *route, const char *body,
                        const char *path, long status)
{
    req_t rq = { .method = method, .path = path, .body = body };
    resp_t *r = http_do(&rq);
    assert_status(r, status);
    char *id = resp_header(r, "x-request-id");
    assert_non_null(id);
    s->method = method;
    s->route = route;
    s->status = status;
    snprintf(s->req_id, sizeof s->req_id, "%s", id);
    free(id);
    resp_free(r);
}

static bool json_get(json_object *o, const char *k, json_type t, json_object **v)
{
    return json_object_object_get_ex(o, k, v) && json_object_is_type(*v, t);
}

/* Every line of the log is a bunyan record; returns the parsed lines
 * (a JSON array, caller puts). */
static json_object *parse_bunyan_log(server_t *s, pid_t pid)
{
    char *log = server_log(s);
    json_object *lines = json_object_new_array();
    regex_t iso;
    assert_int_equal(regcomp(&iso, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                   "(\\.[0-9]{1,6})?Z$", REG_EXTENDED | REG_NOSUB), 0);
    int lineno = 0;
    const char *why = NULL;
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        json_tokener *tok = json_tokener_new();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        json_object *o = json_tokener_parse_ex(tok, line, (int)strlen(line));
        bool parsed = json_tokener_get_error(tok) == json_tokener_success &&
                      json_tokener_get_parse_end(tok) == strlen(line);
        json_tokener_free(tok);
        json_object *v;
        why = NULL;
        if (!parsed || !o)
            why = "not JSON";
        else if (!json_object_is_type(o, json_type_object))
            why = "not a JSON object";
        else if (!json_get(o, "name", json_type_string, &v) ||
                 strcmp(json_object_get_string(v), "chat") != 0)
            why = "name is not \"chat\"";
        else if (!json_get(o, "hostname", json_type_string, &v) || !*json_object_get_string(v))
            why = "no hostname";
        else if (!json_get(o, "pid", json_type_int, &v) || json_object_get_int(v) != pid)
            why = "pid is not the server's";
        else if (!json_get(o, "level", json_type_int, &v) ||
                 json_object_get_int(v) % 10 != 0 || json_object_get_int(v) < 10 ||
                 json_object_get_int(v) > 60)
            why = "level is not one of 10..60";
        else if (!json_get(o, "msg", json_type_string, &v))
            why = "no msg";
        else if (!json_get(o, "time", json_type_string, &v) ||
                 regexec(&iso, json_object_get_string(v), 0, NULL, 0) != 0)
            why = "time is not ISO-8601 UTC";
        else if (!json_get(o, "v", json_type_int, &v) || json_object_get_int(v) != 0)
            why = "v is not 0";
        if (why) {
            print_error("%s line %d: %s:\n  %s\n", s->log_path, lineno, why, line);
            if (o)
                json_object_put(o);
            break;
        }
        json_object_array_add(lines, o);
    }
    regfree(&iso);
    free(log);
    if (why) {
        json_object_put(lines);
        fail();
    }
    return lines;
}

static const char *str_field(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static void test_log_lines_are_bunyan_with_one_request_line_per_request(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("LOG_LEVEL=info"));
    char p[12][512];
    sent_t s[12];
    size_t n = 0;
    snprintf(p[n], sizeof p[n], PFX "/ping/abc");
    send_logged(&s[n], "GET", "ping", NULL, p[n], 200), n++;
    snprintf(p[n], sizeof p[n], "/about");
    send_logged(&s[n], "GET", "about", NULL, p[n], 200), n++;
    snprintf(p[n], sizeof p[n], PFX "/auth/%s/rooms", IT_SECRET);
    send_logged(&s[n], "POST", "create_room", ROOM_BODY, p[n], 200), n++;
    snprintf(p[n], sizeof p[n], PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    send_logged(&s[n], "POST", "post_message", MSG, p[n], 200), n++;
    snprintf(p[n], sizeof p[n], PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM));
    send_logged(&s[n], "GET", "get_room", NULL, p[n], 200), n++;
    snprintf(p[n], sizeof p[n], PFX "/auth/%s/rooms/%s", TOK_CAROL, enc(ROOM));
    send_logged(&s[n], "GET", "get_room", NULL, p[n], 401), n++;
    snprintf(p[n], sizeof p[n], PFX "/auth/%s/system-messages", IT_SECRET);
    send_logged(&s[n], "POST", "system_message",
                "{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":1,\"message\":\"E\"}",
                p[n], 200), n++;
    snprintf(p[n], sizeof p[n], PFX "/nothing/here");
    send_logged(&s[n], "GET", "not_found", NULL, p[n], 404), n++;
    snprintf(p[n], sizeof p[n], PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    send_logged(&s[n], "DELETE", "get_room", NULL, p[n], 405), n++;
    snprintf(p[n], sizeof p[n], PFX "/health");
    send_logged(&s[n], "GET", "health", NULL, p[n], 200), n++;
    snprintf(p[n], sizeof p[n], PFX "/metrics");
    send_logged(&s[n], "GET", "metrics", NULL, p[n], 200), n++;

    pid_t pid = h_srv->pid;
    server_stop(h_srv);   /* everything it wrote is in the file */
    json_object *lines = parse_bunyan_log(h_srv, pid);

    size_t nlines = json_object_array_length(lines), requests = 0;
    int found[12] = { 0 };
    for (size_t i = 0; i < nlines; i++) {
        json_object *o = json_object_array_get_idx(lines, i), *v;
        const char *msg = str_field(o, "msg");
        if (strcmp(msg, "request") != 0)
            continue;
        requests++;
        const char *id = str_field(o, "req_id");
        assert_non_null(id);
        assert_non_null(str_field(o, "method"));
        assert_non_null(str_field(o, "route"));
        assert_true(json_get(o, "status", json_type_int, &v));
        assert_true(json_object_object_get_ex(o, "latency_ms", &v) &&
                    (json_object_is_type(v, json_type_double) ||
                     json_object_is_type(v, json_type_int)) &&
                    json_object_get_double(v) >= 0);
        assert_true(json_get(o, "level", json_type_int, &v) && json_object_get_int(v) == 30);
        const char *addr = str_field(o, "remote_address");
        assert_non_null(addr);
        assert_string_equal(addr, "127.0.0.1");
        size_t k;
        for (k = 0; k < n; k++)
            if (strcmp(id, s[k].req_id) == 0)
                break;
        if (k == n) {
            /* the harness's start-up pings */
            assert_string_equal(str_field(o, "route"), "ping");
            assert_string_equal(str_field(o, "path"), PFX "/ping/ready");
            continue;
        }
        found[k]++;
        if (strcmp(str_field(o, "method"), s[k].method) != 0 ||
            strcmp(str_field(o, "route"), s[k].route) != 0 ||
            json_object_get_int(json_object_object_get(o, "status")) != s[k].status)
            print_error("request %zu (%s %s -> %ld, route %s) logged as %s\n", k, s[k].method,
                        p[k], s[k].status, s[k].route, json_object_to_json_string(o));
        assert_string_equal(str_field(o, "method"), s[k].method);
        assert_string_equal(str_field(o, "route"), s[k].route);
        assert_int_equal(json_object_get_int(json_object_object_get(o, "status")), s[k].status);
        const char *path = str_field(o, "path");
        assert_non_null(path);
        assert_null(strstr(path, IT_SECRET));
        assert_null(strstr(path, "tok-"));
    }
    for (size_t k = 0; k < n; k++) {
        if (found[k] != 1)
            print_error("request %zu (%s %s, x-request-id %s): %d request lines\n", k,
                        s[k].method, p[k], s[k].req_id, found[k]);
        assert_int_equal(found[k], 1);
    }
    assert_true(requests >= n + 1);   /* ours plus at least one start-up ping */
    json_object_put(lines);
}

static void test_log_level_warn_hides_request_lines(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("LOG_LEVEL=warn"));
    api_create_room(ROOM_BODY);
    api_post_msg(TOK_ALICE, ROOM, MSG);
    resp_t *r = http_get(PFX "/nope");
    assert_status(r, 404);
    resp_free(r);
    r = http_get(PFX "/auth/not-a-token/rooms/%s", enc(ROOM));
    assert_status(r, 401);
    resp_free(r);
    pid_t pid = h_srv->pid;
    server_stop(h_srv);
    json_object *lines = parse_bunyan_log(h_srv, pid);
    for (size_t i = 0; i < json_object_array_length(lines); i++) {
        json_object *o = json_object_array_get_idx(lines, i);
        if (strcmp(str_field(o, "msg"), "request") == 0 ||
            json_object_get_int(json_object_object_get(o, "level")) < 40)
            print_error("line below warn: %s\n", json_object_to_json_string(o));
        assert_string_not_equal(str_field(o, "msg"), "request");
        assert_true(json_object_get_int(json_object_object_get(o, "level")) >= 40);
    }
    json_object_put(lines);
}

#define OPS_TOKEN "tok-OPSLOG-8f1e2d"

static void test_log_never_holds_the_secret_or_a_table_token(void **state)
{
    (void)state;
    h_srv = scoped_server(OVERRIDES("LOG_LEVEL=trace"));
    db_token(OPS_TOKEN, "alice", NULL);
    const char *const toks[] = { IT_SECRET, IT_SECRET ".alice", OPS_TOKEN };
    for (size_t i = 0; i < 3; i++) {
        char t[128];
        snprintf(t, sizeof t, "%s", enc(toks[i]));
        resp_free(http_post(ROOM_BODY, PFX "/auth/%s/rooms", t));
        resp_free(http_get(PFX "/auth/%s/rooms/%s", t, enc(ROOM)));
        resp_free(http_get(PFX "/auth/%s/rooms/%s", t, enc("t/missing")));
        resp_free(http_post(MSG, PFX "/auth/%s/rooms/%s/messages", t, enc(ROOM)));
        resp_free(http_post("[1", PFX "/auth/%s/rooms/%s/messages", t, enc(ROOM)));
        resp_free(http_post("{}", PFX "/auth/%s/system-messages", t));
        resp_free(http_method("PUT", NULL, PFX "/auth/%s/rooms", t));
        resp_free(http_get(PFX "/auth/%s/whatever/else/here", t));
        resp_free(http_get(PFX "/auth/%s", t));
    }
    /* The secret wherever it is (a table token outside the auth segment
     * cannot be told from any other word, so it is not tried there). */
    resp_free(http_get(PFX "/x/%s/y", IT_SECRET));
    resp_free(http_get("/%s", IT_SECRET));
    resp_free(http_get("/%s.alice/rooms", IT_SECRET));
    resp_free(http_get(PFX "/ping/%s", IT_SECRET));
    resp_free(http_get(PFX "/ping/pre%spost", IT_SECRET));
    resp_free(http_get(PFX "/metrics?k=%s", IT_SECRET));
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", OPS_TOKEN, enc(ROOM));
    assert_status(r, 200);   /* the requests above did happen */
    resp_free(r);
    server_stop(h_srv);
    char *log = server_log(h_srv);
    const char *const never[] = { IT_SECRET, OPS_TOKEN, "OPSLOG" };
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        const char *hit = strstr(log, never[i]);
        if (hit) {
            const char *from = hit - log > 300 ? hit - 300 : log;
            print_error("%s contains \"%s\":\n...%.500s...\n", h_srv->log_path, never[i], from);
        }
        assert_null(hit);
    }
    free(log);
}

/* A request line for an error answer says why, as the client was told. */
static void test_error_lines_carry_their_reason(void **state)
{
    (void)state;
    h_srv = scoped_server(NULL);
    api_create_room(ROOM_BODY);
    resp_t *r = http_post("{\"timestamp\":\"soon\",\"type\":\"text\",\"message\":\"x\"}",
                          PFX "/auth/%s/rooms/%s/messages", TOK_ALICE, enc(ROOM));
    assert_error(r, 400, "BadRequest", "bad timestamp");
    char *id = resp_header(r, "x-request-id");
    resp_free(r);
    json_object *line = h_log_line(h_srv, id, "request");
    assert_non_null(line);
    assert_int_equal(json_object_get_int(json_object_object_get(line, "status")), 400);
    assert_string_equal(json_object_get_string(json_object_object_get(line, "error")),
                        "BadRequest");
    assert_string_equal(json_object_get_string(json_object_object_get(line, "reason")),
                        "bad timestamp");
    json_object_put(line);
    free(id);
    /* a success carries none */
    r = http_get(PFX "/ping/fine");
    id = resp_header(r, "x-request-id");
    resp_free(r);
    line = h_log_line(h_srv, id, "request");
    assert_non_null(line);
    assert_null(json_object_object_get(line, "reason"));
    json_object_put(line);
    free(id);
}

/* An empty token is no token: the segment after it is not redacted in its
 * place ("auth//rooms/x", not "auth//[redacted]/x"). */
static void test_empty_token_redacts_nothing_else(void **state)
{
    (void)state;
    h_srv = scoped_server(NULL);
    resp_t *r = http_get(PFX "/auth//rooms/x");
    assert_error(r, 401, "UnauthorizedError", "not authorized");
    char *id = resp_header(r, "x-request-id");
    resp_free(r);
    json_object *line = h_log_line(h_srv, id, "request");
    assert_non_null(line);
    assert_string_equal(json_object_get_string(json_object_object_get(line, "path")),
                        PFX "/auth//rooms/x");
    json_object_put(line);
    free(id);
    r = http_get(PFX "/auth//nothing/here/at/all");
    assert_error(r, 404, "ResourceNotFound", PFX "/auth//nothing/here/at/all does not exist");
    resp_free(r);
}

/* ---- two copies on one database ---------------------------------------- */

static void test_two_copies_share_one_database(void **state)
{
    (void)state;
    server_t *a = scoped_server(NULL);
    server_t *b = scoped_server(NULL);
    h_srv = a;
    api_create_room(ROOM_BODY);
    api_post_msg(TOK_ALICE, ROOM, "{\"timestamp\":1,\"type\":\"text\",\"message\":\"via A\"}");
    h_srv = b;
    resp_t *r = http_get(PFX "/auth/%s/rooms/%s", TOK_BOB, enc(ROOM));
    json_object *m = assert_room(r, ROOM, "t", USERS("alice", "bob"), 1);
    assert_msg(json_object_array_get_idx(m, 0), "1", "alice", "text", "via A");
    resp_free(r);
    api_post_msg(TOK_BOB, ROOM, "{\"timestamp\":\"2\",\"type\":\"text\",\"message\":\"via B\"}");
    r = http_post("{\"type\":\"t\",\"users\":[\"alice\",\"bob\"],\"timestamp\":3,\"message\":\"SYS\"}",
                  PFX "/auth/%s/system-messages", IT_SECRET);
    assert_empty_ok(r);
    resp_free(r);
    h_srv = a;
    r = http_get(PFX "/auth/%s/rooms/%s", TOK_ALICE, enc(ROOM));
    m = assert_room(r, ROOM, "t", USERS("alice", "bob"), 3);
    assert_msg(json_object_array_get_idx(m, 0), "3", "$$", "event", "SYS");
    assert_msg(json_object_array_get_idx(m, 1), "\"2\"", "bob", "text", "via B");
    assert_msg(json_object_array_get_idx(m, 2), "1", "alice", "text", "via A");
    resp_free(r);
    /* a create through B of the room A made returns it with its messages */
    h_srv = b;
    r = http_post(ROOM_BODY, PFX "/auth/%s/rooms", TOK_BOB);
    assert_room(r, ROOM, "t", USERS("alice", "bob"), 3);
    resp_free(r);
}

static PGconn *lock_conn;

static int lock_teardown(void **state)
{
    if (lock_conn) {
        PQfinish(lock_conn);   /* ends the session: releases the lock */
        lock_conn = NULL;
    }
    return std_teardown(state);
}

static void lock_exec(const char *sql)
{
    PGresult *res = PQexec(lock_conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        print_error("%s: %s\n", sql, PQerrorMessage(lock_conn));
        PQclear(res);
        fail();
    }
    PQclear(res);
}

/* Sum of N over the "expiry job deleted N rooms" lines, and the number of
 * "skipped" lines, in a server's log. */
static void expiry_log(server_t *s, long *deleted, int *skipped)
{
    char *log = server_log(s);
    *deleted = 0;
    *skipped = 0;
    for (const char *p = log; (p = strstr(p, "expiry job ")) != NULL; p++) {
        long n;
        if (sscanf(p, "expiry job deleted %ld rooms", &n) == 1)
            *deleted += n;
        else if (strncmp(p, "expiry job skipped", 18) == 0)
            (*skipped)++;
    }
    free(log);
}

static void test_expiry_job_runs_on_one_copy_at_a_time(void **state)
{
    (void)state;
    lock_conn = PQconnectdb(h_env("DATABASE_URL"));
    if (PQstatus(lock_conn) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(lock_conn));
    lock_exec("SELECT pg_advisory_lock(" EXPIRY_LOCK_KEY ")");

    server_t *a = scoped_server(OVERRIDES("EXPIRY_INTERVAL_SECONDS=1"));
    server_t *b = scoped_server(OVERRIDES("EXPIRY_INTERVAL_SECONDS=1"));
    h_srv = a;
    const char *const ids[] = { "x1/alice/bob", "x2/alice/bob", "x3/alice/bob" };
    for (size_t i = 0; i < 3; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"type\":\"x%zu\",\"users\":[\"alice\",\"bob\"]}", i + 1);
        api_create_room(body);
        api_post_msg(TOK_ALICE, ids[i], MSG);
        db_expire_room(ids[i]);
    }
    api_create_room("{\"type\":\"live\",\"users\":[\"alice\",\"bob\"]}");

    /* Both copies try every second; the test holds the lock. */
    double end = now_s() + 10.0;
    long del_a = 0, del_b = 0;
    int skip_a = 0, skip_b = 0;
    while (now_s() < end) {
        usleep(250 * 1000);
        expiry_log(a, &del_a, &skip_a);
        expiry_log(b, &del_b, &skip_b);
        if (skip_a >= 2 && skip_b >= 2)
            break;
    }
    print_message("while the test holds the lock: %d and %d skipped runs\n", skip_a, skip_b);
    assert_true(skip_a >= 2 && skip_b >= 2);
    assert_int_equal(del_a + del_b, 0);
    assert_int_equal(db_long("SELECT count(*) FROM rooms WHERE id LIKE 'x_/alice/bob'", 0, NULL), 3);
    assert_int_equal(db_long("SELECT count(*) FROM messages WHERE room_id LIKE 'x_/alice/bob'",
                             0, NULL), 3);

    lock_exec("SELECT pg_advisory_unlock(" EXPIRY_LOCK_KEY ")");
    double t0 = now_s();
    end = t0 + 10.0;
    long long left = 1;
    while (now_s() < end) {
        left = db_long("SELECT (SELECT count(*) FROM rooms WHERE id LIKE 'x_/alice/bob') "
                       "     + (SELECT count(*) FROM room_users WHERE room_id LIKE 'x_/alice/bob') "
                       "     + (SELECT count(*) FROM messages WHERE room_id LIKE 'x_/alice/bob')",
                       0, NULL);
        if (left == 0)
            break;
        usleep(100 * 1000);
    }
    print_message("expired rooms gone %.2f s after the unlock\n", now_s() - t0);
    assert_int_equal(left, 0);
    assert_true(db_room_exists("live/alice/bob"));
    /* one copy did it all, the rooms were counted once */
    usleep(300 * 1000);
    expiry_log(a, &del_a, &skip_a);
    expiry_log(b, &del_b, &skip_b);
    print_message("deleted by A: %ld, by B: %ld\n", del_a, del_b);
    assert_int_equal(del_a + del_b, 3);
    assert_true(del_a == 0 || del_b == 0);
}

int run_ops_tests(void)
{
    const struct CMUnitTest tests[] = {
        T(test_statsd_sends_restify_route_names_and_statuses),
        T(test_statsd_prefix_and_every_route_name),
        T(test_statsd_about_without_prefix_is_getabout),
        T(test_statsd_samples_ten_percent),
        T(test_statsd_that_is_not_there_never_blocks),
        T(test_health_ok_with_schema_version),
        cmocka_unit_test_setup_teardown(test_health_503_when_schema_is_behind, std_setup,
                                        health_teardown),
        T(test_ping_does_not_touch_the_database),
        T(test_ping_answers_without_a_database),
        T(test_metrics_is_prometheus_text),
        T(test_log_lines_are_bunyan_with_one_request_line_per_request),
        T(test_log_level_warn_hides_request_lines),
        T(test_log_never_holds_the_secret_or_a_table_token),
        T(test_error_lines_carry_their_reason),
        T(test_empty_token_redacts_nothing_else),
        T(test_two_copies_share_one_database),
        cmocka_unit_test_setup_teardown(test_expiry_job_runs_on_one_copy_at_a_time, std_setup,
                                        lock_teardown),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
