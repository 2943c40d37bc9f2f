/* Unit tests of tokens: the token -> user cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "token_cache.h"

static void test_put_get_forget(void **state)
{
    (void)state;
    struct token_cache *c = token_cache_new(64);
    assert_non_null(c);
    char user[TOKEN_CACHE_MAX_USER_BYTES + 1];
    assert_false(token_cache_get(c, "tok-a", user, sizeof user));
    token_cache_put(c, "tok-a", "alice");
    assert_true(token_cache_get(c, "tok-a", user, sizeof user));
    assert_string_equal(user, "alice");
    token_cache_put(c, "tok-a", "bob");   /* a new owner replaces the old one */
    assert_true(token_cache_get(c, "tok-a", user, sizeof user));
    assert_string_equal(user, "bob");
    token_cache_forget(c, "tok-a");
    assert_false(token_cache_get(c, "tok-a", user, sizeof user));
    token_cache_forget(c, "never-seen");   /* harmless */
    token_cache_free(c);
}

/* A token that shares a slot evicts the other; a lookup never returns the
 * user of another token. */
static void test_collisions_never_mix_tokens(void **state)
{
    (void)state;
    struct token_cache *c = token_cache_new(1);
    char user[TOKEN_CACHE_MAX_USER_BYTES + 1];
    token_cache_put(c, "tok-a", "alice");
    token_cache_put(c, "tok-b", "bob");
    assert_false(token_cache_get(c, "tok-a", user, sizeof user));
    assert_true(token_cache_get(c, "tok-b", user, sizeof user));
    assert_string_equal(user, "bob");
    token_cache_free(c);

    c = token_cache_new(1024);
    char token[32], name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(token, sizeof token, "t%d", i);
        snprintf(name, sizeof name, "u%d", i);
        token_cache_put(c, token, name);
    }
    int kept = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(token, sizeof token, "t%d", i);
        snprintf(name, sizeof name, "u%d", i);
        if (token_cache_get(c, token, user, sizeof user)) {
            assert_string_equal(user, name);
            kept++;
        }
    }
    assert_true(kept > 0 && kept <= 1024);
    token_cache_free(c);
}

static void test_long_or_empty_values_are_not_cached(void **state)
{
    (void)state;
    struct token_cache *c = token_cache_new(64);
    char user[TOKEN_CACHE_MAX_USER_BYTES + 1];
    char long_token[TOKEN_CACHE_MAX_TOKEN_BYTES + 2];
    memset(long_token, 'x', sizeof long_token - 1);
    long_token[sizeof long_token - 1] = '\0';
    token_cache_put(c, long_token, "alice");
    assert_false(token_cache_get(c, long_token, user, sizeof user));
    char long_user[TOKEN_CACHE_MAX_USER_BYTES + 2];
    memset(long_user, 'y', sizeof long_user - 1);
    long_user[sizeof long_user - 1] = '\0';
    token_cache_put(c, "tok", long_user);
    assert_false(token_cache_get(c, "tok", user, sizeof user));
    token_cache_put(c, "", "alice");
    assert_false(token_cache_get(c, "", user, sizeof user));
    token_cache_put(c, "tok", "alice");
    char small[4];   /* a name that does not fit the caller's buffer is a miss */
    assert_false(token_cache_get(c, "tok", small, sizeof small));
    token_cache_free(c);
}

static void test_size_zero_is_off(void **state)
{
    (void)state;
    struct token_cache *c = token_cache_new(0);
    assert_null(c);
    char user[8];
    token_cache_put(c, "tok", "alice");
    assert_false(token_cache_get(c, "tok", user, sizeof user));
    token_cache_forget(c, "tok");
    token_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_forget),
        cmocka_unit_test(test_collisions_never_mix_tokens),
        cmocka_unit_test(test_long_or_empty_values_are_not_cached),
        cmocka_unit_test(test_size_zero_is_off),
    };
    return cmocka_run_group_tests_name("tokens", tests, NULL, NULL);
}
