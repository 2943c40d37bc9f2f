/* clock: monotonic time for deadlines, and condition variables that wait
 * on it (a wall-clock jump must not stretch or cut a timeout). */
#ifndef GANOMEDE_CLOCK_H
#define GANOMEDE_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t clock_now_ms(void);

/* The CLOCK_MONOTONIC instant MS milliseconds from now, for
 * pthread_cond_timedwait on a condition made by clock_cond_init. */
struct timespec clock_deadline(long ms);

/* Initializes COND to time its waits on CLOCK_MONOTONIC. 0 or an errno. */
int clock_cond_init(pthread_cond_t *cond);

#endif
