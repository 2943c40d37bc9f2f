/* watchdog: a list of open connections with deadlines, checked four times a
 * second. shutdown() (not close()) ends a socket that another thread owns
 * without any race on the descriptor: libmicrohttpd sees the end of the
 * stream and cleans up as for any client that went away. */
#include "watchdog.h"

#include "clock.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define GUARD_TICK_MS 250

struct watchdog_conn {
    int fd;
    int64_t deadline_ms;
    bool busy;
    struct watchdog_conn *prev, *next;
};

struct watchdog {
    long deadline_ms;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    pthread_t thread;
    struct watchdog_conn *head;
};

static void *watchdog_main(void *arg);

static void *watchdog_main(void *arg)
{
    struct watchdog *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec until = clock_deadline(GUARD_TICK_MS);
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
        int64_t now = clock_now_ms();
        for (struct watchdog_conn *c = g->head; c; c = c->next) {
            if (c->busy || c->deadline_ms > now)
                continue;
            shutdown(c->fd, SHUT_RDWR);
            c->deadline_ms = INT64_MAX;
            log_emit(LOG_INFO, NULL, NULL, "closed a connection that sent no complete request in %ld ms",
                     g->deadline_ms);
        }
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

struct watchdog *watchdog_start(long deadline_ms)
{
    struct watchdog *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->deadline_ms = deadline_ms;
    pthread_mutex_init(&g->lock, NULL);
    clock_cond_init(&g->wake);
    if (pthread_create(&g->thread, NULL, watchdog_main, g) != 0) {
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->wake);
        free(g);
        return NULL;
    }
    return g;
}

void watchdog_stop(struct watchdog *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    while (g->head) {
        struct watchdog_conn *c = g->head;
        g->head = c->next;
        free(c);
    }
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->wake);
    free(g);
}

struct watchdog_conn *watchdog_open(struct watchdog *g, int fd)
{
    struct watchdog_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    pthread_mutex_lock(&g->lock);
    c->deadline_ms = clock_now_ms() + g->deadline_ms;
    c->next = g->head;
    if (g->head)
        g->head->prev = c;
    g->head = c;
    pthread_mutex_unlock(&g->lock);
    return c;
}

void watchdog_close(struct watchdog *g, struct watchdog_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&g->lock);
    free(c);
}

void watchdog_set_busy(struct watchdog *g, struct watchdog_conn *c, bool busy)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    c->busy = busy;
    pthread_mutex_unlock(&g->lock);
}

void watchdog_rearm(struct watchdog *g, struct watchdog_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    if (c->deadline_ms != INT64_MAX)
        c->deadline_ms = clock_now_ms() + g->deadline_ms;
    pthread_mutex_unlock(&g->lock);
}
