/* live_pos: positions in the message stream, as text and compared. */
#include "live_pos.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int live_pos_cmp(struct live_pos a, struct live_pos b)
{
    if (a.xid != b.xid)
        return a.xid < b.xid ? -1 : 1;
    if (a.id != b.id)
        return a.id < b.id ? -1 : 1;
    return 0;
}

void live_pos_format(struct live_pos pos, char *buf, size_t size)
{
    snprintf(buf, size, "%" PRIu64 "-%" PRId64, pos.xid, pos.id);
}

bool live_pos_parse(const char *text, struct live_pos *pos)
{
    if (!text || *text < '0' || *text > '9')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long xid = strtoull(text, &end, 10);
    if (errno || *end != '-' || end[1] < '0' || end[1] > '9')
        return false;
    const char *rest = end + 1;
    long long id = strtoll(rest, &end, 10);
    if (errno || *end || id < 0)
        return false;
    pos->xid = (uint64_t)xid;
    pos->id = (int64_t)id;
    return true;
}

bool live_xid_parse(const char *text, uint64_t *xid)
{
    if (!text || *text < '0' || *text > '9')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end)
        return false;
    *xid = (uint64_t)v;
    return true;
}
