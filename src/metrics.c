/* metrics: fixed arrays of atomic counters, indexed by route and by status
 * (a short list of the statuses this service answers, plus "other"). */
#include "metrics.h"

#include "buf.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_NROUTES (ROUTE_LAST + 1)

static const unsigned METRICS_STATUSES[] = { 200, 400, 401, 403, 404, 405, 413, 500, 503, 0 };
#define METRICS_NSTATUSES (sizeof METRICS_STATUSES / sizeof METRICS_STATUSES[0])

/* Latency buckets, in seconds. */
static const double METRICS_BUCKETS[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                          0.05,   0.1,   0.25,   0.5,   1,    2.5, 5 };
#define METRICS_NBUCKETS (sizeof METRICS_BUCKETS / sizeof METRICS_BUCKETS[0])

static atomic_ulong metrics_requests[METRICS_NROUTES][METRICS_NSTATUSES];
static atomic_ulong metrics_buckets[METRICS_NROUTES][METRICS_NBUCKETS + 1];
static atomic_ulong metrics_sum_us[METRICS_NROUTES];
static atomic_ulong metrics_delivered, metrics_retries, metrics_given_up;

/* The dispatcher's series, in the order of the values metrics_render reads. */
static const struct { const char *name, *type, *help; } METRICS_OUTBOX[] = {
    { "chat_outbox_delivered_total", "counter", "Notifications the notifications service took." },
    { "chat_outbox_retries_total", "counter", "Failed delivery attempts scheduled again." },
    { "chat_outbox_given_up_total", "counter", "Notifications kept as failed past the retry limit." },
    { "chat_outbox_in_flight", "gauge", "Notifications being delivered by this server." },
};
#define METRICS_NOUTBOX (sizeof METRICS_OUTBOX / sizeof METRICS_OUTBOX[0])
static atomic_long metrics_outbox_in_flight;

static size_t metrics_status_index(unsigned status);
static bool metrics_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t metrics_status_index(unsigned status)
{
    for (size_t i = 0; i + 1 < METRICS_NSTATUSES; i++)
        if (METRICS_STATUSES[i] == status)
            return i;
    return METRICS_NSTATUSES - 1;
}

void metrics_observe_request(enum route r, unsigned status, double seconds)
{
    if ((unsigned)r >= METRICS_NROUTES)
        return;
    atomic_fetch_add_explicit(&metrics_requests[r][metrics_status_index(status)], 1,
                              memory_order_relaxed);
    size_t b = 0;
    while (b < METRICS_NBUCKETS && seconds > METRICS_BUCKETS[b])
        b++;
    atomic_fetch_add_explicit(&metrics_buckets[r][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&metrics_sum_us[r], (unsigned long)(seconds * 1e6),
                              memory_order_relaxed);
}

void metrics_count_delivered(void)
{
    atomic_fetch_add_explicit(&metrics_delivered, 1, memory_order_relaxed);
}

void metrics_count_retry(void)
{
    atomic_fetch_add_explicit(&metrics_retries, 1, memory_order_relaxed);
}

void metrics_count_given_up(void)
{
    atomic_fetch_add_explicit(&metrics_given_up, 1, memory_order_relaxed);
}

void metrics_set_outbox_in_flight(long n)
{
    atomic_store_explicit(&metrics_outbox_in_flight, n, memory_order_relaxed);
}

static bool metrics_printf(struct buf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return n > 0 && (size_t)n < sizeof line && buf_append(b, line, (size_t)n);
}

char *metrics_render(const struct metrics_gauges *g)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    bool ok = metrics_printf(&b, "# HELP chat_http_requests_total HTTP requests answered, by route and status.\n"
                                 "# TYPE chat_http_requests_total counter\n");
    for (int r = 0; ok && r < METRICS_NROUTES; r++)
        for (size_t s = 0; ok && s < METRICS_NSTATUSES; s++) {
            unsigned long n = atomic_load_explicit(&metrics_requests[r][s], memory_order_relaxed);
            if (n == 0)
                continue;
            char status[16];
            if (METRICS_STATUSES[s])
                snprintf(status, sizeof status, "%u", METRICS_STATUSES[s]);
            else
                strcpy(status, "other");
            ok = metrics_printf(&b, "chat_http_requests_total{route=\"%s\",status=\"%s\"} %lu\n",
                                router_route_name((enum route)r), status, n);
        }
    ok = ok && metrics_printf(&b, "# HELP chat_http_request_duration_seconds Time from request to answer, by route.\n"
                                  "# TYPE chat_http_request_duration_seconds histogram\n");
    for (int r = 0; ok && r < METRICS_NROUTES; r++) {
        const char *name = router_route_name((enum route)r);
        unsigned long cumulative = 0;
        for (size_t i = 0; ok && i <= METRICS_NBUCKETS; i++) {
            cumulative += atomic_load_explicit(&metrics_buckets[r][i], memory_order_relaxed);
            if (i < METRICS_NBUCKETS)
                ok = metrics_printf(&b, "chat_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n",
                                    name, METRICS_BUCKETS[i], cumulative);
            else
                ok = metrics_printf(&b, "chat_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n"
                                        "chat_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                                        "chat_http_request_duration_seconds_count{route=\"%s\"} %lu\n",
                                    name, cumulative, name,
                                    (double)atomic_load_explicit(&metrics_sum_us[r], memory_order_relaxed) / 1e6,
                                    name, cumulative);
        }
    }
    long outbox_values[] = {
        (long)atomic_load_explicit(&metrics_delivered, memory_order_relaxed),
        (long)atomic_load_explicit(&metrics_retries, memory_order_relaxed),
        (long)atomic_load_explicit(&metrics_given_up, memory_order_relaxed),
        atomic_load_explicit(&metrics_outbox_in_flight, memory_order_relaxed),
    };
    for (size_t i = 0; ok && i < METRICS_NOUTBOX; i++)
        ok = metrics_printf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %ld\n", METRICS_OUTBOX[i].name,
                            METRICS_OUTBOX[i].help, METRICS_OUTBOX[i].name, METRICS_OUTBOX[i].type,
                            METRICS_OUTBOX[i].name, outbox_values[i]);
    if (ok && g->outbox_pending >= 0)
        ok = metrics_printf(&b,
            "# HELP chat_outbox_pending Notifications waiting in notification_outbox (all servers).\n"
            "# TYPE chat_outbox_pending gauge\n"
            "chat_outbox_pending %ld\n"
            "# HELP chat_outbox_failed Notifications kept as failed in notification_outbox.\n"
            "# TYPE chat_outbox_failed gauge\n"
            "chat_outbox_failed %ld\n",
            g->outbox_pending, g->outbox_failed);
    ok = ok && metrics_printf(&b,
        "# HELP chat_db_pool_connections PostgreSQL connections of the request pool.\n"
        "# TYPE chat_db_pool_connections gauge\n"
        "chat_db_pool_connections %ld\n"
        "# HELP chat_db_pool_in_use Pool connections serving a request now.\n"
        "# TYPE chat_db_pool_in_use gauge\n"
        "chat_db_pool_in_use %ld\n"
        "# HELP chat_live_waiting Event streams and long-polls this server holds now.\n"
        "# TYPE chat_live_waiting gauge\n"
        "chat_live_waiting %ld\n"
        "# HELP chat_room_cache_entries Rooms whose GET room answer this server keeps.\n"
        "# TYPE chat_room_cache_entries gauge\n"
        "chat_room_cache_entries %ld\n"
        "# HELP chat_room_cache_bytes Memory those answers take (ROOM_CACHE_BYTES bounds it).\n"
        "# TYPE chat_room_cache_bytes gauge\n"
        "chat_room_cache_bytes %ld\n"
        "# HELP chat_room_cache_hits_total GET room answers still current: no message read.\n"
        "# TYPE chat_room_cache_hits_total counter\n"
        "chat_room_cache_hits_total %ld\n"
        "# HELP chat_room_cache_misses_total GET room answers read from the messages.\n"
        "# TYPE chat_room_cache_misses_total counter\n"
        "chat_room_cache_misses_total %ld\n",
        g->pool_size, g->pool_in_use, g->live_waiting, g->room_cache_entries,
        g->room_cache_bytes, g->room_cache_hits, g->room_cache_misses);
    if (!ok) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}
