/* libFuzzer target: the values of the moderation routes' query strings
 * (times, ids, cursors, limits), as the handlers parse them, and the
 * Last-Event-ID of GET events. An accepted time must come out as a decimal
 * number of seconds that PostgreSQL's double precision reads whole; an
 * accepted number must be in range; an accepted event id must be written
 * back as the very same text. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "live_pos.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "-"? digits ("." digits)?, nothing else. */
static bool is_decimal(const char *s)
{
    if (*s == '-')
        s++;
    size_t whole = strspn(s, "0123456789");
    if (whole == 0)
        return false;
    s += whole;
    if (*s == '.') {
        size_t frac = strspn(s + 1, "0123456789");
        if (frac == 0)
            return false;
        s += 1 + frac;
    }
    return *s == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char out[64];
    if (text_parse_time(text, out, sizeof out) && !is_decimal(out))
        abort();
    long long v = 0;
    if (text_parse_positive(text, 1000, &v) && (v < 1 || v > 1000))
        abort();
    struct live_pos pos;
    char back[48];
    if (live_pos_parse(text, &pos)) {
        live_pos_format(pos, back, sizeof back);
        /* Leading zeros are the one thing written back otherwise. */
        if (text[0] != '0' && strchr(text, '-')[1] != '0' && strcmp(back, text) != 0)
            abort();
    }
    free(text);
    return 0;
}
