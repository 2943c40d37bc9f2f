/* redis_link: hiredis contexts in a fixed array; a thread takes a free
 * slot under the mutex, uses its context alone, and gives it back. */
#include "redis_link.h"

#include "log.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* After a failure, how long requests fail at once before the next try. */
#define REDIS_LINK_PAUSE_MS 500

struct redis_slot {
    redisContext *ctx;   /* NULL until connected, or after a failure */
    bool busy;
};

struct redis_link {
    char *name;
    char *host;
    int port;
    struct timeval timeout;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct redis_slot *slots;
    size_t nslots;
    long long paused_until_ms;   /* monotonic; 0: not paused */
};

static long long redis_link_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct redis_link *redis_link_new(const char *name, const char *host, long port, long timeout_ms,
                                  size_t pool_size)
{
    struct redis_link *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->name = strdup(name);
    l->host = strdup(host);
    l->slots = calloc(pool_size ? pool_size : 1, sizeof *l->slots);
    if (!l->name || !l->host || !l->slots) {
        free(l->name);
        free(l->host);
        free(l->slots);
        free(l);
        return NULL;
    }
    l->nslots = pool_size ? pool_size : 1;
    l->port = (int)port;
    l->timeout.tv_sec = timeout_ms / 1000;
    l->timeout.tv_usec = (timeout_ms % 1000) * 1000;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->freed, NULL);
    return l;
}

void redis_link_free(struct redis_link *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nslots; i++)
        if (l->slots[i].ctx)
            redisFree(l->slots[i].ctx);
    pthread_cond_destroy(&l->freed);
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l->host);
    free(l->name);
    free(l);
}

void redis_link_values_free(char **values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(values[i]);
        values[i] = NULL;
    }
}

/* A free slot, waited for (every HTTP thread holds at most one, so the
 * wait is short); NULL while the link is paused after a failure. */
static struct redis_slot *redis_link_take(struct redis_link *l)
{
    struct redis_slot *slot = NULL;
    pthread_mutex_lock(&l->lock);
    while (!slot) {
        if (l->paused_until_ms && redis_link_now_ms() < l->paused_until_ms)
            break;
        for (size_t i = 0; i < l->nslots && !slot; i++)
            if (!l->slots[i].busy)
                slot = &l->slots[i];
        if (slot)
            slot->busy = true;
        else
            pthread_cond_wait(&l->freed, &l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return slot;
}

/* Gives SLOT back; FAILED drops its connection and pauses the link. */
static void redis_link_give(struct redis_link *l, struct redis_slot *slot, bool failed)
{
    if (failed && slot->ctx) {
        redisFree(slot->ctx);
        slot->ctx = NULL;
    }
    pthread_mutex_lock(&l->lock);
    slot->busy = false;
    l->paused_until_ms = failed ? redis_link_now_ms() + REDIS_LINK_PAUSE_MS : 0;
    pthread_cond_signal(&l->freed);
    pthread_mutex_unlock(&l->lock);
}

/* SLOT's context, connected with the link's deadline on connect and on
 * every answer; NULL with ERR written when that fails. */
static redisContext *redis_link_connect(struct redis_link *l, struct redis_slot *slot, char *err,
                                        size_t errlen)
{
    if (slot->ctx)
        return slot->ctx;
    redisContext *c = redisConnectWithTimeout(l->host, l->port, l->timeout);
    if (!c || c->err || redisSetTimeout(c, l->timeout) != REDIS_OK) {
        snprintf(err, errlen, "%s", c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisEnableKeepAlive(c);
    slot->ctx = c;
    return c;
}

/* Copies the strings of the array REPLY into VALUES; false when REPLY is
 * not an array of N elements. */
static bool redis_link_take_values(const redisReply *reply, size_t n, char **values)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = reply->element[i];
        if (e->type == REDIS_REPLY_STRING) {
            values[i] = malloc(e->len + 1);
            if (!values[i])
                return false;
            memcpy(values[i], e->str, e->len);
            values[i][e->len] = '\0';
        }
    }
    return true;
}

enum redis_result redis_link_mget(struct redis_link *l, const char *const *keys, size_t n,
                                  char **values, const char *req_id)
{
    memset(values, 0, n * sizeof *values);
    if (n == 0)
        return REDIS_OK;
    struct redis_slot *slot = redis_link_take(l);
    if (!slot)
        return REDIS_DOWN;   /* paused: the failure was logged when it happened */
    char err[160] = "";
    redisReply *reply = NULL;
    bool ok = false;
    const char **argv = malloc((n + 1) * sizeof *argv);
    redisContext *c = argv ? redis_link_connect(l, slot, err, sizeof err) : NULL;
    if (c) {
        argv[0] = "MGET";
        memcpy(argv + 1, keys, n * sizeof *keys);
        reply = redisCommandArgv(c, (int)n + 1, argv, NULL);
        if (!reply)
            snprintf(err, sizeof err, "%s", c->errstr);
        else if (reply->type == REDIS_REPLY_ERROR)
            snprintf(err, sizeof err, "%.*s", (int)reply->len, reply->str);
        else if (!(ok = redis_link_take_values(reply, n, values)))
            snprintf(err, sizeof err, "unexpected answer to MGET");
    } else if (!argv) {
        snprintf(err, sizeof err, "out of memory");
    }
    if (reply)
        freeReplyObject(reply);
    free(argv);
    redis_link_give(l, slot, !ok);
    if (!ok) {
        redis_link_values_free(values, n);
        log_emit(LOG_WARN, req_id, NULL, "%s Redis at %s:%d does not answer: %s", l->name,
                 l->host, l->port, err);
        return REDIS_DOWN;
    }
    return REDIS_OK;
}
