/* framing: the request-head checks of RFC 9112, in the order a reader of
 * the request would meet them. */
#include "framing.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The refusal messages quote the limits. */
_Static_assert(FRAMING_MAX_TARGET_BYTES == 8192, "update the 414 message");
_Static_assert(FRAMING_MAX_HEAD_BYTES == 16384, "update the 431 message");

static void framing_trim(const char *value, const char **start, size_t *len);
static void framing_refuse(struct framing_refusal *out, unsigned status, const char *code,
                           const char *message);

/* VALUE without the spaces and tabs around it (optional whitespace). */
static void framing_trim(const char *value, const char **start, size_t *len)
{
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    *start = value;
    *len = n;
}

void framing_init(struct framing *f)
{
    memset(f, 0, sizeof *f);
}

void framing_header(struct framing *f, const char *name, const char *value)
{
    const char *v;
    size_t len;
    framing_trim(value ? value : "", &v, &len);
    if (strcasecmp(name, "Content-Length") == 0) {
        /* Identical repeats are one length (RFC 9110 8.6); differing
         * ones leave the body's end unknown. Values longer than the
         * buffer are compared by their first bytes: libmicrohttpd refuses
         * such numbers itself. */
        char cut[sizeof f->first_length];
        snprintf(cut, sizeof cut, "%.*s", (int)len, v);
        if (f->content_lengths++ == 0)
            memcpy(f->first_length, cut, sizeof cut);
        else if (strcmp(cut, f->first_length) != 0)
            f->lengths_differ = true;
    } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
        /* Only "chunked", alone: this server decodes no other coding. */
        f->transfer_encodings++;
        if (len != 7 || strncasecmp(v, "chunked", 7) != 0)
            f->coding_not_chunked = true;
    }
}

static void framing_refuse(struct framing_refusal *out, unsigned status, const char *code,
                           const char *message)
{
    out->status = status;
    out->code = code;
    out->message = message;
}

bool framing_check(const struct framing *f, bool target_has_nul, size_t target_bytes,
                   size_t head_bytes, struct framing_refusal *out)
{
    if (target_has_nul)
        framing_refuse(out, 400, "BadRequest", "the request line holds a NUL byte");
    else if (target_bytes > FRAMING_MAX_TARGET_BYTES)
        framing_refuse(out, 414, "URITooLong",
                       "the request target is longer than 8192 bytes");
    else if (head_bytes > FRAMING_MAX_HEAD_BYTES)
        framing_refuse(out, 431, "RequestHeaderFieldsTooLarge",
                       "the request line and header fields are longer than 16384 bytes");
    else if (f->transfer_encodings > 0 && f->content_lengths > 0)
        framing_refuse(out, 400, "BadRequest",
                       "a request may not have both Content-Length and Transfer-Encoding");
    else if (f->transfer_encodings > 1 || f->coding_not_chunked)
        framing_refuse(out, 400, "BadRequest",
                       "Transfer-Encoding must be chunked, alone: no other coding is supported");
    else if (f->lengths_differ)
        framing_refuse(out, 400, "BadRequest", "Content-Length fields differ");
    else
        return true;
    return false;
}
