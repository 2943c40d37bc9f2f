/* import: SCAN pages of keys, each page's rooms read in one pipeline
 * (GET, PTTL, LRANGE), checked with the API's own rules (room.c), and
 * written IMPORT_BATCH_ROOMS at a time by one statement. */
#include "import.h"

#include "body.h"
#include "db.h"
#include "log.h"
#include "room.h"
#include "version.h"

#include <hiredis/hiredis.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Rooms per transaction, and messages: whichever is reached first. */
#define IMPORT_BATCH_ROOMS 500
#define IMPORT_BATCH_MESSAGES 50000
/* Keys asked of each SCAN page (a hint to Redis). */
#define IMPORT_SCAN_COUNT "1000"
/* Deadline of every Redis connect and answer. */
#define IMPORT_REDIS_TIMEOUT_S 10
/* How deep a stored room or message may nest (the original's are flat). */
#define IMPORT_JSON_DEPTH 32
/* Examples kept for the report. */
#define IMPORT_EXAMPLES 5

struct import_source {
    char host[256];
    int port;
    char password[256];
    int db;
};

struct import_stats {
    long keys_seen;
    long rooms_imported, rooms_present, rooms_invalid, rooms_vanished;
    long messages_imported, messages_invalid;
    long orphans;
    char orphan_examples[IMPORT_EXAMPLES][300];
    char invalid_examples[IMPORT_EXAMPLES][400];
    int n_orphan_examples, n_invalid_examples;
};

struct import_run {
    const struct config *cfg;
    struct room_limits limits;
    redisContext *redis;
    struct db_pool *pool;
    bool dry_run;
    char prefix[300];              /* "<ROUTE_PREFIX>:" */
    struct import_stats stats;
    struct json_object *batch;     /* rooms waiting to be written */
    long batch_messages;
    long long total_keys;          /* DBSIZE at the start, for the ETA */
    double started, last_progress;
    bool tty;
};

static double import_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* redis://[:password@]host[:port][/db] */
static bool import_parse_url(const char *url, struct import_source *src, char *err,
                             size_t errlen)
{
    memset(src, 0, sizeof *src);
    src->port = 6379;
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "the source must be a redis:// URL (got \"%.60s\")", url);
        return false;
    }
    const char *p = url + 8, *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        snprintf(src->password, sizeof src->password, "%.*s", (int)(at - pw), pw);
        p = at + 1;
    }
    size_t hostlen = strcspn(p, ":/");
    if (hostlen == 0 || hostlen >= sizeof src->host) {
        snprintf(err, errlen, "no host in \"%.60s\"", url);
        return false;
    }
    memcpy(src->host, p, hostlen);
    p += hostlen;
    long v;
    char num[16];
    if (*p == ':') {
        size_t n = strcspn(p + 1, "/");
        snprintf(num, sizeof num, "%.*s", (int)(n < 15 ? n : 15), p + 1);
        if (n >= 15 || !config_parse_long(num, 1, 65535, &v)) {
            snprintf(err, errlen, "bad port in \"%.60s\"", url);
            return false;
        }
        src->port = (int)v;
        p += 1 + n;
    }
    if (*p == '/' && p[1]) {
        if (!config_parse_long(p + 1, 0, 100000, &v)) {
            snprintf(err, errlen, "bad database number in \"%.60s\"", url);
            return false;
        }
        src->db = (int)v;
    } else if (*p && strcmp(p, "/") != 0) {
        snprintf(err, errlen, "cannot read \"%.60s\" as redis://host:port/db", url);
        return false;
    }
    return true;
}

/* A reply that is not an error, or NULL with the reason printed. */
static redisReply *import_reply(struct import_run *run, redisReply *r, const char *what)
{
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "ganomede-chat import-redis: %s: %s\n", what,
                r ? r->str : run->redis->errstr);
        if (r)
            freeReplyObject(r);
        return NULL;
    }
    return r;
}

static bool import_connect(struct import_run *run, const struct import_source *src)
{
    struct timeval tv = { IMPORT_REDIS_TIMEOUT_S, 0 };
    run->redis = redisConnectWithTimeout(src->host, src->port, tv);
    if (!run->redis || run->redis->err || redisSetTimeout(run->redis, tv) != REDIS_OK) {
        fprintf(stderr, "ganomede-chat import-redis: cannot connect to %s:%d: %s\n", src->host,
                src->port, run->redis ? run->redis->errstr : "out of memory");
        return false;
    }
    redisReply *r;
    if (src->password[0] &&
        !(r = import_reply(run, redisCommand(run->redis, "AUTH %s", src->password), "AUTH")))
        return false;
    if (src->password[0])
        freeReplyObject(r);
    char db[16];
    snprintf(db, sizeof db, "%d", src->db);
    if (!(r = import_reply(run, redisCommand(run->redis, "SELECT %s", db), "SELECT")))
        return false;
    freeReplyObject(r);
    if (!(r = import_reply(run, redisCommand(run->redis, "DBSIZE"), "DBSIZE")))
        return false;
    run->total_keys = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return true;
}

/* Keeps "ID: WHY" (shortened) among the report's examples. */
static void import_example(char (*slots)[400], int *n, const char *id, const char *why)
{
    if (*n < IMPORT_EXAMPLES)
        snprintf(slots[(*n)++], 400, "%.200s: %.190s", id, why);
}

/* A message as the original stored it: a JSON object with a timestamp
 * (number or string) and string from, type and message. */
static bool import_message_ok(const char *text, size_t len)
{
    struct json_object *m = NULL, *ts = NULL, *from = NULL, *type = NULL, *message = NULL;
    char err[64];
    bool ok = body_json(text, len, IMPORT_JSON_DEPTH, &m, err, sizeof err) &&
              json_object_is_type(m, json_type_object) &&
              json_object_object_get_ex(m, "timestamp", &ts) &&
              (json_object_is_type(ts, json_type_int) ||
               json_object_is_type(ts, json_type_double) ||
               json_object_is_type(ts, json_type_string)) &&
              json_object_object_get_ex(m, "from", &from) &&
              json_object_is_type(from, json_type_string) &&
              json_object_object_get_ex(m, "type", &type) &&
              json_object_is_type(type, json_type_string) &&
              json_object_object_get_ex(m, "message", &message) &&
              json_object_is_type(message, json_type_string);
    json_object_put(m);
    return ok;
}

/* True when ID is TYPE and the users of INFO in their stored order, joined
 * by '/': the original sorted them as JavaScript does (UTF-16 code units),
 * which differs from this service's byte order only for names mixing
 * characters past U+FFFF with U+E000..U+FFFF. */
static bool import_id_in_stored_order(const char *id, const char *type, struct json_object *info)
{
    size_t tlen = strlen(type);
    if (strncmp(id, type, tlen) != 0)
        return false;
    const char *p = id + tlen;
    struct json_object *users = json_object_object_get(info, "users");
    for (size_t i = 0; i < json_object_array_length(users); i++) {
        const char *u = json_object_get_string(json_object_array_get_idx(users, i));
        size_t ulen = strlen(u);
        if (*p != '/' || strncmp(p + 1, u, ulen) != 0)
            return false;
        p += 1 + ulen;
    }
    return *p == '\0';
}

/* The room of key ID from its three replies, checked as POST rooms checks a
 * body; NULL (counted) when it vanished or is not a room of this service. */
static struct json_object *import_room(struct import_run *run, const char *id,
                                       const redisReply *value, const redisReply *pttl,
                                       const redisReply *list)
{
    if (value->type != REDIS_REPLY_STRING || pttl->type != REDIS_REPLY_INTEGER ||
        pttl->integer == -2) {
        run->stats.rooms_vanished++;
        return NULL;
    }
    struct json_object *info = NULL;
    struct room_spec spec;
    char err[160] = "";
    bool ok = body_json(value->str, value->len, IMPORT_JSON_DEPTH, &info, err, sizeof err) &&
              room_spec_parse(info, &run->limits, &spec, err, sizeof err);
    if (ok && strcmp(spec.id, id) != 0 && !import_id_in_stored_order(id, spec.type, info)) {
        snprintf(err, sizeof err, "its key is not the id of its type and users");
        room_spec_free(&spec);
        ok = false;
    }
    if (!ok) {
        run->stats.rooms_invalid++;
        import_example(run->stats.invalid_examples, &run->stats.n_invalid_examples, id,
                       err[0] ? err : "not a room");
        json_object_put(info);
        return NULL;
    }
    struct json_object *room = json_object_new_object();
    struct json_object *users = json_object_new_array();
    for (size_t i = 0; i < spec.nusers; i++)
        json_object_array_add(users, json_object_new_string(spec.users[i]));
    json_object_object_add(room, "id", json_object_new_string(id));
    json_object_object_add(room, "type", json_object_new_string(spec.type));
    json_object_object_add(room, "users", users);
    long long ttl_ms = pttl->integer >= 0 ? pttl->integer : run->cfg->room_ttl_seconds * 1000LL;
    json_object_object_add(room, "ttl_ms", json_object_new_int64(ttl_ms));
    struct json_object *messages = json_object_new_array();
    for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; i++) {
        const redisReply *e = list->element[i];
        if (e->type == REDIS_REPLY_STRING && import_message_ok(e->str, e->len))
            json_object_array_add(messages, json_object_new_string_len(e->str, (int)e->len));
        else
            run->stats.messages_invalid++;
    }
    run->batch_messages += (long)json_object_array_length(messages);
    json_object_object_add(room, "messages", messages);
    room_spec_free(&spec);
    json_object_put(info);
    return room;
}

/* The ids of the batch's rooms already here (dry run): how many would be
 * imported, and their messages. */
static bool import_count_new(struct import_run *run, long *rooms, long *messages)
{
    size_t n = json_object_array_length(run->batch);
    struct json_object *ids = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(ids, json_object_get(json_object_object_get(
                                       json_object_array_get_idx(run->batch, i), "id")));
    PGresult *res = NULL;
    enum db_status s = db_exec(run->pool,
                               DB_CALL(SQL_IMPORT_PRESENT, json_object_to_json_string(ids)),
                               true, &res, NULL);
    json_object_put(ids);
    if (s != DB_OK)
        return false;
    *rooms = 0;
    *messages = 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *room = json_object_array_get_idx(run->batch, i);
        const char *id = json_object_get_string(json_object_object_get(room, "id"));
        bool present = false;
        for (int row = 0; row < PQntuples(res) && !present; row++)
            present = strcmp(PQgetvalue(res, row, 0), id) == 0;
        if (!present) {
            (*rooms)++;
            *messages += (long)json_object_array_length(json_object_object_get(room, "messages"));
        }
    }
    PQclear(res);
    return true;
}

/* Writes (or, dry, counts) the batch; false when PostgreSQL failed. */
static bool import_flush(struct import_run *run)
{
    long n = (long)json_object_array_length(run->batch), rooms = 0, messages = 0;
    if (n == 0)
        return true;
    bool ok;
    if (run->dry_run) {
        ok = import_count_new(run, &rooms, &messages);
    } else {
        PGresult *res = NULL;
        const char *json = json_object_to_json_string_ext(run->batch, JSON_C_TO_STRING_PLAIN);
        ok = db_exec(run->pool,
                     DB_CALL(SQL_IMPORT_ROOMS, json, run->cfg->archive_on ? "t" : "f"), false,
                     &res, NULL) == DB_OK &&
             db_result_shape(res, SQL_IMPORT_ROOMS, 2, 1, 1, NULL);
        if (ok) {
            rooms = strtol(PQgetvalue(res, 0, 0), NULL, 10);
            messages = strtol(PQgetvalue(res, 0, 1), NULL, 10);
        }
        PQclear(res);
    }
    if (!ok) {
        fprintf(stderr, "ganomede-chat import-redis: PostgreSQL failed (see the log); what was "
                        "imported before stays, run again to go on\n");
        return false;
    }
    run->stats.rooms_imported += rooms;
    run->stats.rooms_present += n - rooms;
    run->stats.messages_imported += messages;
    json_object_put(run->batch);
    run->batch = json_object_new_array();
    run->batch_messages = 0;
    return true;
}

/* The room id of KEY ("<prefix><id>" or "<prefix><id>:messages"), and
 * whether it is a message list. */
static const char *import_key_id(const struct import_run *run, const char *key, size_t len,
                                 bool *is_list, char *buf, size_t buflen)
{
    size_t plen = strlen(run->prefix);
    const char *suffix = ":messages";
    size_t slen = strlen(suffix);
    *is_list = len > plen + slen && strcmp(key + len - slen, suffix) == 0;
    size_t idlen = len - plen - (*is_list ? slen : 0);
    if (idlen >= buflen)
        idlen = buflen - 1;
    memcpy(buf, key + plen, idlen);
    buf[idlen] = '\0';
    return buf;
}

/* One SCAN page: rooms read in one pipeline, lists checked for their room. */
static bool import_page(struct import_run *run, const redisReply *keys)
{
    size_t n = keys->elements;
    char id[4096];
    for (size_t i = 0; i < n; i++) {
        bool is_list;
        const redisReply *k = keys->element[i];
        import_key_id(run, k->str, k->len, &is_list, id, sizeof id);
        if (is_list) {
            redisAppendCommand(run->redis, "EXISTS %s%s", run->prefix, id);
        } else {
            redisAppendCommand(run->redis, "GET %b", k->str, k->len);
            redisAppendCommand(run->redis, "PTTL %b", k->str, k->len);
            redisAppendCommand(run->redis, "LRANGE %s:messages 0 -1", k->str);
        }
    }
    for (size_t i = 0; i < n; i++) {
        bool is_list;
        const redisReply *k = keys->element[i];
        import_key_id(run, k->str, k->len, &is_list, id, sizeof id);
        redisReply *r[3] = { NULL, NULL, NULL };
        int want = is_list ? 1 : 3;
        bool got = true;
        for (int j = 0; j < want; j++)
            got = redisGetReply(run->redis, (void **)&r[j]) == REDIS_OK && r[j] && got;
        if (!got) {
            fprintf(stderr, "ganomede-chat import-redis: Redis stopped answering: %s\n",
                    run->redis->errstr);
            for (int j = 0; j < want; j++)
                if (r[j])
                    freeReplyObject(r[j]);
            return false;
        }
        if (is_list && r[0]->type == REDIS_REPLY_INTEGER && r[0]->integer == 0) {
            run->stats.orphans++;
            if (run->stats.n_orphan_examples < IMPORT_EXAMPLES)
                snprintf(run->stats.orphan_examples[run->stats.n_orphan_examples++], 300,
                         "%.*s", (int)k->len, k->str);
        } else if (!is_list) {
            struct json_object *room = import_room(run, id, r[0], r[1], r[2]);
            if (room)
                json_object_array_add(run->batch, room);
        }
        for (int j = 0; j < want; j++)
            freeReplyObject(r[j]);
        if ((json_object_array_length(run->batch) >= IMPORT_BATCH_ROOMS ||
             run->batch_messages >= IMPORT_BATCH_MESSAGES) &&
            !import_flush(run))
            return false;
    }
    run->stats.keys_seen += (long)n;
    return true;
}

static void import_progress(struct import_run *run, bool last)
{
    double now = import_now();
    if (!run->tty || (!last && now - run->last_progress < 0.5))
        return;
    run->last_progress = now;
    double secs = now - run->started;
    double rate = secs > 0 ? (double)(run->stats.rooms_imported + run->stats.rooms_present) / secs
                           : 0;
    double keys_rate = secs > 0 ? (double)run->stats.keys_seen / secs : 0;
    double left = (double)run->total_keys - (double)run->stats.keys_seen;
    fprintf(stderr, "\r%ld rooms, %ld messages, %.0f rooms/s, %ld of ~%lld keys, ETA %.0f s   %s",
            run->stats.rooms_imported, run->stats.messages_imported, rate, run->stats.keys_seen,
            run->total_keys, keys_rate > 0 && left > 0 ? left / keys_rate : 0.0,
            last ? "\n" : "");
}

/* "<prefix>:*" with the glob characters of the prefix escaped. */
static void import_pattern(const char *prefix, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = prefix; *p && o + 3 < outlen; p++) {
        if (strchr("*?[]\\", *p))
            out[o++] = '\\';
        out[o++] = *p;
    }
    snprintf(out + o, outlen - o, "*");
}

static bool import_scan(struct import_run *run)
{
    char pattern[700], cursor[32] = "0";
    import_pattern(run->prefix, pattern, sizeof pattern);
    do {
        redisReply *r = import_reply(
            run,
            redisCommand(run->redis, "SCAN %s MATCH %s COUNT " IMPORT_SCAN_COUNT, cursor,
                         pattern),
            "SCAN");
        if (!r)
            return false;
        bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  r->element[0]->type == REDIS_REPLY_STRING &&
                  r->element[1]->type == REDIS_REPLY_ARRAY;
        if (ok) {
            snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
            ok = import_page(run, r->element[1]);
        }
        freeReplyObject(r);
        if (!ok)
            return false;
        import_progress(run, false);
    } while (strcmp(cursor, "0") != 0);
    return import_flush(run);
}

static void import_report(const struct import_run *run, const char *url)
{
    const struct import_stats *s = &run->stats;
    const char *verb = run->dry_run ? "would be imported" : "imported";
    printf("import-redis %s (keys %s*)%s\n", url, run->prefix,
           run->dry_run ? ": dry run, nothing written" : "");
    printf("rooms: %ld %s, %ld already here (left as they are), %ld invalid, %ld expired "
           "during the run\n",
           s->rooms_imported, verb, s->rooms_present, s->rooms_invalid, s->rooms_vanished);
    for (int i = 0; i < s->n_invalid_examples; i++)
        printf("  invalid: %s\n", s->invalid_examples[i]);
    printf("messages: %ld %s, %ld invalid (skipped)\n", s->messages_imported, verb,
           s->messages_invalid);
    printf("message lists without a room (the original never expired them; not imported): "
           "%ld\n",
           s->orphans);
    for (int i = 0; i < s->n_orphan_examples; i++)
        printf("  %s\n", s->orphan_examples[i]);
    double secs = import_now() - run->started;
    printf("time: %.1f s (%.0f rooms/s, %.0f messages/s)\n", secs,
           secs > 0 ? (double)(s->rooms_imported + s->rooms_present) / secs : 0,
           secs > 0 ? (double)s->messages_imported / secs : 0);
}

int import_redis_main(const struct config *cfg, int argc, char **argv)
{
    const char *url = NULL, *prefix = cfg->route_prefix;
    struct import_run run = { .cfg = cfg };
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0)
            run.dry_run = true;
        else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
            prefix = argv[++i];
        else if (!url)
            url = argv[i];
        else
            url = "";
    }
    struct import_source src;
    char err[200];
    if (!url || !*url || !import_parse_url(url, &src, err, sizeof err)) {
        fprintf(stderr, "usage: ganomede-chat import-redis [--dry-run] [--prefix P] "
                        "redis://host:port[/db]\n%s%s",
                url && *url ? err : "", url && *url ? "\n" : "");
        return 2;
    }
    run.limits = (struct room_limits){ cfg->max_users_per_room, cfg->max_room_type_bytes,
                                       cfg->max_username_bytes };
    snprintf(run.prefix, sizeof run.prefix, "%s:", prefix);
    run.tty = isatty(STDERR_FILENO);
    run.started = import_now();
    run.batch = json_object_new_array();
    struct db_settings ds = { .url = cfg->database_session_url, .size = 1,
                              .wait_ms = cfg->db_pool_wait_ms,
                              .connect_timeout_seconds = cfg->db_connect_timeout_seconds,
                              .statement_timeout_ms = 0,
                              .application_name = CHAT_NAME " import-redis" };
    run.pool = db_pool_new(&ds);
    bool ok = run.pool && import_connect(&run, &src) && import_scan(&run);
    import_progress(&run, true);
    if (ok)
        import_report(&run, url);
    json_object_put(run.batch);
    if (run.redis)
        redisFree(run.redis);
    db_pool_free(run.pool);
    return ok ? 0 : 1;
}
