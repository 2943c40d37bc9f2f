/* rate_limit: the burst is served at once, the next post is refused with
 * the seconds to wait, users have their own buckets, 0 means no limit. */
#include "rate_limit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_off_when_zero(void **state)
{
    (void)state;
    struct rate_limit *rl = rate_limit_new(0, 10, 64);
    assert_null(rl);
    long wait = -1;
    for (int i = 0; i < 1000; i++)
        assert_true(rate_limit_take(rl, "alice", &wait));
    assert_int_equal(wait, 0);
}

static void test_burst_then_refused_with_retry_after(void **state)
{
    (void)state;
    struct rate_limit *rl = rate_limit_new(60, 3, 1024);   /* one a second */
    assert_non_null(rl);
    long wait = -1;
    for (int i = 0; i < 3; i++)
        assert_true(rate_limit_take(rl, "alice", &wait));
    assert_false(rate_limit_take(rl, "alice", &wait));
    assert_in_range(wait, 1, 1);
    /* A slow minute: 2 per minute means about 30 s to the next post. */
    struct rate_limit *slow = rate_limit_new(2, 1, 1024);
    assert_true(rate_limit_take(slow, "alice", &wait));
    assert_false(rate_limit_take(slow, "alice", &wait));
    assert_in_range(wait, 29, 30);
    rate_limit_free(slow);
    rate_limit_free(rl);
}

static void test_users_have_their_own_buckets(void **state)
{
    (void)state;
    struct rate_limit *rl = rate_limit_new(1, 1, 1 << 16);
    long wait;
    assert_true(rate_limit_take(rl, "alice", &wait));
    assert_false(rate_limit_take(rl, "alice", &wait));
    assert_true(rate_limit_take(rl, "bob", &wait));
    assert_true(rate_limit_take(rl, "carol", &wait));
    assert_false(rate_limit_take(rl, "bob", &wait));
    rate_limit_free(rl);
}

static void test_a_shared_slot_is_never_looser(void **state)
{
    (void)state;
    struct rate_limit *rl = rate_limit_new(1, 2, 1);   /* everyone shares one slot */
    long wait;
    assert_true(rate_limit_take(rl, "alice", &wait));
    assert_true(rate_limit_take(rl, "bob", &wait));
    assert_false(rate_limit_take(rl, "alice", &wait));
    assert_false(rate_limit_take(rl, "bob", &wait));
    rate_limit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_when_zero),
        cmocka_unit_test(test_burst_then_refused_with_retry_after),
        cmocka_unit_test(test_users_have_their_own_buckets),
        cmocka_unit_test(test_a_shared_slot_is_never_looser),
    };
    return cmocka_run_group_tests_name("rate_limit", tests, NULL, NULL);
}
