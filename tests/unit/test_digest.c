/* Unit tests of digest: tokens as the bytea parameter PostgreSQL compares
 * with auth_tokens.token_sha256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "digest.h"

static void test_known_vectors(void **state)
{
    (void)state;
    char out[DIGEST_PARAM_SIZE];
    /* sha256sum of the empty input and of "tok-alice-7f3a" */
    assert_true(digest_token_param("", out));
    assert_string_equal(out,
        "\\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_true(digest_token_param("tok-alice-7f3a", out));
    assert_string_equal(out,
        "\\x023665385aa5175dbce4d317f5ef15480beae906de12b0d1c4014eb4953f368c");
    assert_int_equal(strlen(out), DIGEST_PARAM_SIZE - 1);
}

static void test_utf8_bytes_are_hashed_as_they_are(void **state)
{
    (void)state;
    char a[DIGEST_PARAM_SIZE], b[DIGEST_PARAM_SIZE];
    assert_true(digest_token_param("\xc3\xa9", a));   /* é, as PostgreSQL's convert_to gives it */
    assert_true(digest_token_param("e\xcc\x81", b));  /* e + combining acute: other bytes */
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_utf8_bytes_are_hashed_as_they_are),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
