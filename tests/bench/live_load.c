/* live_load: the load of make bench's live route. Opens STREAMS event
 * streams (GET .../events) as the users of rooms 1..STREAMS/2 of the
 * benchmark's data (tok-u<n>a and tok-u<n>b, both users of each room),
 * then posts RATE messages a second for SECONDS to those rooms over 8
 * keep-alive connections, and measures, for every event a stream receives,
 * the time from its post's 200 to the event (0 when the event came first).
 * Then it keeps every stream open and read for HOLD more seconds (the
 * script measures other routes meanwhile) and prints one JSON line.
 *
 * Usage: live_load PORT PREFIX STREAMS RATE SECONDS HOLD
 * One thread, one epoll set; a chunked-stream parser per connection.
 * Only the loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POSTERS 8
#define MAX_POSTS 2000000

enum kind { STREAM, POSTER };

struct conn {
    enum kind kind;
    int fd;
    bool ready;          /* stream: headers and first block seen */
    bool open;
    char *in;            /* bytes read, not parsed yet */
    size_t in_len, in_cap;
    /* chunked parser (streams) */
    size_t chunk_left;   /* bytes of the current chunk still to come */
    bool in_chunk_crlf;
    char *text;          /* de-chunked stream, not scanned yet */
    size_t text_len, text_cap;
    bool head_done;
    /* poster */
    long inflight;       /* the post it waits for (-1: none) */
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        *buf = realloc(*buf, c);
        if (!*buf) {
            perror("realloc");
            exit(2);
        }
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void drop(char *buf, size_t *len, size_t n)
{
    memmove(buf, buf + n, *len - n + 1);
    *len -= n;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        exit(2);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EAGAIN)
            continue;
        if (w <= 0) {
            perror("write");
            exit(2);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Results. */
static double *post_sent, *post_ok;
static long posts_sent, posts_ok, posts_failed;
static double *latency;
static long events, events_early, events_unknown;
static long streams_ready, streams_closed;

/* An event's data names its post as "message":"L<n>". */
static void scan_events(struct conn *c, double t)
{
    char *p;
    while ((p = strstr(c->text, "\n\n")) != NULL) {
        size_t block = (size_t)(p - c->text) + 2;
        char *m = strstr(c->text, "\"message\":\"L");
        if (m && m < p) {
            long n = strtol(m + 12, NULL, 10);
            if (n >= 0 && n < posts_sent && post_ok[n] > 0) {
                double l = t - post_ok[n];
                if (l < 0) {
                    l = 0;
                    events_early++;
                }
                latency[events++] = l;
            } else if (n >= 0 && n < posts_sent) {
                /* the event came before the 200 was read */
                latency[events++] = 0;
                events_early++;
            } else {
                events_unknown++;
            }
        } else if (!c->ready) {
            c->ready = true;
            streams_ready++;
        }
        drop(c->text, &c->text_len, block);
    }
}

static void dechunk(struct conn *c)
{
    for (;;) {
        if (c->chunk_left) {
            size_t n = c->in_len < c->chunk_left ? c->in_len : c->chunk_left;
            if (!n)
                return;
            append(&c->text, &c->text_len, &c->text_cap, c->in, n);
            drop(c->in, &c->in_len, n);
            c->chunk_left -= n;
            if (!c->chunk_left)
                c->in_chunk_crlf = true;
            continue;
        }
        if (c->in_chunk_crlf) {
            if (c->in_len < 2)
                return;
            drop(c->in, &c->in_len, 2);
            c->in_chunk_crlf = false;
        }
        char *eol = c->in ? strstr(c->in, "\r\n") : NULL;
        if (!eol)
            return;
        c->chunk_left = strtoul(c->in, NULL, 16);
        drop(c->in, &c->in_len, (size_t)(eol - c->in) + 2);
        if (!c->chunk_left) {
            c->open = false;
            return;
        }
    }
}

static void on_stream(struct conn *c, double t)
{
    if (!c->head_done) {
        char *h = strstr(c->in, "\r\n\r\n");
        if (!h)
            return;
        if (strncmp(c->in, "HTTP/1.1 200", 12) != 0) {
            fprintf(stderr, "live_load: a stream was refused: %.60s\n", c->in);
            c->open = false;
            return;
        }
        drop(c->in, &c->in_len, (size_t)(h - c->in) + 4);
        c->head_done = true;
    }
    dechunk(c);
    scan_events(c, t);
}

static void on_poster(struct conn *c, double t)
{
    char *h;
    while (c->inflight >= 0 && (h = strstr(c->in, "\r\n\r\n")) != NULL) {
        /* Answers to posts have no body, or a small JSON one. */
        size_t len = 0;
        char *cl = strstr(c->in, "Content-Length: ");
        if (cl && cl < h)
            len = strtoul(cl + 16, NULL, 10);
        size_t whole = (size_t)(h - c->in) + 4 + len;
        if (c->in_len < whole)
            return;
        if (strncmp(c->in, "HTTP/1.1 200", 12) == 0) {
            post_ok[c->inflight] = t;
            posts_ok++;
        } else {
            posts_failed++;
        }
        c->inflight = -1;
        drop(c->in, &c->in_len, whole);
    }
}

static void post_one(struct conn *c, const char *prefix, int rooms)
{
    if (posts_sent >= MAX_POSTS)
        return;
    long n = posts_sent++;
    int room = (int)(random() % rooms) + 1;
    char body[128], req[512];
    int bl = snprintf(body, sizeof body, "{\"timestamp\":%ld,\"type\":\"text\",\"message\":\"L%ld\"}",
                      n, n);
    int rl = snprintf(req, sizeof req,
                      "POST /%s/auth/tok-u%da/rooms/bench%%2Fu%da%%2Fu%db/messages HTTP/1.1\r\n"
                      "Host: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                      prefix, room, room, room, bl, body);
    c->inflight = n;
    post_sent[n] = now_ms();
    send_all(c->fd, req, (size_t)rl);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, long n, double p)
{
    if (!n)
        return 0;
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i];
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: live_load PORT PREFIX STREAMS RATE SECONDS HOLD\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *prefix = argv[2];
    int nstreams = atoi(argv[3]);
    double rate = atof(argv[4]);
    double seconds = atof(argv[5]), hold = atof(argv[6]);
    int rooms = nstreams / 2 > 0 ? nstreams / 2 : 1;
    post_sent = calloc(MAX_POSTS, sizeof *post_sent);
    post_ok = calloc(MAX_POSTS, sizeof *post_ok);
    latency = calloc((size_t)MAX_POSTS * 2, sizeof *latency);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int total = nstreams + POSTERS;
    struct conn *conns = calloc((size_t)total, sizeof *conns);
    double t0 = now_ms();
    for (int i = 0; i < total; i++) {
        struct conn *c = &conns[i];
        c->kind = i < nstreams ? STREAM : POSTER;
        c->fd = connect_to(port);
        c->open = true;
        c->inflight = -1;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        if (c->kind == STREAM) {
            char req[256];
            int n = snprintf(req, sizeof req,
                             "GET /%s/auth/tok-u%d%c/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Accept: text/event-stream\r\n\r\n",
                             prefix, i / 2 + 1, i % 2 ? 'b' : 'a');
            send_all(c->fd, req, (size_t)n);
        }
    }
    struct epoll_event evs[256];
    enum { CONNECTING, POSTING, DRAINING, HOLDING } phase = CONNECTING;
    double phase_start = now_ms(), connected_ms = 0, next_post = 0;
    long sent_at_hold = 0;
    for (;;) {
        double t = now_ms();
        if (phase == CONNECTING && (streams_ready == nstreams || t - phase_start > 120000)) {
            connected_ms = t - t0;
            fprintf(stderr, "live_load: %ld of %d streams ready in %.0f ms\n", streams_ready,
                    nstreams, connected_ms);
            phase = POSTING;
            phase_start = next_post = t;
        } else if (phase == POSTING && t - phase_start >= seconds * 1000) {
            phase = DRAINING;
            phase_start = t;
        } else if (phase == DRAINING && t - phase_start >= 2000) {
            phase = HOLDING;
            phase_start = t;
            sent_at_hold = posts_sent;
            fprintf(stderr, "live_load: posting done; holding the streams %.0f s\n", hold);
        } else if (phase == HOLDING && t - phase_start >= hold * 1000) {
            break;
        }
        if (phase == POSTING) {
            for (int i = nstreams; i < total && next_post <= t; i++)
                if (conns[i].inflight < 0) {
                    post_one(&conns[i], prefix, rooms);
                    next_post += 1000.0 / rate;
                }
        }
        int n = epoll_wait(ep, evs, 256, 1);
        t = now_ms();
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            char buf[65536];
            ssize_t r;
            while ((r = read(c->fd, buf, sizeof buf)) > 0)
                append(&c->in, &c->in_len, &c->in_cap, buf, (size_t)r);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                c->open = false;
                if (c->kind == STREAM)
                    streams_closed++;
            }
            if (c->in)
                (c->kind == STREAM ? on_stream : on_poster)(c, t);
        }
    }
    (void)sent_at_hold;
    qsort(latency, (size_t)events, sizeof *latency, cmp_double);
    long expected = posts_ok * 2;
    printf("LIVE_RESULT streams=%d ready=%ld closed=%ld connect_ms=%.0f rate=%.0f posts=%ld "
           "posts_ok=%ld posts_failed=%ld events=%ld expected=%ld early=%ld unknown=%ld "
           "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
           nstreams, streams_ready, streams_closed, connected_ms, rate, posts_sent, posts_ok,
           posts_failed, events, expected, events_early, events_unknown, pct(latency, events, 50),
           pct(latency, events, 90), pct(latency, events, 99),
           events ? latency[events - 1] : 0.0);
    return 0;
}
