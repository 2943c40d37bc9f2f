/* live_pos: the SSE event id round-trips, orders as (xid, id), and
 * anything else a client may send as Last-Event-ID is refused. */
#include "live_pos.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_round_trip(void **state)
{
    (void)state;
    struct live_pos p = { UINT64_MAX, INT64_MAX }, q;
    char text[48];
    live_pos_format(p, text, sizeof text);
    assert_string_equal(text, "18446744073709551615-9223372036854775807");
    assert_true(live_pos_parse(text, &q));
    assert_int_equal(live_pos_cmp(p, q), 0);
    assert_true(live_pos_parse("7340-0", &q));
    assert_true(q.xid == 7340 && q.id == 0);
}

static void test_order_is_xid_then_id(void **state)
{
    (void)state;
    struct live_pos a = { 10, 99 }, b = { 11, 1 }, c = { 11, 2 };
    assert_true(live_pos_cmp(a, b) < 0);
    assert_true(live_pos_cmp(b, c) < 0);
    assert_true(live_pos_cmp(c, a) > 0);
}

static void test_anything_else_is_refused(void **state)
{
    (void)state;
    const char *bad[] = { "", "7", "7-", "-7", "7--1", "7-1 ", " 7-1", "+7-1", "7-+1", "a-1",
                          "7-1x", "18446744073709551616-1", "1-9223372036854775808", "1.5-2",
                          NULL };
    struct live_pos p;
    for (int i = 0; bad[i]; i++)
        assert_false(live_pos_parse(bad[i], &p));
    assert_false(live_pos_parse(NULL, &p));
    uint64_t x;
    assert_true(live_xid_parse("123", &x) && x == 123);
    assert_false(live_xid_parse("12a", &x));
    assert_false(live_xid_parse("", &x));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_order_is_xid_then_id),
        cmocka_unit_test(test_anything_else_is_refused),
    };
    return cmocka_run_group_tests_name("live_pos", tests, NULL, NULL);
}
