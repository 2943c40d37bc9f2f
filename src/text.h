/* text: byte-level checks and decoding of untrusted strings. */
#ifndef GANOMEDE_TEXT_H
#define GANOMEDE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True when the LEN bytes at S are well-formed UTF-8 (no overlongs, no
 * surrogates, nothing past U+10FFFF) and hold no NUL byte: the strings
 * PostgreSQL's text type and our JSON output accept. */
bool text_is_clean_utf8(const char *s, size_t len);

/* Percent-decodes LEN bytes of IN once ("%2F" -> "/"; '+' stays '+'; a '%'
 * not followed by two hex digits stays as it is). Returns a NUL-terminated
 * copy (caller frees) and its length in *OUT_LEN, or NULL when out of
 * memory. The result may contain NUL bytes: check it with
 * text_is_clean_utf8. */
char *text_percent_decode(const char *in, size_t len, size_t *out_len);

/* Constant-time equality of two NUL-terminated strings: the time taken
 * depends on the length of SECRET only, never on where they differ. */
bool text_secret_equal(const char *given, const char *secret);

/* Constant-time check that GIVEN starts with SECRET; GIVEN must be at
 * least as long as SECRET. */
bool text_secret_prefix(const char *given, const char *secret);

/* True when S is a decimal number in JSON's own syntax ("-1.5e3"; not
 * "1.", ".5", "01", "0x10", "NaN" or "Infinity") and finite as a double. */
bool text_is_json_number(const char *s);

/* The first line of TEXT (libpq's and libmicrohttpd's messages end in a
 * newline and may go on with DETAIL lines), cut to OUTLEN - 1 bytes, into
 * OUT. NULL TEXT gives "". Returns OUT. */
char *text_first_line(const char *text, char *out, size_t outlen);

/* TEXT on one line in OUT: its lines joined by "; ", trailing newlines and
 * blank lines dropped (libpq's error for a multi-host URL holds one line per
 * host, each with its own reason). NULL TEXT gives "". Returns OUT. */
char *text_joined_lines(const char *text, char *out, size_t outlen);

/* A whole decimal number from 1 to MAX (no sign, no other byte) into *OUT:
 * ids, cursors and limits from a query string. */
__attribute__((warn_unused_result))
bool text_parse_positive(const char *s, long long max, long long *out);

/* An RFC 3339 time ("2026-12-01T15:04:05Z", optional fraction, "Z" or an
 * offset such as "+02:00"; or a date alone, "2026-12-01", meaning its
 * midnight UTC) into seconds since the epoch, written as decimal text in
 * OUT (fraction kept). False when S is anything else. */
__attribute__((warn_unused_result))
bool text_parse_time(const char *s, char *out, size_t outlen);

#endif
