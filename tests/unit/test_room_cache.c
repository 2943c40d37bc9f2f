/* Unit tests of room_cache: GET room's kept answers (budget, recency,
 * replacement, shared answers outliving eviction, gzip round trip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gzip.h"
#include "room_cache.h"

/* An answer for ID at VERSION whose body is BODY, users alice and bob. */
static struct room_answer *answer(const char *id, const char *version, const char *body,
                                  bool gz)
{
    struct json_object *users = json_tokener_parse("[\"alice\",\"bob\"]");
    struct room_answer *a = room_answer_new(id, version, users, body, strlen(body), gz);
    json_object_put(users);
    assert_non_null(a);
    return a;
}

/* A's body as text (inflated when gzipped); caller frees. */
static char *plain(const struct room_answer *a)
{
    if (a->gzipped)
        return gzip_inflate(a->body, a->body_len, a->plain_len);
    char *s = malloc(a->body_len + 1);
    memcpy(s, a->body, a->body_len);
    s[a->body_len] = '\0';
    return s;
}

static void test_put_get_replace(void **state)
{
    (void)state;
    struct room_cache *c = room_cache_new(1 << 20);
    assert_non_null(c);
    assert_null(room_cache_get(c, "r1"));
    struct room_answer *a = answer("r1", "1.1.0", "{\"id\":\"r1\",\"messages\":[]}", true);
    room_cache_put(c, a);
    room_cache_put(c, a);   /* twice: still one entry */
    assert_int_equal(room_cache_stats(c).entries, 1);
    struct room_answer *got = room_cache_get(c, "r1");
    assert_ptr_equal(got, a);
    assert_string_equal(got->version, "1.1.0");
    assert_true(room_answer_has_user(got, "bob"));
    assert_false(room_answer_has_user(got, "carol"));
    assert_false(room_answer_has_user(got, NULL));
    char *text = plain(got);
    assert_string_equal(text, "{\"id\":\"r1\",\"messages\":[]}");
    free(text);
    room_answer_release(got);
    /* A newer version replaces it; the old one lives while referenced. */
    struct room_answer *b = answer("r1", "1.2.0", "{\"id\":\"r1\",\"messages\":[1]}", true);
    got = room_cache_get(c, "r1");
    room_cache_put(c, b);
    room_answer_release(a);
    assert_string_equal(got->version, "1.1.0");   /* still readable */
    room_answer_release(got);
    got = room_cache_get(c, "r1");
    assert_string_equal(got->version, "1.2.0");
    room_answer_release(got);
    room_answer_release(b);
    assert_int_equal(room_cache_stats(c).entries, 1);
    room_cache_free(c);
}

/* Far more answers than the budget holds: it is never exceeded, the most
 * recently used stay, and an evicted answer still held is still whole. */
static void test_budget_and_recency(void **state)
{
    (void)state;
    size_t budget = 256 * 1024;   /* 16 kB a shard: seven answers each */
    struct room_cache *c = room_cache_new(budget);
    char body[2048];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    struct room_answer *first = answer("room-0", "v", body, false);
    room_cache_put(c, first);
    for (int i = 1; i < 2000; i++) {
        char id[32];
        snprintf(id, sizeof id, "room-%d", i);
        struct room_answer *a = answer(id, "v", body, false);
        room_cache_put(c, a);
        room_answer_release(a);
        /* room-1 is read after every put: it stays the most recent of
         * its shard */
        struct room_answer *hot = room_cache_get(c, "room-1");
        assert_non_null(hot);
        room_answer_release(hot);
        struct room_cache_stats st = room_cache_stats(c);
        assert_true(st.bytes <= (long)budget);
    }
    assert_true(room_cache_stats(c).entries > 1);
    assert_null(room_cache_get(c, "room-2"));   /* long evicted */
    char *text = plain(first);                   /* evicted, still held */
    assert_string_equal(text, body);
    free(text);
    room_answer_release(first);
    room_cache_free(c);
}

static void test_too_large_or_off(void **state)
{
    (void)state;
    struct room_cache *c = room_cache_new(16 * 1024);   /* 1 kB a shard */
    char body[4096];
    for (size_t i = 0; i < sizeof body - 1; i++)
        body[i] = (char)('a' + (i * 7919 % 26));   /* compresses poorly */
    body[sizeof body - 1] = '\0';
    struct room_answer *a = answer("big", "v", body, false);
    room_cache_put(c, a);
    assert_null(room_cache_get(c, "big"));
    assert_int_equal(room_cache_stats(c).entries, 0);
    room_answer_release(a);
    room_cache_free(c);
    /* Off: nothing is kept, nothing fails. */
    assert_null(room_cache_new(0));
    a = answer("r", "v", "{}", false);
    room_cache_put(NULL, a);
    assert_null(room_cache_get(NULL, "r"));
    room_cache_count(NULL, true);
    assert_int_equal(room_cache_stats(NULL).entries, 0);
    room_answer_release(a);
    room_answer_release(NULL);
}

static void test_users_must_be_strings(void **state)
{
    (void)state;
    struct json_object *bad = json_tokener_parse("[\"alice\",3]");
    assert_null(room_answer_new("r", "v", bad, "{}", 2, false));
    json_object_put(bad);
    assert_null(room_answer_new("r", "v", NULL, "{}", 2, false));
}

/* Readers, writers and evictions on two threads: no answer is freed while
 * held (ASan and valgrind check the reads). */
static void *churn(void *cache)
{
    char body[512];
    memset(body, 'y', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    for (int i = 0; i < 20000; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i % 64);
        struct room_answer *got = room_cache_get(cache, id);
        if (got) {
            assert_int_equal(got->plain_len, sizeof body - 1);
            assert_true(room_answer_has_user(got, "alice"));
            room_answer_release(got);
        } else {
            struct json_object *users = json_tokener_parse("[\"alice\"]");
            struct room_answer *a = room_answer_new(id, "v", users, body, sizeof body - 1, true);
            json_object_put(users);
            room_cache_put(cache, a);
            room_answer_release(a);
        }
    }
    return NULL;
}

static void test_threads_share_answers(void **state)
{
    (void)state;
    struct room_cache *c = room_cache_new(8 * 1024);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, churn, c), 0);
    churn(c);
    pthread_join(t, NULL);
    struct room_cache_stats st = room_cache_stats(c);
    assert_true(st.bytes <= 8 * 1024);
    room_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace),
        cmocka_unit_test(test_budget_and_recency),
        cmocka_unit_test(test_too_large_or_off),
        cmocka_unit_test(test_users_must_be_strings),
        cmocka_unit_test(test_threads_share_answers),
    };
    return cmocka_run_group_tests_name("room_cache", tests, NULL, NULL);
}
