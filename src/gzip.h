/* gzip: compresses response bodies for clients that accept it. */
#ifndef GANOMEDE_GZIP_H
#define GANOMEDE_GZIP_H

#include <stdbool.h>
#include <stddef.h>

/* Bodies smaller than this are sent as they are (the original's threshold). */
#define GZIP_MIN_BYTES 1024

/* True when an Accept-Encoding header value lists gzip (not with q=0). */
bool gzip_accepted(const char *accept_encoding);

/* Compresses LEN bytes of DATA into a gzip member. Returns the compressed
 * bytes (caller frees) and their length in *OUT_LEN, or NULL on failure. */
char *gzip_compress(const char *data, size_t len, size_t *out_len);

/* The PLAIN_LEN bytes that the gzip member GZ (LEN bytes) holds, plus a
 * terminating NUL (caller frees); NULL when out of memory or when GZ does
 * not inflate to exactly PLAIN_LEN bytes. */
char *gzip_inflate(const char *gz, size_t len, size_t plain_len);

#endif
