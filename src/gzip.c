/* gzip: zlib deflate with a gzip header. */
#include "gzip.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

static bool gzip_key_ok = true;

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

/* Each thread keeps one deflate state and resets it per body: setting one
 * up (deflateInit2 allocates and clears about 256 kB) cost three times the
 * compression of a 10 kB room itself. Freed when the thread ends. */
static pthread_key_t gzip_key;
static pthread_once_t gzip_key_once = PTHREAD_ONCE_INIT;

static void gzip_stream_free(void *zs)
{
    deflateEnd(zs);
    free(zs);
}

static void gzip_key_init(void)
{
    if (pthread_key_create(&gzip_key, gzip_stream_free) != 0)
        gzip_key_ok = false;
}

/* This thread's deflate state, reset; NULL when it cannot be had. */
static z_stream *gzip_thread_stream(void)
{
    pthread_once(&gzip_key_once, gzip_key_init);
    if (!gzip_key_ok)
        return NULL;
    z_stream *zs = pthread_getspecific(gzip_key);
    if (zs)
        return deflateReset(zs) == Z_OK ? zs : NULL;
    zs = calloc(1, sizeof *zs);
    /* windowBits 15 + 16: write a gzip header, not a zlib one. */
    if (!zs || deflateInit2(zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                            Z_DEFAULT_STRATEGY) != Z_OK) {
        free(zs);
        return NULL;
    }
    if (pthread_setspecific(gzip_key, zs) != 0) {
        gzip_stream_free(zs);
        return NULL;
    }
    return zs;
}

char *gzip_compress(const char *data, size_t len, size_t *out_len)
{
    z_stream *zs = gzip_thread_stream();
    if (!zs)
        return NULL;
    uLong cap = deflateBound(zs, (uLong)len);
    char *out = malloc(cap);
    if (!out)
        return NULL;
    zs->next_in = (Bytef *)(uintptr_t)data;
    zs->avail_in = (uInt)len;
    zs->next_out = (Bytef *)out;
    zs->avail_out = (uInt)cap;
    int rc = deflate(zs, Z_FINISH);
    *out_len = zs->total_out;
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

char *gzip_inflate(const char *gz, size_t len, size_t plain_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return NULL;
    char *out = malloc(plain_len + 1);
    if (out) {
        zs.next_in = (Bytef *)(uintptr_t)gz;
        zs.avail_in = (uInt)len;
        zs.next_out = (Bytef *)out;
        zs.avail_out = (uInt)plain_len + 1;
        if (inflate(&zs, Z_FINISH) != Z_STREAM_END || zs.total_out != plain_len) {
            free(out);
            out = NULL;
        } else {
            out[plain_len] = '\0';
        }
    }
    inflateEnd(&zs);
    return out;
}
