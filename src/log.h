/* log: one JSON object per line on stdout, in the bunyan layout the other
 * ganomede services use (name, hostname, pid, level, msg, time, v). */
#ifndef GANOMEDE_LOG_H
#define GANOMEDE_LOG_H

#include <stdbool.h>

struct json_object;

/* Bunyan's numeric levels. */
enum log_level {
    LOG_TRACE = 10,
    LOG_DEBUG = 20,
    LOG_INFO = 30,
    LOG_WARN = 40,
    LOG_ERROR = 50,
    LOG_FATAL = 60,
};

/* Sets the minimum level from its name ("info"...); unknown names keep info. */
void log_init(const char *level_name);

/* Log lines go to stderr from now on (commands whose stdout is their
 * answer: ganomede-chat token, policy, room). */
void log_to_stderr(void);

bool log_enabled(enum log_level level);

/* Writes one line. FIELDS (may be NULL) is a JSON object whose members are
 * added to the line; its ownership passes to log_emit. REQ_ID may be NULL. */
void log_emit(enum log_level level, const char *req_id, struct json_object *fields,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_info(...) log_emit(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_WARN, NULL, NULL, __VA_ARGS__)
#define log_error(...) log_emit(LOG_ERROR, NULL, NULL, __VA_ARGS__)

#endif
