/* framing: decides, from a request's head alone, whether the server may
 * read the request at all (RFC 9112 sections 3, 6.1 and 6.3). A request
 * whose body length is ambiguous (Content-Length and Transfer-Encoding
 * together, Content-Length values that differ, a transfer coding other
 * than chunked) is refused and its connection closed, so that no proxy in
 * front and this server can read a different request out of the same bytes
 * (request smuggling). So is a request line holding a NUL byte, a request
 * target longer than FRAMING_MAX_TARGET_BYTES and a head longer than
 * FRAMING_MAX_HEAD_BYTES. Pure: no I/O. */
#ifndef GANOMEDE_FRAMING_H
#define GANOMEDE_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 9112 asks for at least 8000 bytes of request target. */
#define FRAMING_MAX_TARGET_BYTES 8192
/* Request line and header fields together, as Node.js (the original's
 * runtime) allows by default. */
#define FRAMING_MAX_HEAD_BYTES 16384

/* What the header fields say about the body's length. */
struct framing {
    unsigned content_lengths;      /* Content-Length fields seen */
    bool lengths_differ;           /* two of them disagree */
    unsigned transfer_encodings;   /* Transfer-Encoding fields seen */
    bool coding_not_chunked;       /* one is anything but "chunked" */
    char first_length[24];         /* the first Content-Length, trimmed, cut */
};

/* The answer for a request that must not be read: status, error code and
 * message (static strings). */
struct framing_refusal {
    unsigned status;
    const char *code;
    const char *message;
};

void framing_init(struct framing *f);

/* Takes one header field (NAME, VALUE as received; names compare without
 * case). */
void framing_header(struct framing *f, const char *name, const char *value);

/* True when the request may be read. Else false with the answer in OUT.
 * TARGET_HAS_NUL: a NUL byte was found in the request target;
 * TARGET_BYTES: its length; HEAD_BYTES: request line and header fields. */
__attribute__((warn_unused_result))
bool framing_check(const struct framing *f, bool target_has_nul, size_t target_bytes,
                   size_t head_bytes, struct framing_refusal *out);

#endif
