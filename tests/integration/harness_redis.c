/*
 * The suite's real redis-server (Debian's package), standing in for the
 * original's authdb and usermeta Redis: started on a free loopback port
 * when a test first needs it, kept for the run (stopped, paused, restarted
 * on the same port by the tests that need an outage), stopped at exit.
 * Commands go through hiredis, with a timeout.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static pid_t redis_pid;
static int redis_port;
static redisContext *redis_ctx;
static bool policies_in_redis;

static void redis_disconnect(void)
{
    if (redis_ctx)
        redisFree(redis_ctx);
    redis_ctx = NULL;
}

static redisContext *redis_connect(void)
{
    if (redis_ctx)
        return redis_ctx;
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    if (!c || c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redis_ctx = c;
    return c;
}

/* Starts redis-server on REDIS_PORT; true once it answers PING (5 s). */
static bool redis_spawn(void)
{
    char port[16], logfile[600];
    snprintf(port, sizeof port, "%d", redis_port);
    snprintf(logfile, sizeof logfile, "%s/redis-port%d.log", h_logdir(), redis_port);
    char a0[] = "redis-server", a1[] = "--port", a3[] = "--bind", a4[] = "127.0.0.1",
         a5[] = "--save", a6[] = "", a7[] = "--appendonly", a8[] = "no", a9[] = "--logfile";
    char *argv[] = { a0, a1, port, a3, a4, a5, a6, a7, a8, a9, logfile, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&redis_pid, "redis-server", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        print_error("cannot start redis-server (%s): apt-get install redis-server "
                    "(scripts/deps.sh test)\n", strerror(rc));
        redis_pid = 0;
        return false;
    }
    for (int i = 0; i < 100; i++) {
        redisContext *c = redis_connect();
        redisReply *r = c ? redisCommand(c, "PING") : NULL;
        bool up = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
        if (up)
            return true;
        redis_disconnect();
        usleep(50 * 1000);
    }
    print_error("redis-server on port %d does not answer (log: %s)\n", redis_port, logfile);
    return false;
}

int h_redis_port(void)
{
    if (redis_pid > 0)
        return redis_port;
    if (redis_port == 0)
        redis_port = h_free_port();
    if (!redis_spawn())
        fail_msg("no redis-server");
    return redis_port;
}

void h_redis_stop(void)
{
    redis_disconnect();
    if (redis_pid <= 0)
        return;
    kill(redis_pid, SIGCONT);
    kill(redis_pid, SIGTERM);
    waitpid(redis_pid, NULL, 0);
    redis_pid = 0;
}

void h_redis_pause(bool paused)
{
    if (redis_pid > 0)
        kill(redis_pid, paused ? SIGSTOP : SIGCONT);
    if (!paused)
        redis_disconnect();
}

/* Runs ARGV; fails the test when Redis answers with an error or not at all. */
static redisReply *redis_run(const char *const *argv)
{
    h_redis_port();
    const char *args[16];
    int argc = 0;
    while (argv[argc] && argc < 16) {
        args[argc] = argv[argc];
        argc++;
    }
    redisContext *c = redis_connect();
    redisReply *r = c ? redisCommandArgv(c, argc, args, NULL) : NULL;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        print_error("redis %s: %s\n", argv[0], r ? r->str : c ? c->errstr : "no connection");
        if (r)
            freeReplyObject(r);
        redis_disconnect();
        fail_msg("redis command failed");
    }
    return r;
}

void h_redis(const char *const *argv)
{
    freeReplyObject(redis_run(argv));
}

char *h_redis_get(const char *key)
{
    redisReply *r = redis_run((const char *const[]){ "GET", key, NULL });
    char *v = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return v;
}

void h_redis_flush(void)
{
    if (redis_pid > 0)
        h_redis((const char *const[]){ "FLUSHALL", NULL });
}

void h_policies_in_redis(bool on)
{
    policies_in_redis = on;
    if (on)
        h_redis_port();
}

bool h_policies_are_in_redis(void)
{
    return policies_in_redis;
}

void h_redis_kill_now(void)
{
    if (redis_pid > 0)
        kill(redis_pid, SIGKILL);
}

void h_redis_cleanup(void)
{
    h_redis_stop();
}
