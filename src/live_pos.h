/* live_pos: a position in the stream of messages, (transaction id,
 * message id): every message at or below it has been seen (live.h). Its
 * text, "xid-id", is the SSE event id a client sends back as
 * Last-Event-ID. */
#ifndef GANOMEDE_LIVE_POS_H
#define GANOMEDE_LIVE_POS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct live_pos {
    uint64_t xid;
    int64_t id;
};

/* <0, 0, >0 as A is before, at, after B. */
int live_pos_cmp(struct live_pos a, struct live_pos b);

/* "xid-id" into BUF (48 bytes are always enough). */
void live_pos_format(struct live_pos pos, char *buf, size_t size);

/* Parses what live_pos_format writes: two decimal numbers joined by '-',
 * nothing else (no sign, no space); false otherwise. */
bool live_pos_parse(const char *text, struct live_pos *pos);

/* A transaction id as PostgreSQL writes an xid8 (decimal). */
bool live_xid_parse(const char *text, uint64_t *xid);

#endif
