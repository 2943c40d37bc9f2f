/* log: bunyan-layout JSON lines on stdout. */
#include "log.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_min = LOG_INFO;
static FILE *log_out;   /* stdout unless log_to_stderr */
static char log_hostname[256] = "localhost";

void log_init(const char *level_name)
{
    static const struct { const char *name; enum log_level level; } names[] = {
        { "trace", LOG_TRACE }, { "debug", LOG_DEBUG }, { "info", LOG_INFO },
        { "warn", LOG_WARN },   { "error", LOG_ERROR }, { "fatal", LOG_FATAL },
    };
    log_min = LOG_INFO;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (level_name && strcmp(level_name, names[i].name) == 0)
            log_min = names[i].level;
    if (gethostname(log_hostname, sizeof log_hostname - 1) != 0)
        strcpy(log_hostname, "localhost");
    /* Lines must reach a pipe or file whole and at once. */
    setvbuf(stdout, NULL, _IOLBF, 0);
}

void log_to_stderr(void)
{
    log_out = stderr;
}

bool log_enabled(enum log_level level)
{
    return level >= log_min;
}

static void log_time(char *out, size_t len)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

void log_emit(enum log_level level, const char *req_id, struct json_object *fields,
              const char *fmt, ...)
{
    if (!log_enabled(level)) {
        json_object_put(fields);
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char when[40];
    log_time(when, sizeof when);

    struct json_object *line = json_object_new_object();
    json_object_object_add(line, "name", json_object_new_string("chat"));
    json_object_object_add(line, "hostname", json_object_new_string(log_hostname));
    json_object_object_add(line, "pid", json_object_new_int(getpid()));
    json_object_object_add(line, "level", json_object_new_int((int)level));
    if (req_id)
        json_object_object_add(line, "req_id", json_object_new_string(req_id));
    if (fields) {
        json_object_object_foreach(fields, key, val)
            json_object_object_add(line, key, json_object_get(val));
        json_object_put(fields);
    }
    json_object_object_add(line, "msg", json_object_new_string(msg));
    json_object_object_add(line, "time", json_object_new_string(when));
    json_object_object_add(line, "v", json_object_new_int(0));
    const char *text = json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    FILE *out = log_out ? log_out : stdout;
    flockfile(out);
    fputs(text, out);
    fputc('\n', out);
    funlockfile(out);
    json_object_put(line);
}
