/* embedded: the migrations compiled into the binary (scripts/embed.sh
 * generates the table; the named queries of sql/ are sql_statements.h). */
#ifndef GANOMEDE_EMBEDDED_H
#define GANOMEDE_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *path; /* relative to the project root, e.g. "sql/get_room.sql" */
    const char *text;
};

/* Terminated by an entry whose path is NULL; sorted by path within each folder. */
extern const struct embedded_file EMBEDDED_FILES[];

#endif
