/* Unit tests of auth: token classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth.h"

static void test_classify(void **state)
{
    (void)state;
    const char *user;
    assert_int_equal(auth_classify("s3", "s3", &user), AUTH_SECRET);
    assert_int_equal(auth_classify("s3.alice", "s3", &user), AUTH_USER);
    assert_string_equal(user, "alice");
    assert_int_equal(auth_classify("s3.a.b", "s3", &user), AUTH_USER);
    assert_string_equal(user, "a.b");
    assert_int_equal(auth_classify("s3.", "s3", &user), AUTH_INVALID);
    assert_int_equal(auth_classify("s4.alice", "s3", &user), AUTH_LOOKUP);
    assert_int_equal(auth_classify("s", "s3", &user), AUTH_LOOKUP);
    assert_int_equal(auth_classify("", "s3", &user), AUTH_INVALID);
    assert_int_equal(auth_classify(NULL, "s3", &user), AUTH_INVALID);
}

static void test_no_secret_means_table_only(void **state)
{
    (void)state;
    const char *user;
    assert_int_equal(auth_classify(".alice", "", &user), AUTH_LOOKUP);
    assert_int_equal(auth_classify("anything", "", &user), AUTH_LOOKUP);
    assert_null(user);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_no_secret_means_table_only),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
