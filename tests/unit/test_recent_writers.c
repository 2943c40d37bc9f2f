/* recent_writers: a mark is seen within its window, not after, and never
 * for a user who did not write (but for a shared slot). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "recent_writers.h"

static void test_marks_are_seen_within_their_window(void **state)
{
    (void)state;
    struct recent_writers *w = recent_writers_new(1024);
    assert_non_null(w);
    assert_false(recent_writers_wrote_within(w, "alice", 1000));
    recent_writers_mark(w, "alice");
    assert_true(recent_writers_wrote_within(w, "alice", 1000));
    usleep(30 * 1000);
    assert_false(recent_writers_wrote_within(w, "alice", 10));
    assert_true(recent_writers_wrote_within(w, "alice", 1000));
    recent_writers_free(w);
}

static void test_other_users_are_not_marked(void **state)
{
    (void)state;
    struct recent_writers *w = recent_writers_new(65536);
    recent_writers_mark(w, "alice");
    int marked = 0;
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "user%d", i);
        marked += recent_writers_wrote_within(w, name, 1000);
    }
    assert_true(marked <= 1);   /* a shared slot at most */
    recent_writers_free(w);
}

static void test_null_is_nothing(void **state)
{
    (void)state;
    recent_writers_mark(NULL, "alice");
    assert_false(recent_writers_wrote_within(NULL, "alice", 1000));
    struct recent_writers *w = recent_writers_new(8);
    recent_writers_mark(w, NULL);
    assert_false(recent_writers_wrote_within(w, NULL, 1000));
    recent_writers_free(w);
    recent_writers_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marks_are_seen_within_their_window),
        cmocka_unit_test(test_other_users_are_not_marked),
        cmocka_unit_test(test_null_is_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
