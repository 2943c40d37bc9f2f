/* statsd: a non-blocking UDP socket and sampling with a per-thread PRNG. */
#include "statsd.h"

#include "log.h"

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

struct statsd {
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char prefix[128];
    long sample_percent;
};

static uint32_t statsd_random(void);

static uint32_t statsd_random(void)
{
    static _Thread_local uint32_t state;
    if (state == 0 && (getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state || state == 0))
        state = 2463534242u;
    /* xorshift32: sampling needs speed, not quality. */
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

struct statsd *statsd_open(const char *host, long port, const char *prefix, long sample_percent)
{
    if (!host || !*host)
        return NULL;
    char service[16];
    snprintf(service, sizeof service, "%ld", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, service, &hints, &ai) != 0 || !ai) {
        log_warn("statsd: cannot resolve %s; metrics are not sent", host);
        return NULL;
    }
    struct statsd *sd = calloc(1, sizeof *sd);
    if (sd)
        sd->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!sd || sd->fd < 0) {
        log_warn("statsd: cannot open a UDP socket; metrics are not sent");
        free(sd);
        freeaddrinfo(ai);
        return NULL;
    }
    memcpy(&sd->addr, ai->ai_addr, ai->ai_addrlen);
    sd->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    snprintf(sd->prefix, sizeof sd->prefix, "%s", prefix);
    sd->sample_percent = sample_percent;
    log_info("statsd: sending to %s:%ld with prefix %s, %ld %% sampled", host, port, prefix,
             sample_percent);
    return sd;
}

void statsd_close(struct statsd *sd)
{
    if (!sd)
        return;
    close(sd->fd);
    free(sd);
}

void statsd_increment(struct statsd *sd, const char *key)
{
    if (!sd || (long)(statsd_random() % 100) >= sd->sample_percent)
        return;
    char line[384];
    int n;
    if (sd->sample_percent >= 100)
        n = snprintf(line, sizeof line, "%s%s:1|c", sd->prefix, key);
    else
        n = snprintf(line, sizeof line, "%s%s:1|c|@%.2f", sd->prefix, key,
                     (double)sd->sample_percent / 100.0);
    if (n > 0 && (size_t)n < sizeof line)
        (void)sendto(sd->fd, line, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&sd->addr,
                     sd->addrlen);
}
