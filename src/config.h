/* config: every setting, read from the environment once at start and
 * validated before anything is served. */
#ifndef GANOMEDE_CONFIG_H
#define GANOMEDE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct config {
    long port;
    const char *listen_address;     /* "" : every interface */
    const char *route_prefix;       /* without leading or trailing '/' */
    const char *api_secret;         /* "" when unset */
    long max_messages;
    long room_ttl_seconds;
    long expiry_interval_seconds;   /* 0: the in-process job is off */
    long expiry_batch_size;
    const char *database_url;       /* "" : libpq's PG* variables */
    const char *database_session_url; /* "" : database_url (dispatcher, expiry, migrate) */
    const char *database_pool_mode;  /* "session" or "transaction": what sits at database_url */
    const char *database_read_url;   /* "" : every read on the primary */
    long read_max_lag_seconds;
    bool transaction_pooling;        /* database_pool_mode == "transaction" */
    long db_pool_size;              /* 0: one per HTTP thread */
    long token_cache_size;          /* 0: no token cache */
    long db_pool_wait_ms;
    long db_connect_timeout_seconds;
    long db_statement_timeout_ms;
    long http_threads;
    long http_io_threads;           /* 0: the HTTP threads do their own I/O */
    long http_connection_timeout_seconds;
    long http_max_connections;
    long http_request_timeout_seconds;
    long max_body_bytes;
    long max_users_per_room;
    long max_room_type_bytes;
    long max_username_bytes;
    long max_message_bytes;
    long max_json_depth;
    const char *notifications_addr; /* "" : notifications off */
    long notifications_port;
    const char *notifications_protocol;
    long notifications_timeout_ms;
    long outbox_concurrency;
    long outbox_max_attempts;
    long outbox_backoff_base_ms;
    long outbox_backoff_max_ms;
    const char *statsd_host;        /* "" : statsd off */
    long statsd_port;
    const char *statsd_prefix;
    long statsd_sample_percent;
    const char *archive;            /* "on" or "off": the record (message_archive) */
    bool archive_on;                /* archive == "on" */
    const char *console;            /* "on" or "off": the moderation console */
    bool console_on;
    long archive_retention_days;    /* 0: keep everything */
    long archive_partition_seconds;
    long archive_clock_offset_seconds; /* tests and drills: the archive job's clock ahead */
    const char *redis_auth_addr;    /* "" : tokens from auth_tokens */
    long redis_auth_port;
    const char *redis_usermeta_addr; /* "" : policies from usermeta */
    long redis_usermeta_port;
    long redis_timeout_ms;
    long idempotency_ttl_seconds;
    long room_cache_bytes;
    long rate_limit_posts_per_minute; /* 0: no limit */
    long rate_limit_burst;
    long live_poll_ms;
    long live_heartbeat_seconds;
    long live_recheck_seconds;
    long live_max_waiting;
    long live_max_streams_per_user;
    long live_buffer_bytes;
    long live_resume_max;
    long live_wait_max_seconds;
    const char *node_env;
    const char *log_level;
};

/* Reads every variable of the table from the environment (defaults for the
 * unset ones). Returns false and writes a message naming the variable into
 * ERR when a value is malformed or out of range. Strings are borrowed from
 * the environment or are static defaults. */
__attribute__((warn_unused_result))
bool config_load(struct config *cfg, char *err, size_t errlen);

/* Prints every variable with its default and meaning. */
void config_print_help(FILE *out);

/* Parses a whole decimal integer in [MIN, MAX]; no sign games, no trailing
 * bytes, no overflow. Exposed for the unit tests and other parsers. */
__attribute__((warn_unused_result))
bool config_parse_long(const char *text, long min, long max, long *out);

#endif
