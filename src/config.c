/* config: one table of {name, type, default, bounds, help}; parsed with a
 * bounded strtol wrapper, never atoi. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum config_type { CONFIG_INT, CONFIG_STRING };

struct config_var {
    const char *name;
    enum config_type type;
    size_t offset;         /* of the field in struct config */
    const char *fallback;  /* default, as text */
    long min, max;         /* CONFIG_INT only */
    const char *help;
};

#define FIELD(f) offsetof(struct config, f)

static const struct config_var CONFIG_VARS[] = {
    { "PORT", CONFIG_INT, FIELD(port), "8000", 1, 65535, "HTTP port" },
    { "LISTEN_ADDRESS", CONFIG_STRING, FIELD(listen_address), "", 0, 0,
      "address to listen on (IPv4, IPv6 or a host name); unset: every interface" },
    { "ROUTE_PREFIX", CONFIG_STRING, FIELD(route_prefix), "chat/v1", 0, 0, "prefix of every route" },
    { "API_SECRET", CONFIG_STRING, FIELD(api_secret), "", 0, 0,
      "secret of the ganomede services; unset: no secret tokens at all" },
    { "MAX_MESSAGES", CONFIG_INT, FIELD(max_messages), "100", 1, 100000, "messages kept per room" },
    { "ROOM_TTL_SECONDS", CONFIG_INT, FIELD(room_ttl_seconds), "5184000", 1, 315360000,
      "a room expires this long after its last create or message (60 days)" },
    { "EXPIRY_INTERVAL_SECONDS", CONFIG_INT, FIELD(expiry_interval_seconds), "600", 0, 604800,
      "period of the in-process expiry job; 0 turns it off" },
    { "EXPIRY_BATCH_SIZE", CONFIG_INT, FIELD(expiry_batch_size), "1000", 1, 100000,
      "rooms deleted per expiry transaction" },
    { "DATABASE_URL", CONFIG_STRING, FIELD(database_url), "", 0, 0,
      "libpq URI or conninfo; unset: libpq's PG* variables" },
    { "DATABASE_SESSION_URL", CONFIG_STRING, FIELD(database_session_url), "", 0, 0,
      "connection for what needs a session (the notification dispatcher's LISTEN, the expiry "
      "job's lock, migrate, import-redis): a direct or session-pooled URL; unset: DATABASE_URL" },
    { "DATABASE_POOL_MODE", CONFIG_STRING, FIELD(database_pool_mode), "session", 0, 0,
      "session: DATABASE_URL keeps sessions (PostgreSQL itself, or a session pooler); "
      "transaction: it is a transaction pooler (pgbouncer pool_mode=transaction): no prepared "
      "statements, no session settings" },
    { "DATABASE_READ_URL", CONFIG_STRING, FIELD(database_read_url), "", 0, 0,
      "a read replica (one or more hosts) for GET room and history; unset: the primary "
      "serves every read" },
    { "READ_MAX_LAG_SECONDS", CONFIG_INT, FIELD(read_max_lag_seconds), "10", 1, 3600,
      "a replica whose replay is further behind is skipped (reads go to the primary)" },
    { "DB_POOL_SIZE", CONFIG_INT, FIELD(db_pool_size), "0", 0, 1000,
      "PostgreSQL connections for requests; 0: one per HTTP thread" },
    { "DB_POOL_WAIT_MS", CONFIG_INT, FIELD(db_pool_wait_ms), "2000", 0, 60000,
      "how long a request waits for a free connection before 503" },
    { "DB_CONNECT_TIMEOUT_SECONDS", CONFIG_INT, FIELD(db_connect_timeout_seconds), "3", 1, 60,
      "libpq connect_timeout" },
    { "DB_STATEMENT_TIMEOUT_MS", CONFIG_INT, FIELD(db_statement_timeout_ms), "5000", 0, 600000,
      "PostgreSQL statement_timeout of request connections; 0: none" },
    { "ROOM_CACHE_BYTES", CONFIG_INT, FIELD(room_cache_bytes), "16777216", 0, 4294967296,
      "memory for the rooms' answers GET room keeps (gzipped), checked against PostgreSQL on "
      "every read; 0: off" },
    { "TOKEN_CACHE_SIZE", CONFIG_INT, FIELD(token_cache_size), "16384", 0, 1048576,
      "table tokens whose user is remembered for posts (checked by the post itself); 0: off" },
    { "HTTP_THREADS", CONFIG_INT, FIELD(http_threads), "8", 1, 256,
      "requests handled at once (each a thread that waits for PostgreSQL)" },
    { "HTTP_IO_THREADS", CONFIG_INT, FIELD(http_io_threads), "2", 0, 64,
      "threads that read and write the sockets and hand each request to the next free one of "
      "the HTTP_THREADS; 0: the HTTP_THREADS do both, each for its own connections" },
    { "HTTP_CONNECTION_TIMEOUT_SECONDS", CONFIG_INT, FIELD(http_connection_timeout_seconds), "30", 1, 3600,
      "an idle or stalled client connection is closed after this" },
    { "HTTP_MAX_CONNECTIONS", CONFIG_INT, FIELD(http_max_connections), "11264", 1, 1000000,
      "concurrent client connections, waiting ones (LIVE_MAX_WAITING) included" },
    { "HTTP_REQUEST_TIMEOUT_SECONDS", CONFIG_INT, FIELD(http_request_timeout_seconds), "30", 1, 3600,
      "a connection that completes no request for this long is closed, however slowly it sends" },
    { "MAX_BODY_BYTES", CONFIG_INT, FIELD(max_body_bytes), "65536", 64, 16777216,
      "larger request bodies get 413, decided while they stream in" },
    { "MAX_USERS_PER_ROOM", CONFIG_INT, FIELD(max_users_per_room), "100", 1, 10000,
      "larger rooms get 400" },
    { "MAX_ROOM_TYPE_BYTES", CONFIG_INT, FIELD(max_room_type_bytes), "200", 1, 1000,
      "longer room types get 400" },
    { "MAX_USERNAME_BYTES", CONFIG_INT, FIELD(max_username_bytes), "128", 1, 1000,
      "longer usernames in a room get 400" },
    { "MAX_MESSAGE_BYTES", CONFIG_INT, FIELD(max_message_bytes), "8192", 1, 16777216,
      "longer messages get 400 bad message" },
    { "MAX_JSON_DEPTH", CONFIG_INT, FIELD(max_json_depth), "32", 2, 1000,
      "deeper request JSON gets 400" },
    { "NOTIFICATIONS_PORT_8080_TCP_ADDR", CONFIG_STRING, FIELD(notifications_addr), "", 0, 0,
      "host of the notifications service; unset: no notifications" },
    { "NOTIFICATIONS_PORT_8080_TCP_PORT", CONFIG_INT, FIELD(notifications_port), "8080", 1, 65535,
      "port of the notifications service" },
    { "NOTIFICATIONS_PORT_8080_TCP_PROTOCOL", CONFIG_STRING, FIELD(notifications_protocol), "http", 0, 0,
      "http or https" },
    { "NOTIFICATIONS_TIMEOUT_MS", CONFIG_INT, FIELD(notifications_timeout_ms), "10000", 100, 600000,
      "longest wait for the notifications service to answer one notification" },
    { "OUTBOX_CONCURRENCY", CONFIG_INT, FIELD(outbox_concurrency), "32", 1, 1000,
      "notifications in flight at once, per server" },
    { "OUTBOX_MAX_ATTEMPTS", CONFIG_INT, FIELD(outbox_max_attempts), "12", 1, 1000,
      "delivery attempts before a notification is kept as failed" },
    { "OUTBOX_BACKOFF_BASE_MS", CONFIG_INT, FIELD(outbox_backoff_base_ms), "1000", 10, 3600000,
      "delay before the first retry; doubles with every attempt" },
    { "OUTBOX_BACKOFF_MAX_MS", CONFIG_INT, FIELD(outbox_backoff_max_ms), "300000", 10, 86400000,
      "longest delay between two attempts" },
    { "STATSD_HOST", CONFIG_STRING, FIELD(statsd_host), "", 0, 0,
      "statsd host for request counters; unset: none sent" },
    { "STATSD_PORT", CONFIG_INT, FIELD(statsd_port), "8125", 1, 65535, "statsd UDP port" },
    { "STATSD_PREFIX", CONFIG_STRING, FIELD(statsd_prefix), "ganomede.chat.", 0, 0,
      "prefix of every statsd key" },
    { "STATSD_SAMPLE_PERCENT", CONFIG_INT, FIELD(statsd_sample_percent), "10", 0, 100,
      "share of requests counted in statsd (the original sampled 10 %)" },
    { "ARCHIVE", CONFIG_STRING, FIELD(archive), "on", 0, 0,
      "on: every message is also kept in the record (message_archive); off: not kept" },
    { "CONSOLE", CONFIG_STRING, FIELD(console), "off", 0, 0,
      "on: the moderation console at /<ROUTE_PREFIX>/console (behind the API secret); off: none" },
    { "ARCHIVE_RETENTION_DAYS", CONFIG_INT, FIELD(archive_retention_days), "365", 0, 36500,
      "the record's partitions older than this are dropped (held messages kept); 0: keep all" },
    { "ARCHIVE_PARTITION_SECONDS", CONFIG_INT, FIELD(archive_partition_seconds), "2592000", 1,
      31536000, "span of one partition of the record (30 days)" },
    { "ARCHIVE_CLOCK_OFFSET_SECONDS", CONFIG_INT, FIELD(archive_clock_offset_seconds), "0", 0,
      3153600000L, "the record's job acts this much later than now (tests, drills); 0 otherwise" },
    { "REDIS_AUTH_PORT_6379_TCP_ADDR", CONFIG_STRING, FIELD(redis_auth_addr), "", 0, 0,
      "host of the authdb Redis (player tokens, as ganomede-users writes them); unset: "
      "the auth_tokens table" },
    { "REDIS_AUTH_PORT_6379_TCP_PORT", CONFIG_INT, FIELD(redis_auth_port), "6379", 1, 65535,
      "port of the authdb Redis" },
    { "REDIS_USERMETA_PORT_6379_TCP_ADDR", CONFIG_STRING, FIELD(redis_usermeta_addr), "", 0, 0,
      "host of the usermeta Redis (ban, mute, block, chat-disabled policies); unset: the "
      "usermeta table" },
    { "REDIS_USERMETA_PORT_6379_TCP_PORT", CONFIG_INT, FIELD(redis_usermeta_port), "6379", 1,
      65535, "port of the usermeta Redis" },
    { "REDIS_TIMEOUT_MS", CONFIG_INT, FIELD(redis_timeout_ms), "2000", 50, 60000,
      "longest wait for a Redis connect or answer before the request gets 503" },
    { "IDEMPOTENCY_TTL_SECONDS", CONFIG_INT, FIELD(idempotency_ttl_seconds), "86400", 1,
      31536000, "an Idempotency-Key of a post is remembered this long" },
    { "RATE_LIMIT_POSTS_PER_MINUTE", CONFIG_INT, FIELD(rate_limit_posts_per_minute), "0", 0,
      600000, "posts a user may make a minute on each server (429 past it); 0: no limit" },
    { "RATE_LIMIT_BURST", CONFIG_INT, FIELD(rate_limit_burst), "10", 1, 100000,
      "posts a user may make at once before the per-minute rate applies" },
    { "LIVE_POLL_MS", CONFIG_INT, FIELD(live_poll_ms), "20", 1, 10000,
      "how often the server looks for messages posted through other copies, while someone waits" },
    { "LIVE_HEARTBEAT_SECONDS", CONFIG_INT, FIELD(live_heartbeat_seconds), "15", 1, 3600,
      "an idle event stream gets a comment this often (keeps proxies from closing it)" },
    { "LIVE_RECHECK_SECONDS", CONFIG_INT, FIELD(live_recheck_seconds), "30", 1, 3600,
      "an event stream's token and bans are checked again this often" },
    { "LIVE_MAX_WAITING", CONFIG_INT, FIELD(live_max_waiting), "10000", 0, 1000000,
      "event streams and long-polls this server keeps at once (503 past it)" },
    { "LIVE_MAX_STREAMS_PER_USER", CONFIG_INT, FIELD(live_max_streams_per_user), "5", 1, 10000,
      "event streams one user may keep open on this server (429 past it)" },
    { "LIVE_BUFFER_BYTES", CONFIG_INT, FIELD(live_buffer_bytes), "262144", 4096, 67108864,
      "an event stream further behind than this is dropped (the client resumes)" },
    { "LIVE_RESUME_MAX", CONFIG_INT, FIELD(live_resume_max), "1000", 1, 100000,
      "messages sent to a stream resuming with Last-Event-ID before it is told to reload" },
    { "LIVE_WAIT_MAX_SECONDS", CONFIG_INT, FIELD(live_wait_max_seconds), "60", 1, 3600,
      "the longest wait a long-poll may ask for" },
    { "NODE_ENV", CONFIG_STRING, FIELD(node_env), "development", 0, 0,
      "production, or anything else for development" },
    { "LOG_LEVEL", CONFIG_STRING, FIELD(log_level), "info", 0, 0,
      "trace, debug, info, warn, error or fatal" },
};

#define CONFIG_NVARS (sizeof CONFIG_VARS / sizeof CONFIG_VARS[0])

static bool config_check(const struct config *cfg, char *err, size_t errlen);

bool config_parse_long(const char *text, long min, long max, long *out)
{
    if (!text || !*text)
        return false;
    for (const char *p = text; *p; p++)
        if ((*p < '0' || *p > '9') && !(p == text && *p == '-'))
            return false;
    errno = 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (errno != 0 || !end || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool config_load(struct config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < CONFIG_NVARS; i++) {
        const struct config_var *v = &CONFIG_VARS[i];
        const char *text = getenv(v->name);
        if (!text || !*text)
            text = v->fallback;
        char *field = (char *)cfg + v->offset;
        if (v->type == CONFIG_STRING) {
            memcpy(field, &text, sizeof text);
            continue;
        }
        long value;
        if (!config_parse_long(text, v->min, v->max, &value)) {
            snprintf(err, errlen, "%s must be an integer from %ld to %ld (got \"%.40s\")",
                     v->name, v->min, v->max, text);
            return false;
        }
        memcpy(field, &value, sizeof value);
    }
    /* Routes are matched segment by segment: keep the prefix bare. */
    while (*cfg->route_prefix == '/')
        cfg->route_prefix++;
    if (!config_check(cfg, err, errlen))
        return false;
    cfg->archive_on = strcmp(cfg->archive, "on") == 0;
    cfg->console_on = strcmp(cfg->console, "on") == 0;
    cfg->transaction_pooling = strcmp(cfg->database_pool_mode, "transaction") == 0;
    if (!*cfg->database_session_url)
        cfg->database_session_url = cfg->database_url;
    return true;
}

static bool config_check(const struct config *cfg, char *err, size_t errlen)
{
    static const char *const levels[] = { "trace", "debug", "info", "warn", "error", "fatal" };
    bool level_ok = false;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        level_ok = level_ok || strcmp(cfg->log_level, levels[i]) == 0;
    if (!level_ok) {
        snprintf(err, errlen, "LOG_LEVEL must be one of trace, debug, info, warn, error, fatal");
        return false;
    }
    size_t plen = strlen(cfg->route_prefix);
    if (plen == 0 || cfg->route_prefix[plen - 1] == '/' || strstr(cfg->route_prefix, "//")) {
        snprintf(err, errlen, "ROUTE_PREFIX must be non-empty path segments such as chat/v1");
        return false;
    }
    if (strcmp(cfg->notifications_protocol, "http") != 0 &&
        strcmp(cfg->notifications_protocol, "https") != 0) {
        snprintf(err, errlen, "NOTIFICATIONS_PORT_8080_TCP_PROTOCOL must be http or https");
        return false;
    }
    if (strcmp(cfg->database_pool_mode, "session") != 0 &&
        strcmp(cfg->database_pool_mode, "transaction") != 0) {
        snprintf(err, errlen, "DATABASE_POOL_MODE must be session or transaction");
        return false;
    }
    if (strcmp(cfg->archive, "on") != 0 && strcmp(cfg->archive, "off") != 0) {
        snprintf(err, errlen, "ARCHIVE must be on or off");
        return false;
    }
    if (strcmp(cfg->console, "on") != 0 && strcmp(cfg->console, "off") != 0) {
        snprintf(err, errlen, "CONSOLE must be on or off");
        return false;
    }
    return true;
}

void config_print_help(FILE *out)
{
    fprintf(out, "Environment variables (default in brackets):\n");
    for (size_t i = 0; i < CONFIG_NVARS; i++) {
        const struct config_var *v = &CONFIG_VARS[i];
        fprintf(out, "  %-38s [%s] %s\n", v->name, *v->fallback ? v->fallback : "unset", v->help);
    }
}
