/* buf: one growable byte buffer with a hard maximum, for request bodies
 * and anything else whose size a peer decides. */
#ifndef GANOMEDE_BUF_H
#define GANOMEDE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char  *data;  /* always NUL-terminated when non-NULL; owned */
    size_t len;
    size_t cap;
    size_t max;   /* appends that would pass this fail */
};

void buf_init(struct buf *b, size_t max);

/* Appends LEN bytes. Returns false (buffer unchanged) when the result would
 * exceed b->max or memory runs out. */
__attribute__((warn_unused_result))
bool buf_append(struct buf *b, const void *data, size_t len);

/* Frees the data; the buffer can be reused after buf_init. */
void buf_free(struct buf *b);

#endif
