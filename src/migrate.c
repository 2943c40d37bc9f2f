/* migrate: versioned plain-SQL migrations, the layout golang-migrate reads
 * (NNNN_name.up.sql / .down.sql). Two servers migrating at once are safe:
 * the advisory lock serializes them and the second finds nothing to do.
 * The bookkeeping statements below are fixed text with no client input. */
#include "migrate.h"

#include "embedded.h"
#include "log.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arbitrary, constant: "ganomede-chat migrations". */
#define MIGRATE_LOCK_KEY "7462630401"

static long migrate_version_of(const char *path);
static bool migrate_ok(PGconn *pg, PGresult *res, const char *what);
static bool migrate_exec(PGconn *pg, const char *sql, const char *what);
static bool migrate_is_applied(PGconn *pg, long version, bool *applied);
static bool migrate_apply(PGconn *pg, const struct embedded_file *f, long version);

/* "migrations/0002_x.up.sql" -> 2; 0 when the path is not an up migration. */
static long migrate_version_of(const char *path)
{
    static const char DIR[] = "migrations/";
    size_t len = strlen(path);
    if (strncmp(path, DIR, sizeof DIR - 1) != 0 || len < 7 ||
        strcmp(path + len - 7, ".up.sql") != 0)
        return 0;
    return strtol(path + sizeof DIR - 1, NULL, 10);
}

static bool migrate_ok(PGconn *pg, PGresult *res, const char *what)
{
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        char msg[512];
        log_error("migration step failed (%s): %s", what,
                  text_first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(pg), msg,
                                  sizeof msg));
    }
    return ok;
}

static bool migrate_exec(PGconn *pg, const char *sql, const char *what)
{
    PGresult *res = PQexec(pg, sql);
    bool ok = migrate_ok(pg, res, what);
    PQclear(res);
    return ok;
}

static bool migrate_is_applied(PGconn *pg, long version, bool *applied)
{
    char v[24];
    snprintf(v, sizeof v, "%ld", version);
    const char *params[] = { v };
    PGresult *res = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
                                 NULL, params, NULL, NULL, 0);
    bool ok = migrate_ok(pg, res, "read schema_migrations");
    *applied = ok && PQntuples(res) == 1;
    PQclear(res);
    return ok;
}

static bool migrate_apply(PGconn *pg, const struct embedded_file *f, long version)
{
    char v[24];
    snprintf(v, sizeof v, "%ld", version);
    const char *params[] = { v, f->path };
    if (!migrate_exec(pg, "BEGIN", "begin"))
        return false;
    bool ok = migrate_exec(pg, f->text, f->path);
    if (ok) {
        PGresult *res = PQexecParams(
            pg, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, NULL, params,
            NULL, NULL, 0);
        ok = migrate_ok(pg, res, "record migration");
        PQclear(res);
    }
    ok = ok && migrate_exec(pg, "COMMIT", "commit");
    if (!ok) {
        PGresult *res = PQexec(pg, "ROLLBACK");
        PQclear(res);
        return false;
    }
    log_info("applied migration %s", f->path);
    return true;
}

bool migrate_up(PGconn *pg)
{
    if (!migrate_exec(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "lock"))
        return false;
    bool ok = migrate_exec(pg,
                           "CREATE TABLE IF NOT EXISTS schema_migrations ("
                           " version bigint PRIMARY KEY,"
                           " name text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now())",
                           "create schema_migrations");
    /* Embedded files are sorted by path, so versions come in order. */
    for (const struct embedded_file *f = EMBEDDED_FILES; ok && f->path; f++) {
        long version = migrate_version_of(f->path);
        bool applied = false;
        if (version <= 0)
            continue;
        ok = migrate_is_applied(pg, version, &applied) && (applied || migrate_apply(pg, f, version));
    }
    if (!migrate_exec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "unlock"))
        ok = false;
    return ok;
}

long migrate_latest_version(void)
{
    long latest = 0;
    for (const struct embedded_file *f = EMBEDDED_FILES; f->path; f++) {
        long v = migrate_version_of(f->path);
        if (v > latest)
            latest = v;
    }
    return latest;
}

long migrate_current_version(PGconn *pg)
{
    PGresult *res = PQexec(pg, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!migrate_ok(pg, res, "look for schema_migrations")) {
        PQclear(res);
        return -1;
    }
    bool exists = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!exists)
        return 0;
    res = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    long v = -1;
    if (migrate_ok(pg, res, "read schema version") && PQntuples(res) == 1)
        v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}
