/* http: libmicrohttpd with its internal thread pool (epoll).
 *
 * A request context is allocated as soon as the request line is read (the
 * URI log callback) and freed in the completion callback, which then runs
 * for every request whose line was read: answered by us, answered by
 * libmicrohttpd itself (a head too large to buffer, a malformed
 * Content-Length), or cut off by the client. The first call of the access
 * handler sees the whole head before any body byte: requests that must not
 * be read are refused there, an early answer after which libmicrohttpd
 * reads nothing more and closes the connection. Every other answer is
 * queued on a later call, because libmicrohttpd 0.9.75 treats a response
 * queued on the first call as such an early answer, which would kill
 * keep-alive. */
#include "http.h"

#include "buf.h"
#include "framing.h"
#include "watchdog.h"
#include "gzip.h"
#include "log.h"
#include "text.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>

/* Past this many bytes over the limit, the connection is closed. */
#define HTTP_MAX_DISCARDED_BYTES (64u << 20)
/* Each connection's buffer for the request head (and what libmicrohttpd
 * keeps per request); must hold a head of FRAMING_MAX_HEAD_BYTES. */
#define HTTP_CONNECTION_MEMORY_BYTES (32u << 10)
/* What a streamed body's reader is asked for at a time. */
#define HTTP_STREAM_BLOCK_BYTES (64u << 10)
/* A live stream's block: events are small, and ten thousand streams each
 * holding 64 kB would cost 60 MB more (measured). */
#define HTTP_LIVE_BLOCK_BYTES (4u << 10)
_Static_assert(HTTP_CONNECTION_MEMORY_BYTES > FRAMING_MAX_HEAD_BYTES + 4096,
               "a head at the framing limit must fit the connection's buffer");


/* The requests waiting for a request thread (settings.workers > 0): their
 * connections are suspended meanwhile, so the socket threads go on serving
 * every other connection, and the next free request thread takes the
 * oldest request, whichever socket thread read it. */
struct http_jobs {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct http_ctx *head, *tail;
    bool stop;
    pthread_t *threads;
    unsigned nthreads;   /* started */
};

struct http_server {
    atomic_int busy;   /* requests begun and not yet completed (answer sent) */
    struct http_jobs jobs;
    struct MHD_Daemon *daemon;
    struct watchdog *watchdog;
    bool drained;      /* quiesced by http_drain */
    MHD_socket listener; /* returned by MHD_quiesce_daemon */
    http_handler handler;
    void *app;
    struct http_settings settings;
};

struct http_ctx {
    struct buf body;
    size_t target_bytes; /* of the raw request target, up to a NUL */
    bool head_seen;      /* the access handler has seen the head */
    bool too_large;
    size_t discarded;    /* body bytes dropped past the limit */
    bool answered;
    unsigned status;
    const char *method;  /* libmicrohttpd's, valid until completion */
    const char *path;    /* likewise */
    struct http_server *server;
    const char *route;
    int route_id;
    char *log_path;
    bool by_library;     /* libmicrohttpd answered itself (status from it) */
    char error[40];      /* the error code answered, or "" */
    char reason[160];    /* its message; both for the log line */
    struct timespec started;
    char req_id[HTTP_REQUEST_ID_LEN + 1];
    /* A request handled on a request thread: what it ran with and
     * answered, kept here while its connection is suspended. */
    struct MHD_Connection *conn;
    struct http_request req;
    struct http_response resp;
    bool handled;        /* RESP is ready: send it when resumed */
    struct http_ctx *next_job;
};

static void http_new_request_id(char *out);
static bool http_take_request_id(struct MHD_Connection *conn, char *out);
static bool http_declared_too_large(struct MHD_Connection *conn, size_t max);
static void *http_request_line(void *cls, const char *uri, struct MHD_Connection *conn);
static enum MHD_Result http_framing_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value);
static enum MHD_Result http_begin(struct MHD_Connection *conn, struct http_ctx *ctx,
                                  const char *url, const char *method, const char *version);
static enum MHD_Result http_refuse(struct MHD_Connection *conn, struct http_ctx *ctx,
                                   unsigned status, const char *code, const char *message,
                                   const char *route);
static void http_note_error(struct http_ctx *ctx, const struct http_response *resp);
static ssize_t http_stream_read(void *cls, uint64_t pos, char *buf, size_t max);
static void http_stream_free(void *cls);
static struct MHD_Response *http_make_response(struct MHD_Connection *conn,
                                               struct http_response *resp, bool *gzipped);
static enum MHD_Result http_send(struct MHD_Connection *conn, struct http_ctx *ctx,
                                 struct http_response *resp);
static void http_free_json(void *json);
static void http_handle(struct http_server *srv, struct MHD_Connection *conn,
                        const struct http_request *req, struct http_response *resp);
static void http_jobs_push(struct http_jobs *q, struct http_ctx *ctx);
static void *http_request_thread(void *arg);
static void http_jobs_start(struct http_server *srv, unsigned n);
static void http_jobs_stop(struct http_jobs *q);
static struct MHD_Response *http_body_response(struct MHD_Connection *conn, const char *body,
                                               size_t len, void *owner,
                                               void (*release)(void *), bool *gzipped);
static struct MHD_Response *http_shared_response(struct MHD_Connection *conn,
                                                 struct http_shared_body *b, bool *gzipped);
static enum MHD_Result http_send_too_large(struct MHD_Connection *conn, struct http_ctx *ctx,
                                           bool early);
static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **con_cls);
static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe);
static size_t http_keep_raw(void *cls, struct MHD_Connection *conn, char *uri);
static void http_mhd_log(void *cls, const char *fmt, va_list ap);
static void http_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe);
static struct watchdog_conn *http_watchdog_of(struct MHD_Connection *conn);
static void http_log_request(struct MHD_Connection *conn, const struct http_ctx *ctx,
                             enum MHD_RequestTerminationCode toe, double ms);

void http_response_error(struct http_response *resp, unsigned status, const char *code,
                         const char *message)
{
    json_object_put(resp->json);
    struct json_object *err = json_object_new_object();
    json_object_object_add(err, "code", json_object_new_string(code));
    json_object_object_add(err, "message", json_object_new_string(message));
    resp->json = err;
    resp->status = status;
}

/* The next 64 random bits of this thread: splitmix64 seeded once per thread
 * from getrandom. A request id must be unique, not secret, and a getrandom
 * call on every request measured as one of ~20 syscalls per request. */
static uint64_t http_random64(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    static _Atomic uint64_t fallback;
    if (!seeded) {
        if (getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state)
            state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ ++fallback;
        seeded = true;
    }
    uint64_t z = (state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* A random UUID (version 4), as restify gave. */
static void http_new_request_id(char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    uint64_t hi = http_random64(), lo = http_random64();
    memcpy(b, &hi, sizeof hi);
    memcpy(b + 8, &lo, sizeof lo);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    size_t o = 0;
    for (size_t i = 0; i < sizeof b; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0F];
    }
    out[o] = '\0';
}

/* A caller's own request id (restify honoured "request-id" and
 * "x-request-id") is kept when it is short and plain, so one id follows a
 * request across services. */
static bool http_take_request_id(struct MHD_Connection *conn, char *out)
{
    const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-request-id");
    if (!id)
        id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "request-id");
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > HTTP_REQUEST_ID_LEN ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != len)
        return false;
    memcpy(out, id, len + 1);
    return true;
}

static bool http_declared_too_large(struct MHD_Connection *conn, size_t max)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    return end && end != cl && n > max;
}

/* Every connection is under the watchdog from its start to its close. */
static void http_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? watchdog_open(srv->watchdog, ci->connect_fd) : NULL;
    } else {
        watchdog_close(srv->watchdog, *socket_context);
        *socket_context = NULL;
    }
}

static struct watchdog_conn *http_watchdog_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* libmicrohttpd's own messages (clients closing mid-request...) become
 * log lines like every other, at debug level: they are the client's doing.
 * An answer it sends itself (a request line too long to buffer: 414 with
 * its HTML page, no request id of ours) is a warning with its status, so
 * that every answer leaves a line, even one sent before a request exists. */
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    static const char ANSWER[] = "HTTP response code is ";
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    const char *code = strstr(msg, ANSWER);
    if (code && log_enabled(LOG_WARN)) {
        char *end = NULL;
        long status = strtol(code + sizeof ANSWER - 1, &end, 10);
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "status", json_object_new_int((int)status));
        json_object_object_add(f, "answered_by", json_object_new_string("libmicrohttpd"));
        log_emit(LOG_WARN, NULL, f, "libmicrohttpd answered %ld itself (its own HTML page)",
                 status);
        return;
    }
    if (log_enabled(LOG_DEBUG))
        log_emit(LOG_DEBUG, NULL, NULL, "libmicrohttpd: %s", msg);
}

/* The URI log callback: a request line was read. Its context starts here,
 * with a request id of ours (replaced by the client's own, if it sent one,
 * once the headers are in), so that whatever answers it, libmicrohttpd
 * included, the completion callback logs it. URI is the raw target, cut
 * short only by a NUL byte inside it (http_begin compares its length with
 * where the request line's version starts). */
static void *http_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    struct http_server *srv = cls;
    struct http_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    buf_init(&ctx->body, srv->settings.max_body_bytes);
    clock_gettime(CLOCK_MONOTONIC, &ctx->started);
    http_new_request_id(ctx->req_id);
    ctx->target_bytes = uri ? strlen(uri) : 0;
    ctx->server = srv;
    atomic_fetch_add(&srv->busy, 1);
    return ctx;
}

/* MHD_KeyValueIterator over the request's header fields, repeats included. */
static enum MHD_Result http_framing_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    (void)kind;
    framing_header(cls, key, value);
    return MHD_YES;
}

char *http_query(const struct http_request *req, const char *name, bool *bad)
{
    const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!raw)
        return NULL;
    /* Left raw by http_keep_raw like the path: decoded here, once. */
    size_t n = strlen(raw), len = 0;
    char *plus_free = malloc(n + 1);
    if (!plus_free)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        plus_free[i] = raw[i] == '+' ? ' ' : raw[i];
    char *value = text_percent_decode(plus_free, n, &len);
    free(plus_free);
    if (value && !text_is_clean_utf8(value, len)) {
        *bad = true;
        free(value);
        return NULL;
    }
    return value;
}

/* With every URL left raw, the router decides how to decode each segment. */
static size_t http_keep_raw(void *cls, struct MHD_Connection *conn, char *uri)
{
    (void)cls;
    (void)conn;
    return strlen(uri);
}

/* Releases the JSON tree a response body was served from. */
static void http_free_json(void *json)
{
    json_object_put(json);
}

/* The MHD response for BODY (LEN bytes), gzipped when that pays and the
 * client takes it. BODY lives in OWNER (a JSON tree holding its
 * serialization, served without a copy, or BODY itself), which RELEASE
 * frees once sent, or now when BODY is not served as it is. */
static struct MHD_Response *http_body_response(struct MHD_Connection *conn, const char *body,
                                               size_t len, void *owner,
                                               void (*release)(void *), bool *gzipped)
{
    struct MHD_Response *r = NULL;
    *gzipped = false;
    if (len >= GZIP_MIN_BYTES &&
        gzip_accepted(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_ACCEPT_ENCODING))) {
        size_t zlen;
        char *z = gzip_compress(body, len, &zlen);
        if (z) {
            r = MHD_create_response_from_buffer_with_free_callback(zlen, z, free);
            if (!r)
                free(z);
            *gzipped = r != NULL;
            release(owner);
            return r;
        }
    }
    /* This libmicrohttpd takes the buffer as void * but only reads it. */
    union { const char *text; void *data; } unconst = { .text = body };
    r = MHD_create_response_from_buffer_with_free_callback_cls(len, unconst.data, release, owner);
    if (!r)
        release(owner);
    return r;
}

/* The MHD response for shared body B; B's owner is released once it is
 * sent, or now when it is not sent as it is. */
static struct MHD_Response *http_shared_response(struct MHD_Connection *conn,
                                                 struct http_shared_body *b, bool *gzipped)
{
    union { const char *text; void *data; } unconst = { .text = b->data };
    struct MHD_Response *r = NULL;
    *gzipped = false;
    if (!b->gzipped)
        return http_body_response(conn, b->data, b->len, b->owner, b->release, gzipped);
    if (gzip_accepted(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_ACCEPT_ENCODING))) {
        r = MHD_create_response_from_buffer_with_free_callback_cls(b->len, unconst.data,
                                                                   b->release, b->owner);
        *gzipped = r != NULL;
        if (!r)
            b->release(b->owner);
        return r;
    }
    char *plain = gzip_inflate(b->data, b->len, b->plain_len);
    b->release(b->owner);
    if (!plain)
        return NULL;
    r = MHD_create_response_from_buffer_with_free_callback(b->plain_len, plain, free);
    if (!r)
        free(plain);
    return r;
}

/* An error answer's code and message go into the request's log line. */
static void http_note_error(struct http_ctx *ctx, const struct http_response *resp)
{
    struct json_object *code = NULL, *message = NULL;
    if (resp->status < 400 || !resp->json ||
        !json_object_object_get_ex(resp->json, "code", &code) ||
        !json_object_object_get_ex(resp->json, "message", &message))
        return;
    /* Copied: the tree is freed once sent, before the log line. */
    snprintf(ctx->error, sizeof ctx->error, "%s", json_object_get_string(code));
    snprintf(ctx->reason, sizeof ctx->reason, "%s", json_object_get_string(message));
}

/* A streamed body: the handler's reader and what it reads from. */
struct http_stream {
    http_stream_fn *read;
    void *cls;
    void (*release)(void *cls);
};

/* MHD_ContentReaderCallback over an http_stream. */
static ssize_t http_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct http_stream *s = cls;
    long n = s->read(s->cls, buf, max);
    if (n == HTTP_STREAM_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

void http_connection_suspend(void *conn)
{
    MHD_suspend_connection(conn);
}

void http_connection_resume(void *conn)
{
    MHD_resume_connection(conn);
}

static void http_stream_free(void *cls)
{
    struct http_stream *s = cls;
    if (s->release)
        s->release(s->cls);
    free(s);
}

/* The libmicrohttpd response for RESP's body (JSON, a stream, or text),
 * taking it from RESP; NULL when out of memory (the body is freed). */
static struct MHD_Response *http_make_response(struct MHD_Connection *conn,
                                               struct http_response *resp, bool *gzipped)
{
    struct json_object *json = resp->json;
    resp->json = NULL;
    *gzipped = false;
    if (json) {
        size_t len = 0;
        const char *text = json_object_to_json_string_length(
            json, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (text)
            return http_body_response(conn, text, len, json, http_free_json, gzipped);
        json_object_put(json);
        return NULL;
    }
    if (resp->stream) {
        struct http_stream *s = malloc(sizeof *s);
        struct MHD_Response *r = NULL;
        if (s) {
            *s = (struct http_stream){ resp->stream, resp->stream_cls, resp->stream_free };
            r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
                                                  resp->stream_bind ? HTTP_LIVE_BLOCK_BYTES
                                                                    : HTTP_STREAM_BLOCK_BYTES,
                                                  http_stream_read, s, http_stream_free);
        }
        if (r && resp->stream_bind)
            resp->stream_bind(resp->stream_cls, conn);
        if (!r) {
            free(s);
            if (resp->stream_free)
                resp->stream_free(resp->stream_cls);
        }
        resp->stream = NULL;
        return r;
    }
    if (resp->shared.data)
        return http_shared_response(conn, &resp->shared, gzipped);
    char *text = resp->text ? resp->text : strdup("");
    resp->text = NULL;
    return text ? http_body_response(conn, text, strlen(text), text, free, gzipped) : NULL;
}

static enum MHD_Result http_send(struct MHD_Connection *conn, struct http_ctx *ctx,
                                 struct http_response *resp)
{
    http_note_error(ctx, resp);
    const char *type = resp->content_type ? resp->content_type
                       : resp->json || resp->shared.data ? "application/json"
                       : resp->text       ? "text/plain"
                                          : NULL;
    bool gzipped = false;
    struct MHD_Response *r = http_make_response(conn, resp, &gzipped);
    enum MHD_Result ok = MHD_NO;
    if (r) {
        if (type)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(r, "x-request-id", ctx->req_id);
        if (gzipped) {
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
            MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
        }
        if (resp->close)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        if (resp->console) {
            /* The page runs its own script and talks to this server only. */
            MHD_add_response_header(r, "Content-Security-Policy",
                                    "default-src 'none'; script-src 'self'; style-src 'self'; "
                                    "connect-src 'self'; img-src 'self'; form-action 'none'; "
                                    "frame-ancestors 'none'; base-uri 'none'");
            MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
            MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
            MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        }
        if (resp->stream_bind) {
            /* A live stream: no cache or proxy may hold it back. */
            MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
            MHD_add_response_header(r, "X-Accel-Buffering", "no");
        }
        if (resp->retry_after_seconds > 0) {
            char seconds[24];
            snprintf(seconds, sizeof seconds, "%ld", resp->retry_after_seconds);
            MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
        }
        ok = MHD_queue_response(conn, resp->status, r);
        MHD_destroy_response(r);
    }
    ctx->answered = true;
    ctx->status = resp->status;
    ctx->route = resp->route;
    ctx->route_id = resp->route_id;
    ctx->log_path = resp->log_path;
    resp->log_path = NULL;
    return ok;
}

/* EARLY: refused on the head, before any body byte (the connection is
 * then closed); else the body was read and dropped, keep-alive holds. */
static enum MHD_Result http_send_too_large(struct MHD_Connection *conn, struct http_ctx *ctx,
                                           bool early)
{
    char msg[96];
    snprintf(msg, sizeof msg, "request body is larger than %zu bytes", ctx->body.max);
    if (early)
        return http_refuse(conn, ctx, 413, "PayloadTooLarge", msg, "too_large");
    struct http_response resp = { 0 };
    http_response_error(&resp, 413, "PayloadTooLarge", msg);
    resp.route = "too_large";
    resp.route_id = -1;
    return http_send(conn, ctx, &resp);
}

/* Answers on the first call of the access handler and closes the
 * connection: libmicrohttpd reads nothing more from it, so no byte after
 * this head (a smuggled request) is ever served. */
static enum MHD_Result http_refuse(struct MHD_Connection *conn, struct http_ctx *ctx,
                                   unsigned status, const char *code, const char *message,
                                   const char *route)
{
    struct http_response resp = { .route = route, .route_id = -1, .close = true };
    http_response_error(&resp, status, code, message);
    return http_send(conn, ctx, &resp);
}

/* The first call of the access handler: the head is in, no body byte has
 * been read. Refuses what must not be read (framing.h) or is declared too
 * large. */
static enum MHD_Result http_begin(struct MHD_Connection *conn, struct http_ctx *ctx,
                                  const char *url, const char *method, const char *version)
{
    struct http_server *srv = ctx->server;
    ctx->head_seen = true;
    ctx->method = method;
    ctx->path = url;
    (void)http_take_request_id(conn, ctx->req_id);
    /* libmicrohttpd ends the target where the version begins; a NUL byte
     * before that (strlen stopped short) would hide the rest of it. */
    bool nul = *version && url + ctx->target_bytes + 1 != version;
    const union MHD_ConnectionInfo *head =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    struct framing f;
    struct framing_refusal no;
    framing_init(&f);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, http_framing_field, &f);
    if (!framing_check(&f, nul, ctx->target_bytes, head ? head->header_size : 0, &no))
        return http_refuse(conn, ctx, no.status, no.code, no.message, "refused");
    ctx->too_large = http_declared_too_large(conn, srv->settings.max_body_bytes);
    if (ctx->too_large)
        return http_send_too_large(conn, ctx, true);
    return MHD_YES;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
    struct http_server *srv = cls;
    struct http_ctx *ctx = *con_cls;
    if (!ctx)
        return MHD_NO;   /* out of memory when the request line came */
    if (!ctx->head_seen)
        return http_begin(conn, ctx, url, method, version);
    if (ctx->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->handled)   /* resumed: its request thread has answered */
        return http_send(conn, ctx, &ctx->resp);
    if (*upload_data_size > 0) {
        /* libmicrohttpd cannot answer in the middle of a body: past the
         * limit, keep reading but drop the bytes, and answer 413 at its end.
         * A client that never stops is cut off. */
        if (ctx->too_large || !buf_append(&ctx->body, upload_data, *upload_data_size)) {
            ctx->too_large = true;
            ctx->discarded += *upload_data_size;
            buf_free(&ctx->body);
        }
        *upload_data_size = 0;
        return ctx->discarded > HTTP_MAX_DISCARDED_BYTES ? MHD_NO : MHD_YES;
    }
    if (ctx->too_large)
        return http_send_too_large(conn, ctx, false);
    struct http_request req = {
        .method = method,
        .path = url,
        .content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = ctx->body.data ? ctx->body.data : "",
        .body_len = ctx->body.len,
        .req_id = ctx->req_id,
        .idempotency_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key"),
        .last_event_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID"),
        .conn = conn,
    };
    watchdog_set_busy(srv->watchdog, http_watchdog_of(conn), true);
    if (srv->jobs.nthreads) {
        ctx->conn = conn;
        ctx->req = req;
        ctx->resp = (struct http_response){ .status = 500 };
        MHD_suspend_connection(conn);
        http_jobs_push(&srv->jobs, ctx);
        return MHD_YES;
    }
    struct http_response resp = { .status = 500 };
    http_handle(srv, conn, &req, &resp);
    return http_send(conn, ctx, &resp);
}

/* Runs the handler for REQ into RESP. */
static void http_handle(struct http_server *srv, struct MHD_Connection *conn,
                        const struct http_request *req, struct http_response *resp)
{
    srv->handler(srv->app, req, resp);
    /* A streamed answer is still being produced: busy until completion. */
    if (!resp->stream)
        watchdog_set_busy(srv->watchdog, http_watchdog_of(conn), false);
}

void http_response_discard(struct http_response *r)
{
    json_object_put(r->json);
    free(r->text);
    free(r->log_path);
    if (r->stream && r->stream_free)
        r->stream_free(r->stream_cls);
    if (r->shared.data && r->shared.release)
        r->shared.release(r->shared.owner);
    *r = (struct http_response){ 0 };
}

static void http_jobs_push(struct http_jobs *q, struct http_ctx *ctx)
{
    ctx->next_job = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next_job = ctx;
    else
        q->head = ctx;
    q->tail = ctx;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

/* A request thread: takes the oldest waiting request, runs its handler,
 * and resumes its connection, whose socket thread then sends the answer
 * (http_access, ctx->handled). Ends when stopped with nothing waiting. */
static void *http_request_thread(void *arg)
{
    struct http_server *srv = arg;
    struct http_jobs *q = &srv->jobs;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->head && !q->stop)
            pthread_cond_wait(&q->ready, &q->lock);
        struct http_ctx *ctx = q->head;
        if (!ctx)
            break;
        q->head = ctx->next_job;
        if (!q->head)
            q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        http_handle(srv, ctx->conn, &ctx->req, &ctx->resp);
        ctx->handled = true;
        MHD_resume_connection(ctx->conn);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Starts N request threads (fewer when the system refuses: logged). */
static void http_jobs_start(struct http_server *srv, unsigned n)
{
    struct http_jobs *q = &srv->jobs;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    q->threads = n ? calloc(n, sizeof *q->threads) : NULL;
    for (unsigned i = 0; q->threads && i < n; i++) {
        if (pthread_create(&q->threads[q->nthreads], NULL, http_request_thread, srv) != 0) {
            log_error("started %u of %u request threads", q->nthreads, n);
            break;
        }
        q->nthreads++;
    }
}

/* Lets the request threads finish what waits, then joins them. */
static void http_jobs_stop(struct http_jobs *q)
{
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    free(q->threads);
    pthread_cond_destroy(&q->ready);
    pthread_mutex_destroy(&q->lock);
}

static void http_log_request(struct MHD_Connection *conn, const struct http_ctx *ctx,
                             enum MHD_RequestTerminationCode toe, double ms)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[64] = "";
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr,
                      sizeof addr);
        else if (sa->sa_family == AF_INET6) {
            const struct in6_addr *a6 =
                &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
            /* IPv4 clients of the dual-stack listener, written as IPv4. */
            if (IN6_IS_ADDR_V4MAPPED(a6))
                inet_ntop(AF_INET, a6->s6_addr + 12, addr, sizeof addr);
            else
                inet_ntop(AF_INET6, a6, addr, sizeof addr);
        }
    }
    struct json_object *f = json_object_new_object();
    json_object_object_add(f, "method", json_object_new_string(ctx->method ? ctx->method : ""));
    json_object_object_add(f, "route", json_object_new_string(ctx->route ? ctx->route : "none"));
    if (ctx->log_path)
        json_object_object_add(f, "path", json_object_new_string(ctx->log_path));
    json_object_object_add(f, "status", json_object_new_int((int)ctx->status));
    char latency[32];
    snprintf(latency, sizeof latency, "%.3f", ms);
    json_object_object_add(f, "latency_ms", json_object_new_double_s(ms, latency));
    json_object_object_add(f, "remote_address", json_object_new_string(addr));
    if (ctx->error[0]) {
        json_object_object_add(f, "error", json_object_new_string(ctx->error));
        json_object_object_add(f, "reason", json_object_new_string(ctx->reason));
    }
    if (ctx->by_library)
        json_object_object_add(f, "answered_by", json_object_new_string("libmicrohttpd"));
    else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        json_object_object_add(f, "aborted", json_object_new_boolean(1));
    log_emit(LOG_INFO, ctx->req_id, f, "request");
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_ctx *ctx = *con_cls;
    if (!ctx)
        return;
    atomic_fetch_sub(&ctx->server->busy, 1);
    watchdog_set_busy(srv->watchdog, http_watchdog_of(conn), false);
    watchdog_rearm(srv->watchdog, http_watchdog_of(conn));
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double ms = (double)(now.tv_sec - ctx->started.tv_sec) * 1e3 +
                (double)(now.tv_nsec - ctx->started.tv_nsec) / 1e6;
    if (!ctx->answered) {
        /* libmicrohttpd may have answered itself (a head it could not
         * buffer, a malformed Content-Length or chunk): say so, with its
         * status. */
        const union MHD_ConnectionInfo *st =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
        if (st && st->http_status >= 400) {
            ctx->answered = ctx->by_library = true;
            ctx->status = st->http_status;
            ctx->route_id = -1;
            ctx->route = "none";
        }
    }
    if (ctx->answered && srv->settings.observe)
        srv->settings.observe(srv->app, ctx->route_id, ctx->status, ctx->method, ctx->path,
                              ms / 1e3);
    if (log_enabled(LOG_INFO))
        http_log_request(conn, ctx, toe, ms);
    if (ctx->handled && !ctx->answered)   /* closed before its answer went out */
        http_response_discard(&ctx->resp);
    buf_free(&ctx->body);
    free(ctx->log_path);
    free(ctx);
    *con_cls = NULL;
}

struct http_server *http_start(const struct http_settings *s, http_handler handler, void *app)
{
    struct http_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->listener = MHD_INVALID_SOCKET;
    srv->handler = handler;
    srv->app = app;
    srv->settings = *s;
    srv->watchdog = watchdog_start(s->request_deadline_ms);
    if (!srv->watchdog) {
        free(srv);
        return NULL;
    }
    /* ITC lets http_stop quiesce the daemon (stop accepting) first. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
                     (s->listen_ipv6 ? MHD_USE_IPv6 : 0);
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_access, srv,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
        /* Request line and headers are read into this per-connection
         * buffer (libmicrohttpd's default, stated): heads up to about 28 kB
         * reach http_begin, which refuses those past the framing limits
         * with our JSON; longer ones libmicrohttpd answers itself. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY_BYTES,
        MHD_OPTION_URI_LOG_CALLBACK, http_request_line, srv,
        MHD_OPTION_THREAD_POOL_SIZE, s->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, s->connection_timeout_seconds,
        MHD_OPTION_CONNECTION_LIMIT, s->max_connections,
        MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, http_keep_raw, srv,
        MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, srv,
        MHD_OPTION_NOTIFY_CONNECTION, http_connection, srv,
        MHD_OPTION_END);
    if (!srv->daemon) {
        log_error("libmicrohttpd could not start");
        watchdog_stop(srv->watchdog);
        free(srv);
        return NULL;
    }
    http_jobs_start(srv, s->request_threads);
    return srv;
}

bool http_drain(struct http_server *srv, long grace_ms)
{
    if (!srv)
        return true;
    if (!srv->drained) {
        /* Refuse new connections, let the ones with a request under way
         * answer (bounded). */
        /* The listening socket is ours to close, but only after
         * MHD_stop_daemon: its threads may still use the descriptor.
         * shutdown() takes it out of the listening state now, so new
         * connections are refused at once instead of waiting in the
         * backlog, while the descriptor stays valid. */
        srv->listener = MHD_quiesce_daemon(srv->daemon);
        if (srv->listener != MHD_INVALID_SOCKET)
            shutdown(srv->listener, SHUT_RDWR);
        srv->drained = true;
    }
    for (long waited_ms = 0; waited_ms < grace_ms; waited_ms += 20) {
        if (atomic_load(&srv->busy) == 0)
            return true;
        struct timespec nap = { 0, 20 * 1000000L };
        nanosleep(&nap, NULL);
    }
    return atomic_load(&srv->busy) == 0;
}

void http_stop(struct http_server *srv)
{
    if (!srv)
        return;
    if (!srv->drained)
        (void)http_drain(srv, HTTP_STOP_GRACE_MS);
    /* Every suspended request is resumed before the daemon stops. */
    http_jobs_stop(&srv->jobs);
    MHD_stop_daemon(srv->daemon);
    if (srv->listener != MHD_INVALID_SOCKET)
        close(srv->listener);
    watchdog_stop(srv->watchdog);
    free(srv);
}
