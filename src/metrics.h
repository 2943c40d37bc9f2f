/* metrics: in-process request counters and latency histograms per route,
 * rendered in the Prometheus text format, plus the outbox's counters. Every
 * update is a relaxed atomic add: nothing here blocks a request. */
#ifndef GANOMEDE_METRICS_H
#define GANOMEDE_METRICS_H

#include <stddef.h>

#include "router.h"

/* Counts one answered request of route R with STATUS, taking SECONDS. */
void metrics_observe_request(enum route r, unsigned status, double seconds);

/* Outbox events. */
void metrics_count_delivered(void);
void metrics_count_retry(void);
void metrics_count_given_up(void);
void metrics_set_outbox_in_flight(long n);

/* Values read at scrape time from elsewhere; negative means unknown. */
struct metrics_gauges {
    long pool_size;
    long pool_in_use;
    long outbox_pending;
    long outbox_failed;
    long live_waiting;     /* GET events and long-polls held */
    long room_cache_entries, room_cache_bytes;   /* GET room's answers kept */
    long room_cache_hits, room_cache_misses;     /* since start */
};

/* The whole exposition text (caller frees), or NULL when out of memory. */
char *metrics_render(const struct metrics_gauges *g);

#endif
