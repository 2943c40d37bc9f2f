/* admin: parse the command line, run one statement, print the answer. */
#include "admin.h"

#include "buf.h"
#include "db.h"
#include "digest.h"
#include "log.h"
#include "record.h"
#include "text.h"
#include "store.h"
#include "unread.h"
#include "version.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_MAX_ARGS 4

/* One run: the options, the connection, the store the reads go through. */
struct admin {
    const struct config *cfg;
    bool json;
    bool help;
    const char *actor;
    const char *reason;
    const char *ttl;
    const char *user;
    const char *room;
    const char *since;
    const char *until;
    const char *format;
    bool erase;
    const char *args[ADMIN_MAX_ARGS];
    int nargs;
    char actor_buf[160];
    struct db_pool *pool;
    struct store st;
};

static const char ADMIN_USAGE[] =
    "Usage: ganomede-chat COMMAND [options]   (DATABASE_URL as for serve)\n"
    "\n"
    "  token add USER [--ttl DURATION]   print a new table token for USER (DURATION: 90s,\n"
    "                                    30m, 12h, 7d; default: never expires)\n"
    "  token revoke TOKEN|-              delete TOKEN (-: read it from stdin)\n"
    "  token list USER                   USER's tokens, as SHA-256 digests (never the tokens)\n"
    "  policy show USER                  USER's ban, mute, chat switch and blocks\n"
    "  policy set USER ban|unban|mute|unmute|disable-chat|enable-chat\n"
    "  policy block USER OTHER           USER no longer hears from OTHER\n"
    "  policy unblock USER OTHER\n"
    "  room show ROOM_ID                 the room as GET room answers it\n"
    "  room list --user USER             USER's live rooms, most recent activity first\n"
    "  redact message ID --reason TEXT   take a message out of its room and history\n"
    "  redact user NAME [--since TIME] [--erase] --reason TEXT\n"
    "                                    every message NAME sent (--erase: the texts wiped)\n"
    "  hold set --user NAME|--room ID --reason TEXT    keep them past retention and erasure\n"
    "  hold lift ID --reason TEXT\n"
    "  hold list\n"
    "  export [--user NAME] [--room ID] [--since TIME] [--until TIME] [--format ndjson|csv]\n"
    "         --reason TEXT               the record on stdout (progress on a terminal)\n"
    "\n"
    "Options: --json (JSON on stdout), --actor NAME and --reason TEXT (written to the\n"
    "audit log with every change; the actor defaults to cli:$USER; the moderation\n"
    "commands need a reason), --help. TIME: ISO 8601 (2026-12-01T10:00:00Z) or a date.\n"
    "Exit codes: 0 done, 1 not found or refused, 2 usage.\n";

bool admin_is_command(const char *cmd)
{
    return strcmp(cmd, "token") == 0 || strcmp(cmd, "policy") == 0 || strcmp(cmd, "room") == 0 ||
           strcmp(cmd, "redact") == 0 || strcmp(cmd, "hold") == 0 || strcmp(cmd, "export") == 0;
}

static int admin_usage(const char *why)
{
    if (why)
        fprintf(stderr, "ganomede-chat: %s\n\n", why);
    fputs(ADMIN_USAGE, stderr);
    return 2;
}

/* Options anywhere; the rest are the arguments. False on a bad option. */
static bool admin_parse(struct admin *a, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i];
        const char **value = strcmp(o, "--actor") == 0    ? &a->actor
                             : strcmp(o, "--reason") == 0 ? &a->reason
                             : strcmp(o, "--ttl") == 0    ? &a->ttl
                             : strcmp(o, "--user") == 0   ? &a->user
                             : strcmp(o, "--room") == 0   ? &a->room
                             : strcmp(o, "--since") == 0  ? &a->since
                             : strcmp(o, "--until") == 0  ? &a->until
                             : strcmp(o, "--format") == 0 ? &a->format
                                                          : NULL;
        if (value) {
            if (i + 1 >= argc)
                return false;
            *value = argv[++i];
        } else if (strcmp(o, "--json") == 0) {
            a->json = true;
        } else if (strcmp(o, "--erase") == 0) {
            a->erase = true;
        } else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            a->help = true;
        } else if (o[0] == '-' && o[1] == '-') {
            return false;
        } else if (a->nargs < ADMIN_MAX_ARGS) {
            a->args[a->nargs++] = o;
        } else {
            return false;
        }
    }
    if (!a->actor) {
        const char *who = getenv("USER");
        snprintf(a->actor_buf, sizeof a->actor_buf, "cli:%s", who && *who ? who : "unknown");
        a->actor = a->actor_buf;
    }
    return true;
}

/* "90s", "30m", "12h", "7d" or plain seconds into SECONDS (text). */
static bool admin_duration(const char *text, char *seconds, size_t size)
{
    char *end = NULL;
    long long n = strtoll(text, &end, 10);
    long long unit = !*end ? 1
                     : strcmp(end, "s") == 0 ? 1
                     : strcmp(end, "m") == 0 ? 60
                     : strcmp(end, "h") == 0 ? 3600
                     : strcmp(end, "d") == 0 ? 86400
                                             : 0;
    if (end == text || n <= 0 || unit == 0 || n > 3650LL * 86400 / unit)
        return false;
    snprintf(seconds, size, "%lld", n * unit);
    return true;
}

/* Prints O as JSON on stdout, then puts it. */
static void admin_print_json(struct json_object *o)
{
    puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

/* Runs CALL; false (told on stderr) when the database fails. */
static bool admin_exec(struct admin *a, struct db_call call, PGresult **res)
{
    if (db_exec(a->pool, call, false, res, "cli") == DB_OK)
        return true;
    fprintf(stderr, "ganomede-chat: the database did not answer (DATABASE_URL)\n");
    return false;
}

/* ------------------------------------------------------------- tokens */

static int admin_token_add(struct admin *a)
{
    char seconds[32];
    if (a->ttl && !admin_duration(a->ttl, seconds, sizeof seconds))
        return admin_usage("--ttl takes a duration: 90s, 30m, 12h or 7d");
    PGresult *res = NULL;
    if (!admin_exec(a, DB_CALL(SQL_ADMIN_TOKEN_ADD, a->args[2], a->ttl ? seconds : NULL,
                               a->actor, a->reason), &res))
        return 1;
    const char *token = PQgetvalue(res, 0, 0);
    const char *expires = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
    if (a->json) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "user", json_object_new_string(a->args[2]));
        json_object_object_add(o, "token", json_object_new_string(token));
        json_object_object_add(o, "expiresAt", expires ? json_object_new_string(expires) : NULL);
        admin_print_json(o);
    } else {
        puts(token);
        if (isatty(STDOUT_FILENO))
            fprintf(stderr, "a token for %s, %s%s\n", a->args[2], expires ? "expires " : "never expires",
                    expires ? expires : "");
    }
    PQclear(res);
    return 0;
}

static int admin_token_revoke(struct admin *a)
{
    char digest[DIGEST_PARAM_SIZE], line[1024];
    const char *token = a->args[2];
    /* "-": the token from stdin, so that it shows in no process list. */
    if (strcmp(token, "-") == 0) {
        if (!fgets(line, sizeof line, stdin))
            return admin_usage("token revoke -: no token on stdin");
        line[strcspn(line, "\r\n")] = '\0';
        token = line;
    }
    if (!digest_token_param(token, digest))
        return 1;
    PGresult *res = NULL;
    if (!admin_exec(a, DB_CALL(SQL_ADMIN_TOKEN_REVOKE, digest, a->actor, a->reason), &res))
        return 1;
    int found = PQntuples(res);
    const char *user = found ? PQgetvalue(res, 0, 0) : NULL;
    if (a->json) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "revoked", json_object_new_boolean(found));
        json_object_object_add(o, "user", user ? json_object_new_string(user) : NULL);
        admin_print_json(o);
    } else if (found) {
        printf("revoked a token of %s\n", user);
    } else {
        fprintf(stderr, "ganomede-chat: no such token\n");
    }
    PQclear(res);
    return found ? 0 : 1;
}

static int admin_token_list(struct admin *a)
{
    PGresult *res = NULL;
    if (!admin_exec(a, DB_CALL(SQL_ADMIN_TOKEN_LIST, a->args[2]), &res))
        return 1;
    struct json_object *list = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *t = json_object_new_object();
        json_object_object_add(t, "sha256", json_object_new_string(PQgetvalue(res, i, 0)));
        json_object_object_add(t, "expiresAt", PQgetisnull(res, i, 1)
                                                   ? NULL
                                                   : json_object_new_string(PQgetvalue(res, i, 1)));
        json_object_object_add(t, "valid", json_object_new_boolean(PQgetvalue(res, i, 2)[0] == 't'));
        json_object_array_add(list, t);
        if (!a->json)
            printf("sha256 %.16s...  %s%s%s\n", PQgetvalue(res, i, 0),
                   PQgetisnull(res, i, 1) ? "never expires" : "expires ",
                   PQgetisnull(res, i, 1) ? "" : PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2)[0] == 't' ? "" : "  (expired)");
    }
    if (a->json) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "user", json_object_new_string(a->args[2]));
        json_object_object_add(o, "tokens", list);
        admin_print_json(o);
    } else {
        if (!PQntuples(res))
            printf("%s has no table token\n", a->args[2]);
        json_object_put(list);
    }
    PQclear(res);
    return 0;
}

static int admin_token(struct admin *a)
{
    if (*a->cfg->redis_auth_addr) {
        fprintf(stderr, "ganomede-chat: player tokens are read from the authdb Redis "
                        "(REDIS_AUTH_PORT_6379_TCP_ADDR is set): the auth service makes and "
                        "revokes them; this command manages the auth_tokens table only\n");
        return 1;
    }
    const char *verb = a->args[1];
    if (verb && strcmp(verb, "add") == 0 && a->nargs == 3)
        return admin_token_add(a);
    if (verb && strcmp(verb, "revoke") == 0 && a->nargs == 3)
        return admin_token_revoke(a);
    if (verb && strcmp(verb, "list") == 0 && a->nargs == 3)
        return admin_token_list(a);
    return admin_usage("token add USER, token revoke TOKEN or token list USER");
}

/* ----------------------------------------------------------- policies */

static int admin_policy_show(struct admin *a)
{
    PGresult *res = NULL;
    if (!admin_exec(a, DB_CALL(SQL_ADMIN_POLICY_SHOW, a->args[2]), &res))
        return 1;
    bool banned = PQgetvalue(res, 0, 0)[0] == 't', muted = PQgetvalue(res, 0, 1)[0] == 't';
    bool disabled = PQgetvalue(res, 0, 2)[0] == 't';
    struct json_object *blocked = json_tokener_parse(PQgetvalue(res, 0, 3));
    if (a->json) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "user", json_object_new_string(a->args[2]));
        json_object_object_add(o, "banned", json_object_new_boolean(banned));
        json_object_object_add(o, "muted", json_object_new_boolean(muted));
        json_object_object_add(o, "chatDisabled", json_object_new_boolean(disabled));
        json_object_object_add(o, "blocked", blocked);
        json_object_object_add(o, "usermeta", json_tokener_parse(PQgetvalue(res, 0, 4)));
        admin_print_json(o);
    } else {
        printf("%s: banned %s, muted %s, chat %s, blocks: ", a->args[2], banned ? "yes" : "no",
               muted ? "yes" : "no", disabled ? "disabled" : "enabled");
        size_t n = json_object_array_length(blocked);
        for (size_t i = 0; i < n; i++)
            printf("%s%s", i ? ", " : "",
                   json_object_get_string(json_object_array_get_idx(blocked, i)));
        puts(n ? "" : "nobody");
        json_object_put(blocked);
    }
    PQclear(res);
    return 0;
}

/* A policy verb, the usermeta key it sets, and the value (NULL: removed). */
struct admin_policy {
    const char *verb;
    const char *key;
    const char *value;
};

static int admin_policy_set(struct admin *a)
{
    static const struct admin_policy POLICIES[] = {
        { "ban", "$banned", "" },   /* a time, as ganomede-users writes it */
        { "unban", "$banned", NULL },
        { "mute", "$muted", "true" },
        { "unmute", "$muted", NULL },
        { "disable-chat", "$chatdisabled", "true" },
        { "enable-chat", "$chatdisabled", NULL },
    };
    const struct admin_policy *p = NULL;
    for (size_t i = 0; i < sizeof POLICIES / sizeof POLICIES[0]; i++)
        if (strcmp(a->args[3], POLICIES[i].verb) == 0)
            p = &POLICIES[i];
    if (!p)
        return admin_usage("policy set USER ban|unban|mute|unmute|disable-chat|enable-chat");
    char now_ms[32];
    const char *value = p->value;
    if (value && !*value) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(now_ms, sizeof now_ms, "%lld",
                 (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        value = now_ms;
    }
    PGresult *res = NULL;
    if (!admin_exec(a, DB_CALL(SQL_ADMIN_POLICY_SET, a->args[2], p->key, value, a->actor,
                               a->reason, p->verb), &res))
        return 1;
    if (a->json) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "user", json_object_new_string(a->args[2]));
        json_object_object_add(o, "policy", json_object_new_string(p->verb));
        admin_print_json(o);
    } else {
        printf("%s: %s\n", a->args[2], p->verb);
    }
    PQclear(res);
    return 0;
}

static int admin_policy_block(struct admin *a, bool block)
{
    PGresult *res = NULL;
    if (!admin_exec(a, DB_CALL(SQL_ADMIN_BLOCK, a->args[2], a->args[3], block ? "t" : "f",
                               a->actor, a->reason), &res))
        return 1;
    const char *list = PQgetvalue(res, 0, 0);
    if (a->json) {
        struct json_object *o = json_object_new_object();
        struct json_object *names = json_object_new_array();
        char *copy = strdup(list), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
            json_object_array_add(names, json_object_new_string(t));
        free(copy);
        json_object_object_add(o, "user", json_object_new_string(a->args[2]));
        json_object_object_add(o, "blocked", names);
        admin_print_json(o);
    } else {
        printf("%s blocks: %s\n", a->args[2], *list ? list : "nobody");
    }
    PQclear(res);
    return 0;
}

static int admin_policy(struct admin *a)
{
    if (*a->cfg->redis_usermeta_addr) {
        fprintf(stderr, "ganomede-chat: policies are read from the usermeta Redis "
                        "(REDIS_USERMETA_PORT_6379_TCP_ADDR is set): change them there (ganomede "
                        "usermeta); this command manages the usermeta table only\n");
        return 1;
    }
    const char *verb = a->args[1];
    if (verb && strcmp(verb, "show") == 0 && a->nargs == 3)
        return admin_policy_show(a);
    if (verb && strcmp(verb, "set") == 0 && a->nargs == 4)
        return admin_policy_set(a);
    if (verb && strcmp(verb, "block") == 0 && a->nargs == 4)
        return admin_policy_block(a, true);
    if (verb && strcmp(verb, "unblock") == 0 && a->nargs == 4)
        return admin_policy_block(a, false);
    return admin_usage("policy show USER, policy set USER VERB, policy block|unblock USER OTHER");
}

/* -------------------------------------------------------------- rooms */

/* One message of a room, as a line. */
static void admin_print_message(struct json_object *m)
{
    struct json_object *from = NULL, *text = NULL;
    json_object_object_get_ex(m, "from", &from);
    json_object_object_get_ex(m, "message", &text);
    printf("  %s: %s\n", json_object_get_string(from), json_object_get_string(text));
}

static int admin_room_show(struct admin *a)
{
    struct json_object *room = NULL;
    enum store_result r = store_get_room(&a->st, a->args[2], NULL, true, NULL, &room, "cli");
    if (r != STORE_OK) {
        fprintf(stderr, "ganomede-chat: %s\n", r == STORE_NOT_FOUND ? "no such live room"
                                                                    : "the database did not answer");
        return 1;
    }
    if (a->json) {
        admin_print_json(room);
        return 0;
    }
    /* The stored messages are written out verbatim (store.c): read back. */
    struct json_object *parsed = json_tokener_parse(json_object_to_json_string(room));
    json_object_put(room);
    room = parsed;
    if (!room)
        return 1;
    struct json_object *type = NULL, *users = NULL, *messages = NULL;
    json_object_object_get_ex(room, "type", &type);
    json_object_object_get_ex(room, "users", &users);
    json_object_object_get_ex(room, "messages", &messages);
    printf("%s (type %s), users", a->args[2], json_object_get_string(type));
    for (size_t i = 0; i < json_object_array_length(users); i++)
        printf("%s %s", i ? "," : "", json_object_get_string(json_object_array_get_idx(users, i)));
    printf(", %zu messages, newest first:\n", json_object_array_length(messages));
    for (size_t i = 0; i < json_object_array_length(messages); i++)
        admin_print_message(json_object_array_get_idx(messages, i));
    json_object_put(room);
    return 0;
}

static int admin_room_list(struct admin *a)
{
    struct json_object *page = NULL;
    enum store_result r = unread_my_rooms(&a->st, a->user, 100, NULL, true, &page, "cli");
    if (r != STORE_OK) {
        fprintf(stderr, "ganomede-chat: the database did not answer\n");
        return 1;
    }
    if (a->json) {
        admin_print_json(page);
        return 0;
    }
    struct json_object *rooms = NULL;
    json_object_object_get_ex(page, "rooms", &rooms);
    for (size_t i = 0; i < json_object_array_length(rooms); i++) {
        struct json_object *one = json_object_array_get_idx(rooms, i), *id, *unread, *last;
        json_object_object_get_ex(one, "id", &id);
        json_object_object_get_ex(one, "unread", &unread);
        json_object_object_get_ex(one, "lastMessage", &last);
        printf("%s  (%d unread)\n", json_object_get_string(id), json_object_get_int(unread));
        if (last)
            admin_print_message(last);
    }
    if (!json_object_array_length(rooms))
        printf("%s is in no live room\n", a->user);
    json_object_put(page);
    return 0;
}

static int admin_room(struct admin *a)
{
    const char *verb = a->args[1];
    if (verb && strcmp(verb, "show") == 0 && a->nargs == 3)
        return admin_room_show(a);
    if (verb && strcmp(verb, "list") == 0 && a->nargs == 2 && a->user)
        return admin_room_list(a);
    return admin_usage("room show ROOM_ID or room list --user USER");
}


/* --------------------------------------------------------- moderation */

/* The moderation commands, like the HTTP routes, need a reason. */
static bool admin_reason(struct admin *a)
{
    if (a->reason && *a->reason)
        return true;
    admin_usage("the moderation commands need --reason TEXT (it goes to the audit log)");
    return false;
}

/* STORE result R of a moderation call: 0, or 1 told on stderr. */
static int admin_result(enum store_result r, const char *what)
{
    if (r == STORE_OK)
        return 0;
    fprintf(stderr, "ganomede-chat: %s\n", r == STORE_NOT_FOUND ? what
                                           : r == STORE_HELD    ? "a legal hold covers it: lift it first"
                                                                : "the database did not answer");
    return 1;
}

static int admin_print_result(struct admin *a, struct json_object *o, const char *plain)
{
    if (a->json)
        admin_print_json(o);
    else {
        puts(plain);
        json_object_put(o);
    }
    return 0;
}

static int admin_redact(struct admin *a)
{
    const char *verb = a->args[1];
    if (!verb || a->nargs != 3 || (strcmp(verb, "message") != 0 && strcmp(verb, "user") != 0))
        return admin_usage("redact message ID or redact user NAME");
    if (!admin_reason(a))
        return 2;
    if (strcmp(verb, "message") == 0) {
        char *end = NULL;
        long long id = strtoll(a->args[2], &end, 10);
        if (*end || id <= 0)
            return admin_usage("redact message takes a message id");
        struct json_object *result = NULL;
        int rc = admin_result(record_redact_message(&a->st, id, a->actor, a->reason, &result, "cli"),
                              "no such message on record");
        return rc ? rc : admin_print_result(a, result, "redacted");
    }
    char since[64];
    if (a->since && !text_parse_time(a->since, since, sizeof since))
        return admin_usage("--since takes an ISO 8601 time or a date");
    long count = 0;
    int rc = admin_result(record_redact_user(&a->st, a->args[2], a->since ? since : NULL, a->erase,
                                             a->actor, a->reason, 1000, &count, "cli"),
                          "nothing to redact");
    if (rc)
        return rc;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "user", json_object_new_string(a->args[2]));
    json_object_object_add(o, "redacted", json_object_new_int64(count));
    char plain[160];
    snprintf(plain, sizeof plain, "%ld message(s) of %s redacted", count, a->args[2]);
    return admin_print_result(a, o, plain);
}

static int admin_hold_list(struct admin *a)
{
    struct json_object *o = NULL, *holds = NULL;
    int rc = admin_result(record_holds(&a->st, false, &o, "cli"), "");
    if (rc)
        return rc;
    if (a->json) {
        admin_print_json(o);
        return 0;
    }
    json_object_object_get_ex(o, "holds", &holds);
    for (size_t i = 0; i < json_object_array_length(holds); i++) {
        struct json_object *h = json_object_array_get_idx(holds, i), *id, *kind, *subject, *reason;
        json_object_object_get_ex(h, "id", &id);
        json_object_object_get_ex(h, "kind", &kind);
        json_object_object_get_ex(h, "subject", &subject);
        json_object_object_get_ex(h, "reason", &reason);
        printf("#%s on %s %s: %s\n", json_object_get_string(id), json_object_get_string(kind),
               json_object_get_string(subject), json_object_get_string(reason));
    }
    if (!json_object_array_length(holds))
        puts("no active hold");
    json_object_put(o);
    return 0;
}

static int admin_hold(struct admin *a)
{
    const char *verb = a->args[1];
    struct json_object *o = NULL;
    if (verb && strcmp(verb, "list") == 0 && a->nargs == 2)
        return admin_hold_list(a);
    if (verb && strcmp(verb, "set") == 0 && a->nargs == 2 && (!a->user != !a->room)) {
        if (!admin_reason(a))
            return 2;
        int rc = admin_result(record_hold_set(&a->st, a->user ? "user" : "room",
                                              a->user ? a->user : a->room, a->reason, a->actor, &o,
                                              "cli"), "");
        return rc ? rc : admin_print_result(a, o, "hold placed");
    }
    if (verb && strcmp(verb, "lift") == 0 && a->nargs == 3) {
        if (!admin_reason(a))
            return 2;
        int rc = admin_result(record_hold_lift(&a->st, strtoll(a->args[2], NULL, 10), a->actor,
                                               a->reason, &o, "cli"), "no such hold");
        return rc ? rc : admin_print_result(a, o, "hold lifted");
    }
    return admin_usage("hold set --user NAME|--room ID, hold lift ID or hold list");
}

static int admin_export(struct admin *a)
{
    bool csv = a->format && strcmp(a->format, "csv") == 0;
    if (a->nargs != 1 || (a->format && !csv && strcmp(a->format, "ndjson") != 0))
        return admin_usage("export [--user NAME] [--room ID] [--since TIME] [--until TIME] "
                           "[--format ndjson|csv] --reason TEXT");
    if (!admin_reason(a))
        return 2;
    char since[64], until[64];
    if ((a->since && !text_parse_time(a->since, since, sizeof since)) ||
        (a->until && !text_parse_time(a->until, until, sizeof until)))
        return admin_usage("--since and --until take an ISO 8601 time or a date");
    struct record_filter f = { a->user, a->room, a->since ? since : NULL, a->until ? until : NULL };
    /* On record before the first message leaves, as the HTTP export. */
    char *details = record_export_details(a->user, a->room, a->since, a->until, csv);
    enum store_result r = details ? record_audit_add(&a->st, a->actor, "export",
                                                     a->user ? a->user : a->room, a->reason,
                                                     details, "cli")
                                  : STORE_ERROR;
    free(details);
    if (admin_result(r, ""))
        return 1;
    struct record_cursor *c = record_cursor_open(&a->st, &f, "cli");
    if (!c)
        return 1;
    bool tty = isatty(STDERR_FILENO), failed = false, written = true;
    long n = 0;
    struct buf line;
    buf_init(&line, (size_t)1 << 30);
    if (csv)
        fputs(RECORD_CSV_HEADER, stdout);
    for (struct json_object *m; written && (m = record_cursor_next(c, &failed)) != NULL;
         json_object_put(m)) {
        line.len = 0;
        written = record_export_line(&line, m, csv) &&
                  fwrite(line.data, 1, line.len, stdout) == line.len;
        if (tty && ++n % 1000 == 0)
            fprintf(stderr, "\rexported %ld messages...", n);
    }
    buf_free(&line);
    failed = failed || !written;
    record_cursor_close(c);
    if (tty)
        fprintf(stderr, "\rexported %ld messages%s\n", n, failed ? ", then the database failed" : ".  ");
    return failed ? 1 : 0;
}

/* ---------------------------------------------------------------- main */

int admin_main(const struct config *cfg, int argc, char **argv)
{
    struct admin a = { .cfg = cfg };
    log_to_stderr();   /* stdout is the answer */
    if (!admin_parse(&a, argc, argv))
        return admin_usage("unknown option, or an option without its value");
    if (a.help) {
        fputs(ADMIN_USAGE, stdout);
        return 0;
    }
    struct db_settings ds = { .url = cfg->database_url, .size = 1,
                              .wait_ms = cfg->db_pool_wait_ms,
                              .connect_timeout_seconds = cfg->db_connect_timeout_seconds,
                              .statement_timeout_ms = cfg->db_statement_timeout_ms,
                              .application_name = CHAT_NAME " cli",
                              .transaction_pooling = cfg->transaction_pooling };
    a.pool = db_pool_new(&ds);
    if (!a.pool)
        return 1;
    a.st = (struct store){ .pool = a.pool, .max_messages = cfg->max_messages,
                           .room_ttl_seconds = cfg->room_ttl_seconds };
    const char *cmd = a.args[0];
    int rc = strcmp(cmd, "token") == 0    ? admin_token(&a)
             : strcmp(cmd, "policy") == 0 ? admin_policy(&a)
             : strcmp(cmd, "redact") == 0 ? admin_redact(&a)
             : strcmp(cmd, "hold") == 0   ? admin_hold(&a)
             : strcmp(cmd, "export") == 0 ? admin_export(&a)
                                          : admin_room(&a);
    db_pool_free(a.pool);
    return rc;
}
