/* embedded: the SQL files compiled into the binary (see scripts/embed.sh). */
#ifndef GANOMEDE_EMBEDDED_H
#define GANOMEDE_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *path; /* relative to the project root, e.g. "sql/get_room.sql" */
    const char *text;
};

/* Terminated by an entry whose path is NULL; sorted by path within each folder. */
extern const struct embedded_file EMBEDDED_FILES[];

/* The text of the embedded file at PATH, or NULL. Borrowed, static. */
const char *embedded_find(const char *path);

#endif
