/* main: the ganomede-chat command line: serve (default), migrate, expire,
 * --help, --version. */
#include "admin.h"
#include "app.h"
#include "config.h"
#include "db.h"
#include "expiry.h"
#include "events.h"
#include "http.h"
#include "live.h"
#include "import.h"
#include "listener.h"
#include "log.h"
#include "migrate.h"
#include "ops.h"
#include "outbox.h"
#include "rate_limit.h"
#include "recent_writers.h"
#include "redis_link.h"
#include "replica.h"
#include "sink.h"
#include "statsd.h"
#include "store.h"
#include "room_cache.h"
#include "token_cache.h"
#include "version.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Everything `serve` runs, in the order it starts. */
struct main_server {
    int listen_fd;             /* ours until http_start takes it; -1 after */
    bool listen_ipv6;
    char where[300];           /* the address as a person writes it */
    struct db_pool *pool, *expiry_pool, *read_pool;
    struct replica_monitor *replica;
    struct store st, expiry_st;
    char notify_url[512];
    struct outbox_settings outbox_settings;
    struct outbox *ob;
    struct statsd *sd;
    struct token_cache *tokens;
    struct room_cache *rooms;      /* GET room's answers (ROOM_CACHE_BYTES) */
    struct app_links links;
    struct app app;
    struct http_server *http;
    struct expiry_job *job;
};

static void main_usage(FILE *out);
static struct db_settings main_db_settings(const struct config *cfg, size_t size, bool session);
static struct store main_store(const struct config *cfg, struct db_pool *pool);
static int main_migrate(const struct config *cfg);
static int main_expire(const struct config *cfg);
static bool main_schema_ready(const struct config *cfg, bool *reachable);
static bool main_listen(const struct config *cfg, struct main_server *s);
static bool main_open_stores(const struct config *cfg, struct main_server *s, bool reachable);
static bool main_open_live(const struct config *cfg, struct main_server *s);
static void main_raise_file_limit(const struct config *cfg);
static bool main_open_links(const struct config *cfg, size_t pool_size, struct app_links *links);
static bool main_open_replica(const struct config *cfg, size_t pool_size, struct main_server *s);
static bool main_start_outbox(const struct config *cfg, struct main_server *s);
static bool main_start_serving(const struct config *cfg, struct main_server *s);
static void main_shutdown(struct main_server *s);
static int main_serve(const struct config *cfg);

static void main_usage(FILE *out)
{
    fprintf(out,
            "Usage: ganomede-chat [serve|migrate|expire|import-redis URL|--help|--version]\n"
            "\n"
            "  serve      serve the chat API over HTTP (the default)\n"
            "  migrate    apply pending database migrations, then exit\n"
            "  expire     delete expired rooms once, print how many, then exit\n"
            "  import-redis [--dry-run] [--prefix P] redis://host:port[/db]\n"
            "             copy the rooms of the original (Node) service's Redis, then exit\n"
            "             (docs/migrating.md)\n"
            "  notify-sink [--port P] [--json]\n"
            "             print the notifications POSTed to 127.0.0.1:P (development: make run)\n"
            "  token|policy|room ...\n"
            "             tokens, user policies and rooms from the command line\n"
            "             (ganomede-chat token --help)\n"
            "  --help     this text\n"
            "  --version  the version\n"
            "\n");
    config_print_help(out);
}

/* Settings of SIZE connections: to DATABASE_URL for requests (through its
 * pooler, as DATABASE_POOL_MODE says), or, SESSION, to DATABASE_SESSION_URL
 * for what needs a session of its own (LISTEN, advisory locks). */
static struct db_settings main_db_settings(const struct config *cfg, size_t size, bool session)
{
    struct db_settings s = {
        .url = session ? cfg->database_session_url : cfg->database_url,
        .transaction_pooling = !session && cfg->transaction_pooling,
        .size = size,
        .wait_ms = cfg->db_pool_wait_ms,
        .connect_timeout_seconds = cfg->db_connect_timeout_seconds,
        .statement_timeout_ms = cfg->db_statement_timeout_ms,
        .application_name = CHAT_NAME,
    };
    return s;
}

/* A store on POOL with the settings of CFG (notifications off). */
static struct store main_store(const struct config *cfg, struct db_pool *pool)
{
    struct store st = {
        .pool = pool,
        .max_messages = cfg->max_messages,
        .room_ttl_seconds = cfg->room_ttl_seconds,
        .archive = cfg->archive_on,
        .archive_partition_seconds = cfg->archive_partition_seconds,
        .archive_retention_days = cfg->archive_retention_days,
        .archive_clock_offset_seconds = cfg->archive_clock_offset_seconds,
        .idempotency_ttl_seconds = cfg->idempotency_ttl_seconds,
    };
    return st;
}

static int main_migrate(const struct config *cfg)
{
    struct db_settings s = main_db_settings(cfg, 1, true);
    s.statement_timeout_ms = 0; /* a migration may rewrite a big table */
    PGconn *pg = db_connect(&s);
    if (!pg) {
        fprintf(stderr, "ganomede-chat: cannot connect to PostgreSQL (DATABASE_URL)\n");
        return 1;
    }
    bool ok = migrate_up(pg);
    long version = ok ? migrate_current_version(pg) : -1;
    PQfinish(pg);
    if (!ok)
        return 1;
    log_info("schema at version %ld", version);
    return 0;
}

static int main_expire(const struct config *cfg)
{
    struct db_settings s = main_db_settings(cfg, 1, true);
    s.statement_timeout_ms = 0;
    struct db_pool *pool = db_pool_new(&s);
    if (!pool)
        return 1;
    struct store st = main_store(cfg, pool);
    long deleted = expiry_run_once(&st, cfg->expiry_batch_size);
    db_pool_free(pool);
    if (deleted < 0) {
        fprintf(stderr, "ganomede-chat: expiry failed (see the log)\n");
        return 1;
    }
    printf("%ld\n", deleted);
    return 0;
}

/* False when the database answers and its schema is behind this binary. A
 * database that does not answer yet is no reason to refuse: requests get
 * 503 until it is back. *REACHABLE says whether it answered. */
static bool main_schema_ready(const struct config *cfg, bool *reachable)
{
    struct db_settings s = main_db_settings(cfg, 1, false);
    PGconn *pg = db_connect(&s);
    *reachable = pg != NULL;
    if (!pg) {
        log_warn("PostgreSQL unreachable at start; requests get 503 until it answers");
        return true;
    }
    long current = migrate_current_version(pg);
    PQfinish(pg);
    long latest = migrate_latest_version();
    if (current >= 0 && current < latest) {
        log_emit(LOG_FATAL, NULL, NULL,
                 "database schema is at version %ld, this server needs %ld: run 'ganomede-chat migrate'",
                 current, latest);
        fprintf(stderr, "ganomede-chat: database schema is behind (version %ld of %ld): run 'ganomede-chat migrate'\n",
                current, latest);
        return false;
    }
    return true;
}

/* The port first: a second server on a busy port says why and exits
 * before it opens anything. */
static bool main_listen(const struct config *cfg, struct main_server *s)
{
    char err[400];
    s->listen_fd = listener_open(cfg->listen_address, cfg->port, &s->listen_ipv6, err,
                                 sizeof err);
    if (s->listen_fd < 0) {
        log_emit(LOG_FATAL, NULL, NULL, "%s", err);
        fprintf(stderr, "ganomede-chat: %s\n", err);
        return false;
    }
    listener_describe(cfg->listen_address, cfg->port, s->where, sizeof s->where);
    return true;
}

/* The request pool (connections opened now when PostgreSQL answers: a
 * first-use connect and its prepares stalled a busy server's requests for
 * up to a second in the benchmark), the expiry job's own small pool, their
 * stores, and what the routes share. */
static bool main_open_stores(const struct config *cfg, struct main_server *s, bool reachable)
{
    size_t pool_size = (size_t)(cfg->db_pool_size ? cfg->db_pool_size : cfg->http_threads);
    struct db_settings ds = main_db_settings(cfg, pool_size, false);
    s->pool = db_pool_new(&ds);
    if (cfg->expiry_interval_seconds) {
        struct db_settings es = main_db_settings(cfg, 1, true);
        es.statement_timeout_ms = 0;
        s->expiry_pool = db_pool_new(&es);
    }
    if (!s->pool || (cfg->expiry_interval_seconds && !s->expiry_pool))
        return false;
    s->st = main_store(cfg, s->pool);
    s->st.notify = *cfg->notifications_addr != '\0';
    s->expiry_st = main_store(cfg, s->expiry_pool);
    if (reachable)
        log_info("%zu of %zu PostgreSQL connections opened", db_pool_open_all(s->pool),
                 pool_size);
    s->tokens = token_cache_new((size_t)cfg->token_cache_size);
    s->rooms = room_cache_new((size_t)cfg->room_cache_bytes);
    s->st.rooms = s->rooms;
    s->sd = statsd_open(cfg->statsd_host, cfg->statsd_port, cfg->statsd_prefix,
                        cfg->statsd_sample_percent);
    if (!main_open_links(cfg, pool_size, &s->links) || !main_open_replica(cfg, pool_size, s))
        return false;
    s->links.limiter = rate_limit_new(cfg->rate_limit_posts_per_minute, cfg->rate_limit_burst,
                                      65536);
    if (cfg->rate_limit_posts_per_minute && !s->links.limiter)
        return false;
    if (!main_open_live(cfg, s))
        return false;
    app_init(&s->app, cfg, &s->st, s->tokens, s->sd, s->links);
    return true;
}

/* The live hub (GET events, long-poll): its own connection for polls;
 * resumes read through the request pool; token re-checks go through the
 * app (started before app_init fills it: the first check comes later). */
static bool main_open_live(const struct config *cfg, struct main_server *s)
{
    struct live_settings ls = {
        .db = main_db_settings(cfg, 1, false),
        .pool = s->pool,
        .poll_ms = cfg->live_poll_ms,
        .heartbeat_seconds = cfg->live_heartbeat_seconds,
        .recheck_seconds = cfg->live_recheck_seconds,
        .max_waiting = cfg->live_max_waiting,
        .max_streams_per_user = cfg->live_max_streams_per_user,
        .buffer_bytes = cfg->live_buffer_bytes,
        .resume_max = cfg->live_resume_max,
        .allowed = events_allowed,
        .allowed_cls = &s->app,
    };
    s->links.live = live_start(&ls);
    return s->links.live != NULL;
}

/* Each waiting client holds a socket: the soft limit on open files is
 * raised to what the connection limits need (up to the hard limit). */
static void main_raise_file_limit(const struct config *cfg)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)(cfg->http_max_connections + 256);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        log_warn("open files limited to %llu: fewer than HTTP_MAX_CONNECTIONS clients can "
                 "connect (raise the hard limit, e.g. LimitNOFILE=)",
                 (unsigned long long)rl.rlim_cur);
}

/* The read replica, when DATABASE_READ_URL is set: its pool (opened on
 * first use), the monitor that says when it may serve, and the marks of
 * who wrote lately (their reads stay on the primary). */
static bool main_open_replica(const struct config *cfg, size_t pool_size, struct main_server *s)
{
    if (!*cfg->database_read_url)
        return true;
    struct db_settings rs = main_db_settings(cfg, pool_size, false);
    rs.url = cfg->database_read_url;
    s->read_pool = db_pool_new(&rs);
    struct db_settings ms = main_db_settings(cfg, 1, false);
    ms.url = cfg->database_read_url;
    ms.transaction_pooling = true;   /* the monitor sets nothing for its session */
    s->replica = replica_monitor_start(&ms, cfg->read_max_lag_seconds * 1000);
    s->links.writers = recent_writers_new(65536);
    /* The bound, plus the monitor's period and a margin: by then a replica
     * that was within the bound has replayed the write. */
    s->links.read_fresh_ms = cfg->read_max_lag_seconds * 1000 + 2000;
    if (!s->read_pool || !s->replica || !s->links.writers)
        return false;
    s->st.read_pool = s->read_pool;
    s->st.replica = s->replica;
    log_info("reads may go to the replica at DATABASE_READ_URL (skipped past %ld s of lag)",
             cfg->read_max_lag_seconds);
    return true;
}

/* The original's Redis links, when their variables are set (connected on
 * first use: a Redis down at start costs 503s, not the start). */
static bool main_open_links(const struct config *cfg, size_t pool_size, struct app_links *links)
{
    if (*cfg->redis_auth_addr) {
        links->authdb = redis_link_new("authdb", cfg->redis_auth_addr, cfg->redis_auth_port,
                                       cfg->redis_timeout_ms, pool_size);
        if (!links->authdb)
            return false;
        log_info("player tokens from the authdb Redis at %s:%ld", cfg->redis_auth_addr,
                 cfg->redis_auth_port);
    }
    if (*cfg->redis_usermeta_addr) {
        links->usermeta = redis_link_new("usermeta", cfg->redis_usermeta_addr,
                                         cfg->redis_usermeta_port, cfg->redis_timeout_ms,
                                         pool_size);
        if (!links->usermeta)
            return false;
        log_info("policies from the usermeta Redis at %s:%ld", cfg->redis_usermeta_addr,
                 cfg->redis_usermeta_port);
    }
    return true;
}

/* The dispatcher, before the first request: the store hands it every
 * post's notifications (store.queued). */
static bool main_start_outbox(const struct config *cfg, struct main_server *s)
{
    if (!s->st.notify) {
        log_info("NOTIFICATIONS_PORT_8080_TCP_ADDR is not set: no notifications are queued");
        return true;
    }
    snprintf(s->notify_url, sizeof s->notify_url, "%s://%s:%ld/notifications/v1/messages",
             cfg->notifications_protocol, cfg->notifications_addr, cfg->notifications_port);
    s->outbox_settings = (struct outbox_settings){
        .db = main_db_settings(cfg, 1, true),
        .url = s->notify_url,
        .api_secret = cfg->api_secret,
        .timeout_ms = cfg->notifications_timeout_ms,
        .concurrency = cfg->outbox_concurrency,
        .max_attempts = cfg->outbox_max_attempts,
        .backoff_base_ms = cfg->outbox_backoff_base_ms,
        .backoff_max_ms = cfg->outbox_backoff_max_ms,
    };
    s->ob = outbox_start(&s->outbox_settings);
    if (!s->ob)
        return false;
    s->st.lease_ms = outbox_lease_ms(&s->outbox_settings);
    s->st.queued = outbox_hand_over;
    s->st.queued_cls = s->ob;
    return true;
}

/* HTTP on the socket bound first (from here on http_stop closes it, or
 * libmicrohttpd when it fails to start), then the expiry timer. */
static bool main_start_serving(const struct config *cfg, struct main_server *s)
{
    struct http_settings hs = {
        .observe = ops_observe,
        .listen_fd = s->listen_fd,
        .listen_ipv6 = s->listen_ipv6,
        .threads = (unsigned)(cfg->http_io_threads ? cfg->http_io_threads : cfg->http_threads),
        .request_threads = (unsigned)(cfg->http_io_threads ? cfg->http_threads : 0),
        .connection_timeout_seconds = (unsigned)cfg->http_connection_timeout_seconds,
        .max_connections = (unsigned)cfg->http_max_connections,
        .max_body_bytes = (size_t)cfg->max_body_bytes,
        .request_deadline_ms = cfg->http_request_timeout_seconds * 1000,
    };
    s->listen_fd = -1;
    s->http = http_start(&hs, app_dispatch, &s->app);
    if (!s->http)
        return false;
    if (s->expiry_pool) {
        s->job = expiry_start(&s->expiry_st, cfg->expiry_interval_seconds,
                              cfg->expiry_batch_size);
        if (!s->job)
            return false;
    }
    log_info("ganomede-chat %s listening on %s (prefix /%s)", CHAT_VERSION, s->where,
             cfg->route_prefix);
    return true;
}

/* Requests under way get HTTP_STOP_GRACE_MS to finish; past it, their
 * queries give up (503) so the threads can be joined. Then everything
 * stops and is freed, whatever was started. */
static void main_shutdown(struct main_server *s)
{
    live_close_all(s->links.live);   /* waiting clients are answered at once */
    if (!http_drain(s->http, HTTP_STOP_GRACE_MS)) {
        log_warn("requests still under way after the grace period: giving up their queries");
        db_pool_abort(s->pool);
        (void)http_drain(s->http, 1000); /* their 503s go out before the connections close */
    }
    db_pool_abort(s->pool);
    db_pool_abort(s->expiry_pool);
    db_pool_abort(s->read_pool);
    http_stop(s->http);
    live_stop(s->links.live);   /* after the connections that use it */
    outbox_stop(s->ob);
    expiry_stop(s->job);
    db_pool_free(s->expiry_pool);
    db_pool_free(s->pool);
    statsd_close(s->sd);
    token_cache_free(s->tokens);
    room_cache_free(s->rooms);   /* after http_stop: no answer is being sent */
    redis_link_free(s->links.authdb);
    redis_link_free(s->links.usermeta);
    replica_monitor_stop(s->replica);
    db_pool_free(s->read_pool);
    recent_writers_free(s->links.writers);
    rate_limit_free(s->links.limiter);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
}

static int main_serve(const struct config *cfg)
{
    struct main_server s = { .listen_fd = -1 };
    if (!main_listen(cfg, &s))
        return 1;
    main_raise_file_limit(cfg);
    if (!*cfg->api_secret)
        log_warn("API_SECRET is not set: no token is the API secret, SECRET.user tokens are refused");
    bool reachable = false;
    if (!main_schema_ready(cfg, &reachable)) {
        close(s.listen_fd);
        return 1;
    }
    /* Signals go to the main thread only: block them before any thread starts. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = 1;
    if (main_open_stores(cfg, &s, reachable) && main_start_outbox(cfg, &s) &&
        main_start_serving(cfg, &s)) {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        log_info("signal %d: finishing requests under way, then exiting", sig);
        rc = 0;
    }
    main_shutdown(&s);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "serve";
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        main_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("%s %s\n", CHAT_NAME, CHAT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "notify-sink") == 0)
        return sink_main(argc - 2, argv + 2);   /* no configuration: development only */
    bool import = strcmp(cmd, "import-redis") == 0;
    bool admin = admin_is_command(cmd);
    if ((argc > 2 && !import && !admin) ||
        (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0 &&
         strcmp(cmd, "expire") != 0 && !import && !admin)) {
        main_usage(stderr);
        return 2;
    }
    struct config cfg;
    char err[256];
    if (!config_load(&cfg, err, sizeof err)) {
        fprintf(stderr, "ganomede-chat: %s\n", err);
        return 2;
    }
    log_init(cfg.log_level);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(cmd, "migrate") == 0)
        return main_migrate(&cfg);
    if (strcmp(cmd, "expire") == 0)
        return main_expire(&cfg);
    if (import)
        return import_redis_main(&cfg, argc - 2, argv + 2);
    if (admin)
        return admin_main(&cfg, argc - 1, argv + 1);
    return main_serve(&cfg);
}
