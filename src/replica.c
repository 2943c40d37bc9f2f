/* replica: one thread, one connection, one query a second. */
#include "replica.h"

#include "clock.h"
#include "log.h"
#include "text.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define REPLICA_CHECK_MS 1000


struct replica_monitor {
    struct db_settings settings;
    long max_lag_ms;
    atomic_bool usable;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    PGconn *pg;
};

/* The replay lag in ms, or -1 (and the connection dropped) when the
 * replica does not answer. */
static long replica_lag_ms(struct replica_monitor *m)
{
    if (!m->pg)
        m->pg = db_connect(&m->settings);
    if (!m->pg)
        return -1;
    /* sql/replica_lag.sql, unprepared: this connection prepares nothing. */
    PGresult *r = PQexecParams(m->pg, SQL_STATEMENTS[SQL_REPLICA_LAG].text, 0, NULL, NULL, NULL,
                               NULL, 0);
    long lag = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        lag = (long)(strtod(PQgetvalue(r, 0, 0), NULL) * 1000);
    PQclear(r);
    if (lag < 0) {
        PQfinish(m->pg);
        m->pg = NULL;
    }
    return lag;
}

static void *replica_main(void *arg)
{
    struct replica_monitor *m = arg;
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        pthread_mutex_unlock(&m->lock);
        long lag = replica_lag_ms(m);
        bool usable = lag >= 0 && lag <= m->max_lag_ms;
        if (usable != atomic_load(&m->usable)) {
            if (usable)
                log_info("read replica usable again (replay %ld ms behind)", lag);
            else if (lag < 0)
                log_warn("read replica does not answer: reads go to the primary");
            else
                log_warn("read replica %ld ms behind (bound %ld ms): reads go to the primary",
                         lag, m->max_lag_ms);
            atomic_store(&m->usable, usable);
        }
        pthread_mutex_lock(&m->lock);
        struct timespec deadline = clock_deadline(REPLICA_CHECK_MS);
        while (!m->stopping &&
               pthread_cond_timedwait(&m->wake, &m->lock, &deadline) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

struct replica_monitor *replica_monitor_start(const struct db_settings *s, long max_lag_ms)
{
    struct replica_monitor *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->settings = *s;
    m->max_lag_ms = max_lag_ms;
    pthread_mutex_init(&m->lock, NULL);
    clock_cond_init(&m->wake);
    if (pthread_create(&m->thread, NULL, replica_main, m) != 0) {
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    return m;
}

bool replica_usable(const struct replica_monitor *m)
{
    return m && atomic_load(&m->usable);
}

void replica_monitor_stop(struct replica_monitor *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    if (m->pg)
        PQfinish(m->pg);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
