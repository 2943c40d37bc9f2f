/* guard: a list of open connections with deadlines, checked four times a
 * second. shutdown() (not close()) ends a socket that another thread owns
 * without any race on the descriptor: libmicrohttpd sees the end of the
 * stream and cleans up as for any client that went away. */
#include "guard.h"

#include "clock.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define GUARD_TICK_MS 250

struct guard_conn {
    int fd;
    int64_t deadline_ms;
    bool busy;
    struct guard_conn *prev, *next;
};

struct guard {
    long deadline_ms;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    pthread_t thread;
    struct guard_conn *head;
};

static void *guard_main(void *arg);

static void *guard_main(void *arg)
{
    struct guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec until = clock_deadline(GUARD_TICK_MS);
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
        int64_t now = clock_now_ms();
        for (struct guard_conn *c = g->head; c; c = c->next) {
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

struct guard *guard_start(long deadline_ms)
{
    struct guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->deadline_ms = deadline_ms;
    pthread_mutex_init(&g->lock, NULL);
    clock_cond_init(&g->wake);
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->wake);
        free(g);
        return NULL;
    }
    return g;
}

void guard_stop(struct guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    while (g->head) {
        struct guard_conn *c = g->head;
        g->head = c->next;
        free(c);
    }
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->wake);
    free(g);
}

struct guard_conn *guard_open(struct guard *g, int fd)
{
    struct guard_conn *c = calloc(1, sizeof *c);
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

void guard_close(struct guard *g, struct guard_conn *c)
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

void guard_set_busy(struct guard *g, struct guard_conn *c, bool busy)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    c->busy = busy;
    pthread_mutex_unlock(&g->lock);
}

void guard_rearm(struct guard *g, struct guard_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    if (c->deadline_ms != INT64_MAX)
        c->deadline_ms = clock_now_ms() + g->deadline_ms;
    pthread_mutex_unlock(&g->lock);
}
