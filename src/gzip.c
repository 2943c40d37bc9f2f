/* gzip: zlib deflate with a gzip header. */
#include "gzip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

bool gzip_accepted(const char *accept_encoding)
{
    if (!accept_encoding)
        return false;
    const char *p = accept_encoding;
    while ((p = strcasestr(p, "gzip")) != NULL) {
        const char *after = p + 4;
        bool token_start = p == accept_encoding || p[-1] == ' ' || p[-1] == ',';
        bool token_end = *after == '\0' || *after == ',' || *after == ';' || *after == ' ';
        if (token_start && token_end) {
            const char *q = strchr(after, ';');
            const char *comma = strchr(after, ',');
            if (!q || (comma && comma < q))
                return true;
            q++;
            while (*q == ' ')
                q++;
            /* "gzip;q=0" refuses gzip explicitly. */
            if (strncasecmp(q, "q=", 2) != 0)
                return true;
            return strtod(q + 2, NULL) > 0;
        }
        p = after;
    }
    return false;
}

char *gzip_compress(const char *data, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16: write a gzip header, not a zlib one. */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&zs, (uLong)len);
    char *out = malloc(cap);
    if (!out) {
        deflateEnd(&zs);
        return NULL;
    }
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}
