/* Unit tests of config: defaults, bounds, messages naming the variable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static int clear_env(void **state)
{
    (void)state;
    const char *vars[] = { "PORT", "MAX_MESSAGES", "ROUTE_PREFIX", "LOG_LEVEL", "API_SECRET",
                           "NOTIFICATIONS_PORT_8080_TCP_PROTOCOL" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_true(config_load(&c, err, sizeof err));
    assert_int_equal(c.port, 8000);
    assert_int_equal(c.max_messages, 100);
    assert_int_equal(c.room_ttl_seconds, 5184000);
    assert_int_equal(c.expiry_interval_seconds, 600);
    assert_string_equal(c.route_prefix, "chat/v1");
    assert_string_equal(c.api_secret, "");
    assert_string_equal(c.node_env, "development");
}

static void test_bad_values_name_the_variable(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    setenv("MAX_MESSAGES", "abc", 1);
    assert_false(config_load(&c, err, sizeof err));
    assert_non_null(strstr(err, "MAX_MESSAGES"));
    unsetenv("MAX_MESSAGES");
    setenv("PORT", "70000", 1);
    assert_false(config_load(&c, err, sizeof err));
    assert_non_null(strstr(err, "PORT"));
    setenv("PORT", "80x", 1);
    assert_false(config_load(&c, err, sizeof err));
    unsetenv("PORT");
    setenv("LOG_LEVEL", "loud", 1);
    assert_false(config_load(&c, err, sizeof err));
    assert_non_null(strstr(err, "LOG_LEVEL"));
}

static void test_prefix_slashes(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    setenv("ROUTE_PREFIX", "/api/chat", 1);
    assert_true(config_load(&c, err, sizeof err));
    assert_string_equal(c.route_prefix, "api/chat");
    setenv("ROUTE_PREFIX", "api/", 1);
    assert_false(config_load(&c, err, sizeof err));
}

static void test_parse_long(void **state)
{
    (void)state;
    long v;
    assert_true(config_parse_long("42", 0, 100, &v));
    assert_int_equal(v, 42);
    assert_false(config_parse_long("", 0, 100, &v));
    assert_false(config_parse_long(" 4", 0, 100, &v));
    assert_false(config_parse_long("+4", 0, 100, &v));
    assert_false(config_parse_long("101", 0, 100, &v));
    assert_false(config_parse_long("99999999999999999999999", 0, 100, &v));
    assert_true(config_parse_long("-1", -5, 100, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_bad_values_name_the_variable, clear_env),
        cmocka_unit_test_setup(test_prefix_slashes, clear_env),
        cmocka_unit_test(test_parse_long),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
