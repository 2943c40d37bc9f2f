/* expiry: the in-process timer and the one-shot run share expiry_run_once;
 * the store runs the batches under the lock. */
#include "expiry.h"

#include "clock.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct expiry_job {
    struct store *st;
    long interval_seconds;
    long batch_size;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

static void *expiry_main(void *arg);

long expiry_run_once(struct store *st, long batch_size)
{
    long deleted = 0;
    bool skipped = false;
    struct store_archive_report a;
    if (store_expire_rooms(st, batch_size, &deleted, &skipped, &a, NULL) != STORE_OK)
        return -1;
    if (skipped)
        log_info("expiry job skipped: another server is running it");
    else if (deleted > 0)
        log_info("expiry job deleted %ld rooms", deleted);
    if (a.created > 0 || a.dropped > 0)
        log_info("record: %ld partitions created, %ld dropped by retention (%ld messages, "
                 "%ld kept under a legal hold)", a.created, a.dropped, a.rows_dropped,
                 a.rows_kept);
    return deleted;
}

static void *expiry_main(void *arg)
{
    struct expiry_job *job = arg;
    pthread_mutex_lock(&job->lock);
    while (!job->stopping) {
        struct timespec until = clock_deadline(job->interval_seconds * 1000);
        while (!job->stopping &&
               pthread_cond_timedwait(&job->wake, &job->lock, &until) != ETIMEDOUT)
            ;
        if (job->stopping)
            break;
        pthread_mutex_unlock(&job->lock);
        (void)expiry_run_once(job->st, job->batch_size);
        pthread_mutex_lock(&job->lock);
    }
    pthread_mutex_unlock(&job->lock);
    return NULL;
}

struct expiry_job *expiry_start(struct store *st, long interval_seconds, long batch_size)
{
    struct expiry_job *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job->st = st;
    job->interval_seconds = interval_seconds;
    job->batch_size = batch_size;
    pthread_mutex_init(&job->lock, NULL);
    clock_cond_init(&job->wake);
    if (pthread_create(&job->thread, NULL, expiry_main, job) != 0) {
        pthread_mutex_destroy(&job->lock);
        pthread_cond_destroy(&job->wake);
        free(job);
        return NULL;
    }
    return job;
}

void expiry_stop(struct expiry_job *job)
{
    if (!job)
        return;
    pthread_mutex_lock(&job->lock);
    job->stopping = true;
    pthread_cond_signal(&job->wake);
    pthread_mutex_unlock(&job->lock);
    pthread_join(job->thread, NULL);
    pthread_mutex_destroy(&job->lock);
    pthread_cond_destroy(&job->wake);
    free(job);
}
