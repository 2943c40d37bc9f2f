/* text: UTF-8 validation, percent-decoding, constant-time comparison,
 * numbers and times from query strings. */
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int text_hex_value(char c);
static bool text_digits(const char *s, int digits, int *out);

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

char *text_joined_lines(const char *text, char *out, size_t outlen)
{
    if (outlen == 0)
        return out;
    size_t o = 0;
    const char *p = text ? text : "";
    while (*p) {
        size_t n = strcspn(p, "\r\n");
        if (n > 0) {
            if (o > 0 && o + 2 < outlen) {
                memcpy(out + o, "; ", 2);
                o += 2;
            }
            size_t room = outlen - 1 - o;
            size_t take = n < room ? n : room;
            memcpy(out + o, p, take);
            o += take;
        }
        p += n;
        p += strspn(p, "\r\n");
    }
    out[o] = '\0';
    return out;
}

bool text_parse_positive(const char *s, long long max, long long *out)
{
    if (!s || !*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
        return false;
    long long v = strtoll(s, NULL, 10);
    if (v < 1 || v > max)
        return false;
    *out = v;
    return true;
}

/* DIGITS decimal digits of S into *OUT; false unless they are all digits. */
static bool text_digits(const char *s, int digits, int *out)
{
    int v = 0;
    for (int i = 0; i < digits; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Days in month MO (1-12) of year Y, by the Gregorian rules. */
static int text_month_days(int y, int mo)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return mo == 2 && leap ? 29 : days[mo - 1];
}

/* EPOCH seconds plus the decimal FRACTION (".ddd" or "") as text in OUT.
 * Before 1970 the whole part is negative and the fraction positive, so
 * -1 + .25 is written -0.75, not -1.25. */
static void text_write_seconds(long long epoch, const char *fraction, char *out, size_t outlen)
{
    if (epoch >= 0 || !*fraction || strspn(fraction + 1, "0") == strlen(fraction + 1)) {
        snprintf(out, outlen, "%lld%s", epoch, fraction);
        return;
    }
    /* 1 - fraction, digit by digit from the right: 10^n - digits. */
    char rest[16];
    size_t n = strlen(fraction + 1);
    int borrow = 0;
    for (size_t i = n; i-- > 0;) {
        int d = 0 - (fraction[1 + i] - '0') - borrow;
        borrow = d < 0;
        rest[i] = (char)('0' + (d < 0 ? d + 10 : d));
    }
    rest[n] = '\0';
    snprintf(out, outlen, "-%lld.%s", -(epoch + 1), rest);
}

bool text_parse_time(const char *s, char *out, size_t outlen)
{
    struct tm tm = { 0 };
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
    if (!s || !text_digits(s, 4, &y) || s[4] != '-' || !text_digits(s + 5, 2, &mo) ||
        s[7] != '-' || !text_digits(s + 8, 2, &d))
        return false;
    const char *p = s + 10;
    char fraction[16] = "";
    if (*p == 'T' || *p == 't') {
        if (!text_digits(p + 1, 2, &h) || p[3] != ':' || !text_digits(p + 4, 2, &mi) ||
            p[6] != ':' || !text_digits(p + 7, 2, &sec))
            return false;
        p += 9;
        if (*p == '.') {
            size_t n = strspn(p + 1, "0123456789");
            if (n == 0 || n > 9)
                return false;
            snprintf(fraction, sizeof fraction, ".%.*s", (int)n, p + 1);
            p += 1 + n;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p == '+' ? 1 : -1;
            if (!text_digits(p + 1, 2, &oh) || p[3] != ':' || !text_digits(p + 4, 2, &om))
                return false;
            p += 6;
        } else {
            return false;
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > text_month_days(y, mo) || h > 23 || mi > 59 ||
        sec > 60 || oh > 23 || om > 59)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    long long epoch = (long long)timegm(&tm) - sign * (oh * 3600LL + om * 60LL);
    text_write_seconds(epoch, fraction, out, outlen);
    return true;
}
