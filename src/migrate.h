/* migrate: applies the numbered migrations of migrations/ (compiled in),
 * each in its own transaction, under an advisory lock, recorded in
 * schema_migrations; and tells whether a database is current. */
#ifndef GANOMEDE_MIGRATE_H
#define GANOMEDE_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>

/* Applies every pending migration on PG. Returns false (logged) on any
 * failure; the failing migration is rolled back whole. */
__attribute__((warn_unused_result))
bool migrate_up(PGconn *pg);

/* The newest migration version compiled into this binary. */
long migrate_latest_version(void);

/* The newest version applied on PG (0 for an empty database), or -1 when
 * it cannot be read (logged). */
long migrate_current_version(PGconn *pg);

#endif
