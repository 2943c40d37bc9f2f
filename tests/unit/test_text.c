/* Unit tests of text: UTF-8 checks, percent-decoding, secret comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static void test_utf8(void **state)
{
    (void)state;
    assert_true(text_is_clean_utf8("", 0));
    assert_true(text_is_clean_utf8("zo\xc3\xab \xe2\x82\xac \xf0\x9f\x98\x80", 13));
    assert_false(text_is_clean_utf8("a\0b", 3));
    assert_false(text_is_clean_utf8("\xff", 1));
    assert_false(text_is_clean_utf8("\xc0\xaf", 2));       /* overlong '/' */
    assert_false(text_is_clean_utf8("\xed\xa0\x80", 3));   /* surrogate */
    assert_false(text_is_clean_utf8("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(text_is_clean_utf8("\xe2\x82", 2));       /* truncated */
}

static void test_percent_decode(void **state)
{
    (void)state;
    size_t len;
    char *s = text_percent_decode("a%2Fb%2fc+d%zz%4", 16, &len);
    assert_string_equal(s, "a/b/c+d%zz%4");
    assert_int_equal(len, strlen(s));
    free(s);
    s = text_percent_decode("x%00y", 5, &len);
    assert_int_equal(len, 3);
    assert_false(text_is_clean_utf8(s, len));
    free(s);
}

static void test_secret_equal(void **state)
{
    (void)state;
    assert_true(text_secret_equal("secret", "secret"));
    assert_false(text_secret_equal("secreT", "secret"));
    assert_false(text_secret_equal("secret1", "secret"));
    assert_false(text_secret_equal("", "secret"));
    assert_false(text_secret_equal("", ""));
    assert_true(text_secret_prefix("secret.bob", "secret"));
    assert_false(text_secret_prefix("secreX.bob", "secret"));
}

/* Each accepted form, as seconds since the epoch (what the SQL hands to
 * to_timestamp). */
static void test_parse_time(void **state)
{
    (void)state;
    static const struct { const char *in, *want; } good[] = {
        { "2026-12-01", "1796083200" },
        { "2026-12-01T15:04:05Z", "1796137445" },
        { "2026-12-01t15:04:05z", "1796137445" },
        { "2026-12-01T15:04:05.250Z", "1796137445.250" },
        { "2026-12-01T16:04:05+01:00", "1796137445" },
        { "2026-12-01T10:34:05-04:30", "1796137445" },
        { "2024-02-29", "1709164800" },
        { "1970-01-01T00:00:00Z", "0" },
        { "1969-12-31T23:59:59.25Z", "-0.75" },
        { "1969-12-31T23:59:58.5Z", "-1.5" },
        { "1969-12-31T23:59:59.000Z", "-1.000" },
        { "1900-01-01", "-2208988800" },
    };
    char out[64];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(text_parse_time(good[i].in, out, sizeof out));
        assert_string_equal(out, good[i].want);
    }
    static const char *bad[] = {
        "", "yesterday", "2026-12-1", "2026/12/01", "2026-13-01", "2026-00-10",
        "2026-02-29", "2026-04-31", "2026-12-00", "2026-12-01T15:04Z",
        "2026-12-01T15:04:05", "2026-12-01T24:00:00Z", "2026-12-01T15:60:00Z",
        "2026-12-01T15:04:05.Z", "2026-12-01T15:04:05.1234567890Z",
        "2026-12-01T15:04:05+0100", "2026-12-01T15:04:05Z ", " 2026-12-01",
        "2026-12-01T15:04:05+24:00", "12026-12-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(text_parse_time(bad[i], out, sizeof out));
}

static void test_parse_positive(void **state)
{
    (void)state;
    long long v = 0;
    assert_true(text_parse_positive("1", 100, &v));
    assert_int_equal(v, 1);
    assert_true(text_parse_positive("100", 100, &v));
    assert_int_equal(v, 100);
    assert_true(text_parse_positive("007", 100, &v));
    assert_int_equal(v, 7);
    static const char *bad[] = { "", "0", "101", "-1", "+1", "1.5", "1e2", " 1", "abc",
                                 "9999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(text_parse_positive(bad[i], 100, &v));
}

static void test_joined_lines(void **state)
{
    (void)state;
    char out[128];
    assert_string_equal(text_joined_lines(NULL, out, sizeof out), "");
    assert_string_equal(text_joined_lines("one\n", out, sizeof out), "one");
    assert_string_equal(
        text_joined_lines("connection to server at \"a\" failed: refused\n"
                          "connection to server at \"b\" failed: read-only\n\n",
                          out, sizeof out),
        "connection to server at \"a\" failed: refused; connection to server at \"b\" "
        "failed: read-only");
    assert_string_equal(text_joined_lines("a\r\nb", out, 5), "a; b");
    assert_string_equal(text_joined_lines("abcdef", out, 4), "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_secret_equal),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_joined_lines),
        cmocka_unit_test(test_parse_positive),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
