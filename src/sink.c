/* sink: one libmicrohttpd thread; each request's body collected, printed,
 * answered 200 with an empty JSON object. */
#include "sink.h"

#include "buf.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SINK_MAX_BODY (1u << 20)

static volatile sig_atomic_t sink_stop;
static bool sink_json;

static void sink_on_signal(int sig)
{
    (void)sig;
    sink_stop = 1;
}

static const char *sink_text(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "?";
}

/* One notification as a line: who is told what, without the secret. */
static void sink_print(const char *body, size_t len)
{
    struct json_object *n = json_tokener_parse(body);
    if (!n || !json_object_is_type(n, json_type_object)) {
        fprintf(stderr, "notify-sink: a body that is not a JSON object (%zu bytes)\n", len);
        json_object_put(n);
        return;
    }
    json_object_object_del(n, "secret");
    if (sink_json) {
        fprintf(stderr, "%s\n", json_object_to_json_string_ext(n, JSON_C_TO_STRING_PLAIN |
                                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
    } else {
        struct json_object *data = NULL;
        json_object_object_get_ex(n, "data", &data);
        if (strcmp(sink_text(n, "type"), "message") == 0)
            fprintf(stderr, "notification to %s: %s in %s: %s\n", sink_text(n, "to"),
                    sink_text(data, "from"), sink_text(data, "roomId"), sink_text(data, "message"));
        else
            fprintf(stderr, "notification to %s (%s): %s\n", sink_text(n, "to"), sink_text(n, "type"),
                    data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN) : "{}");
    }
    json_object_put(n);
}

static enum MHD_Result sink_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload, size_t *upload_size, void **state)
{
    (void)cls;
    (void)url;
    (void)version;
    struct buf *body = *state;
    if (!body) {
        body = calloc(1, sizeof *body);
        if (!body)
            return MHD_NO;
        buf_init(body, SINK_MAX_BODY);
        *state = body;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!buf_append(body, upload, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") == 0)
        sink_print(body->data ? body->data : "", body->len);
    static char reply[] = "{}";   /* never written: libmicrohttpd wants a char * */
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof reply - 1, reply,
                                                             MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static void sink_done(void *cls, struct MHD_Connection *conn, void **state,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct buf *body = *state;
    if (body) {
        buf_free(body);
        free(body);
        *state = NULL;
    }
}

int sink_main(int argc, char **argv)
{
    long port = 8080;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--json") == 0)
            sink_json = true;
        else
            port = 0;
    }
    if (port < 1 || port > 65535) {
        fprintf(stderr, "usage: ganomede-chat notify-sink [--port P] [--json]\n");
        return 2;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
        sink_access, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, sink_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "notify-sink: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    signal(SIGINT, sink_on_signal);
    signal(SIGTERM, sink_on_signal);
    pid_t parent = getppid();
    fprintf(stderr, "notify-sink: printing the notifications posted to 127.0.0.1:%ld\n", port);
    /* Ends with its parent (make run's server), whatever stops that. */
    while (!sink_stop && getppid() == parent)
        usleep(200 * 1000);
    MHD_stop_daemon(d);
    return 0;
}
