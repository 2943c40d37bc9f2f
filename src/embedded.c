/* embedded: lookup in the table generated from sql/ and migrations/. */
#include "embedded.h"

#include <string.h>

const char *embedded_find(const char *path)
{
    for (const struct embedded_file *f = EMBEDDED_FILES; f->path; f++)
        if (strcmp(f->path, path) == 0)
            return f->text;
    return NULL;
}
