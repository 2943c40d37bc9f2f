/* http: the libmicrohttpd server. Refuses requests whose head is unsafe to
 * read (framing.h) before any body byte, buffers each request body up to a
 * limit (413 past it, decided while the body streams in), hands complete
 * requests to one handler, and sends its answer with a request id, gzip
 * when accepted, and keep-alive intact. Knows nothing of chat or SQL. */
#ifndef GANOMEDE_HTTP_H
#define GANOMEDE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct http_server;

#define HTTP_REQUEST_ID_LEN 36

/* How long SIGTERM waits for requests under way. */
#define HTTP_STOP_GRACE_MS 5000

struct http_request {
    const char *method;
    const char *path;          /* raw: still percent-encoded */
    const char *content_type;  /* may be NULL */
    const char *body;          /* NUL-terminated; "" when none */
    size_t body_len;
    const char *req_id;
    const char *idempotency_key; /* the Idempotency-Key header; NULL when absent */
    const char *last_event_id; /* the Last-Event-ID header (SSE); NULL when absent */
    void *conn;                /* libmicrohttpd's connection: for http_query */
};

/* Fills at most MAX bytes of BUF with the next part of a streamed body:
 * how many (0 means nothing yet, try again), HTTP_STREAM_END at its end,
 * HTTP_STREAM_FAILED when it cannot go on (the connection is then cut: a
 * streamed answer has sent its status already). */
typedef long http_stream_fn(void *cls, char *buf, size_t max);
#define HTTP_STREAM_END (-1L)
#define HTTP_STREAM_FAILED (-2L)

/* A body that outlives the request in a cache: LEN bytes at DATA, gzipped
 * when GZIPPED (PLAIN_LEN bytes once inflated), kept alive by OWNER until
 * RELEASE(OWNER) once the answer is sent or dropped. */
struct http_shared_body {
    const char *data;
    size_t len;
    size_t plain_len;
    bool gzipped;
    void *owner;
    void (*release)(void *owner);
};

struct http_response {
    unsigned status;
    struct json_object *json;  /* owned: serialized as the body when set */
    char *text;                /* owned: a text/plain body when json is NULL */
    const char *content_type;  /* overrides the default of json or text */
    const char *route;         /* static name for the request log */
    int route_id;              /* the handler's own id, handed to the observer;
                                  -1 when answered before the handler (413) */
    char *log_path;            /* owned: the path with tokens redacted */
    bool close;                /* close the connection once this is sent */
    long retry_after_seconds;  /* > 0: a Retry-After header (429) */
    bool console;              /* a console file: a strict CSP, no caching */
    /* A body streamed piece by piece (exports), when json and text are
     * NULL: STREAM reads it from STREAM_CLS, which STREAM_FREE releases once
     * the answer is done (or not sent). Sent chunked, never gzipped. */
    http_stream_fn *stream;
    void *stream_cls;
    void (*stream_free)(void *cls);
    /* Given the connection before the answer is queued, for a stream that
     * waits (live): its reader may then return 0 after
     * http_connection_suspend, and another thread resumes it. */
    void (*stream_bind)(void *cls, void *conn);
    /* A cached body, when json and stream are NULL: sent gzipped as it is
     * to a client that takes gzip, inflated for one that does not. */
    struct http_shared_body shared;
};

/* Frees what R holds when it will not be sent (its body of any kind, its
 * log path) and empties it. */
void http_response_discard(struct http_response *r);

/* Parks CONN (from stream_bind) until http_connection_resume: it costs no
 * thread meanwhile and is not timed out. Call only from the stream's
 * reader, just before it returns 0. */
void http_connection_suspend(void *conn);

/* Wakes a parked CONN: its reader is called again. Any thread. */
void http_connection_resume(void *conn);

/* Query argument NAME of REQ, percent-decoded once ('+' is a space, as in
 * forms): caller frees; NULL when absent, or (with *BAD set) when its bytes
 * are not clean UTF-8. */
char *http_query(const struct http_request *req, const char *name, bool *bad);

/* Fills RESP with the error body {"code": CODE, "message": MESSAGE}. */
void http_response_error(struct http_response *resp, unsigned status, const char *code,
                         const char *message);

typedef void (*http_handler)(void *app, const struct http_request *req,
                             struct http_response *resp);

/* Called once per answered request, at completion, with the route id the
 * handler set (-1: none ran), the status, the method, the raw path and the
 * seconds taken. */
typedef void (*http_observer)(void *app, int route_id, unsigned status, const char *method,
                              const char *path, double seconds);

struct http_settings {
    http_observer observe;     /* may be NULL */
    int listen_fd;             /* listener_open's socket; http_stop closes it */
    bool listen_ipv6;
    unsigned threads;          /* libmicrohttpd's socket threads */
    unsigned request_threads;  /* threads that run handlers; 0: the socket
                                  threads run them, each its own
                                  connections' one after another */
    unsigned connection_timeout_seconds;
    unsigned max_connections;  /* waiting ones (live streams) included */
    size_t max_body_bytes;
    long request_deadline_ms;  /* a connection must complete a request within this */
};

/* Starts serving on S->listen_fd; HANDLER runs on the worker threads with
 * APP. Returns NULL (logged) when libmicrohttpd cannot start; the socket is
 * then still the caller's to close. */
struct http_server *http_start(const struct http_settings *s, http_handler handler, void *app);

/* Stops accepting new connections and waits (at most GRACE_MS) for the
 * requests under way to be answered. True when they all were. */
bool http_drain(struct http_server *srv, long grace_ms);

/* Drains if not done yet, then closes every connection and frees SRV. A
 * handler still blocked (e.g. on the database) is waited for: make it give
 * up first (db_pool_abort). */
void http_stop(struct http_server *srv);

#endif
