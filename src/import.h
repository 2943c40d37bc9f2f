/* import: `ganomede-chat import-redis redis://host:port[/db]` copies an
 * existing deployment's rooms from the original's chat Redis, in its own
 * format (room-manager and redis-capped-list of the Node service):
 *   <prefix>:<roomId>           JSON {id, type, users}, with a TTL
 *   <prefix>:<roomId>:messages  a list, newest first, of the stored JSON
 * where <prefix> is ROUTE_PREFIX, or --prefix (the original named its keys
 * after its package's API name, "chat/v1", which is also ROUTE_PREFIX's
 * default: a deployment that changed ROUTE_PREFIX kept "chat/v1" keys). Keys are walked with
 * SCAN (never KEYS); rooms are written in batches, each batch one
 * transaction (sql/import_rooms.sql), so an interrupted run leaves whole
 * rooms only, and a room already here is left alone: running it again
 * imports what is missing and changes nothing else. Message lists without
 * their room key (the original never expired them) are reported, not
 * imported. docs/migrating.md tells the whole move. */
#ifndef GANOMEDE_IMPORT_H
#define GANOMEDE_IMPORT_H

#include "config.h"

/* Runs the command with its arguments (ARGV after "import-redis": the URL;
 * --dry-run, which reads and checks everything and writes nothing;
 * --prefix P, the keys' prefix when it is not ROUTE_PREFIX).
 * Prints the report on stdout, progress on stderr when it is a terminal.
 * Returns the exit code: 0 done, 1 Redis or PostgreSQL failed, 2 usage. */
int import_redis_main(const struct config *cfg, int argc, char **argv);

#endif
