/* http_ceiling: the HTTP ceiling of ganomede-chat, and the stand-in
 * notifications service of the benchmark.
 *
 * A libmicrohttpd server with the daemon configuration of src/http.c
 * (flags, thread pool, timeouts, connection limit, completion callback, raw
 * URLs), that answers every request 200 with a fixed body and does nothing
 * else: no routing, no JSON, no database. What wrk measures against it is
 * what libmicrohttpd and the loopback can do on this machine, the most the
 * service could ever reach. Left out on purpose: src/http.c's
 * MHD_OPTION_NOTIFY_CONNECTION (its slow-client guard, the service's own
 * work) and MHD_OPTION_EXTERNAL_LOGGER (used on errors only).
 *
 * Like src/http.c, a request context is allocated on the first
 * (headers-only) call and the answer is queued on a later call, once the
 * body (if any) is consumed: libmicrohttpd 0.9.75 treats a response queued
 * on the first call as an early answer and closes the connection, which
 * would kill keep-alive.
 *
 * Usage: http_ceiling PORT BODY_BYTES [POST_BODY_BYTES]
 *   GET (and anything but POST) gets BODY_BYTES bytes, POST gets
 *   POST_BODY_BYTES (default BODY_BYTES), so the mixed route (80 % GET
 *   with a room, 20 % POST with an empty answer) has a matching ceiling.
 * Stops on SIGINT or SIGTERM. Listens on 127.0.0.1 only. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The same numbers as the service's defaults (HTTP_THREADS,
 * HTTP_CONNECTION_TIMEOUT_SECONDS, HTTP_MAX_CONNECTIONS). */
#define CEILING_THREADS 8
#define CEILING_CONNECTION_TIMEOUT 30
#define CEILING_CONNECTION_LIMIT 1024

/* The same shape as the service's x-request-id (a UUID), but fixed: making
 * it is the service's work, not the HTTP layer's. */
#define CEILING_REQUEST_ID "00000000-0000-4000-8000-000000000000"

struct ceiling {
    char *get_body;
    size_t get_len;
    char *post_body;
    size_t post_len;
};

struct request_ctx {
    size_t received;   /* body bytes consumed */
};

static enum MHD_Result ceiling_access(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls);
static void ceiling_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe);
static size_t ceiling_keep_raw(void *cls, struct MHD_Connection *conn, char *uri);
static int parse_size(const char *text, size_t max, size_t *out);

static enum MHD_Result ceiling_access(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)url;
    (void)version;
    (void)upload_data;
    struct ceiling *c = cls;
    struct request_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            return MHD_NO;
        *con_cls = ctx;
        return MHD_YES;   /* headers only: answer on a later call */
    }
    if (*upload_data_size > 0) {
        ctx->received += *upload_data_size;   /* consume (and drop) the body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        is_post ? c->post_len : c->get_len, is_post ? c->post_body : c->get_body,
        MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, "x-request-id", CEILING_REQUEST_ID);
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static void ceiling_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

/* As src/http.c: every URL is left raw. */
static size_t ceiling_keep_raw(void *cls, struct MHD_Connection *conn, char *uri)
{
    (void)cls;
    (void)conn;
    return strlen(uri);
}

static int parse_size(const char *text, size_t max, size_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || !end || *end != '\0' || v > max)
        return 0;
    *out = (size_t)v;
    return 1;
}

static char *make_body(size_t len)
{
    char *b = malloc(len + 1);
    if (!b)
        return NULL;
    memset(b, 'x', len);
    b[len] = '\0';
    return b;
}

int main(int argc, char **argv)
{
    size_t port = 0;
    struct ceiling c = { 0 };
    if (argc < 3 || argc > 4 || !parse_size(argv[1], 65535, &port) || port == 0 ||
        !parse_size(argv[2], 64u << 20, &c.get_len) ||
        (argc == 4 && !parse_size(argv[3], 64u << 20, &c.post_len))) {
        fprintf(stderr, "usage: %s PORT BODY_BYTES [POST_BODY_BYTES]\n", argv[0]);
        return 2;
    }
    if (argc == 3)
        c.post_len = c.get_len;
    c.get_body = make_body(c.get_len);
    c.post_body = make_body(c.post_len);
    if (!c.get_body || !c.post_body)
        return 1;

    /* Signals go to the main thread only: block them before any thread starts. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    /* src/http.c's flags and options (plus the loopback address). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, ceiling_access, &c,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)CEILING_THREADS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CEILING_CONNECTION_TIMEOUT,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CEILING_CONNECTION_LIMIT,
        MHD_OPTION_NOTIFY_COMPLETED, ceiling_completed, &c,
        MHD_OPTION_UNESCAPE_CALLBACK, ceiling_keep_raw, &c,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "http_ceiling: cannot listen on 127.0.0.1:%zu\n", port);
        return 1;
    }
    fprintf(stderr, "http_ceiling: listening on 127.0.0.1:%zu (GET %zu bytes, POST %zu bytes)\n",
            port, c.get_len, c.post_len);
    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    free(c.get_body);
    free(c.post_body);
    return 0;
}
