/* statsd: the counters the original service sent ("route.<name>.status.<code>",
 * 10 % sampled), over UDP, never blocking a request. */
#ifndef GANOMEDE_STATSD_H
#define GANOMEDE_STATSD_H

struct statsd;

/* Resolves HOST once. Returns NULL (logged) when HOST is empty or cannot be
 * resolved: statsd is then off. Free with statsd_close. */
struct statsd *statsd_open(const char *host, long port, const char *prefix, long sample_percent);

void statsd_close(struct statsd *sd);

/* Counts KEY (the prefix is added) with the configured sampling. A full
 * socket buffer or an absent receiver drops the datagram silently. */
void statsd_increment(struct statsd *sd, const char *key);

#endif
