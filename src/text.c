/* text: UTF-8 validation, percent-decoding, constant-time comparison. */
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int text_hex_value(char c);

bool text_is_clean_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    while (p < end) {
        unsigned char c = *p;
        if (c == 0)
            return false;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n;
        unsigned int cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

static int text_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *text_percent_decode(const char *in, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (in[i] == '%' && i + 2 < len &&
            (hi = text_hex_value(in[i + 1])) >= 0 && (lo = text_hex_value(in[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

bool text_secret_equal(const char *given, const char *secret)
{
    size_t slen = strlen(secret);
    size_t glen = strlen(given);
    /* Walk the secret's length whatever was given, so the time says nothing
     * about the matching prefix; index the given string modulo its length
     * to stay in bounds. */
    unsigned char diff = (unsigned char)(slen != glen);
    for (size_t i = 0; i < slen; i++) {
        unsigned char g = glen ? (unsigned char)given[i % glen] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)secret[i]);
    }
    return diff == 0 && slen > 0;
}

bool text_secret_prefix(const char *given, const char *secret)
{
    unsigned char diff = 0;
    size_t slen = strlen(secret);
    for (size_t i = 0; i < slen; i++)
        diff |= (unsigned char)((unsigned char)given[i] ^ (unsigned char)secret[i]);
    return diff == 0 && slen > 0;
}

bool text_is_json_number(const char *s)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return false;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0' && isfinite(strtod(s, NULL));
}

char *text_first_line(const char *text, char *out, size_t outlen)
{
    if (outlen == 0)
        return out;
    snprintf(out, outlen, "%s", text ? text : "");
    out[strcspn(out, "\r\n")] = '\0';
    return out;
}
