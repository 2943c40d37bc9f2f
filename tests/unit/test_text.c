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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_secret_equal),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
