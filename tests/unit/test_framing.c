/* Unit tests of framing: which request heads may be read (RFC 9112). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "framing.h"

/* The verdict for the header fields NAMES[i]: VALUES[i]. */
static bool verdict(const char *const *names, const char *const *values, size_t n,
                    struct framing_refusal *out)
{
    struct framing f;
    framing_init(&f);
    for (size_t i = 0; i < n; i++)
        framing_header(&f, names[i], values[i]);
    return framing_check(&f, false, 20, 100, out);
}

#define FIELDS(...) (const char *const[]){__VA_ARGS__}

static void test_plain_requests_pass(void **state)
{
    (void)state;
    struct framing_refusal no;
    assert_true(verdict(NULL, NULL, 0, &no));
    assert_true(verdict(FIELDS("Content-Length"), FIELDS("12"), 1, &no));
    assert_true(verdict(FIELDS("transfer-encoding"), FIELDS(" Chunked "), 1, &no));
    /* the same length twice is one length */
    assert_true(verdict(FIELDS("Content-Length", "content-length"), FIELDS("12", " 12"), 2, &no));
    assert_true(verdict(FIELDS("Host", "Accept"), FIELDS("x", "*/*"), 2, &no));
}

static void test_ambiguous_lengths_are_refused(void **state)
{
    (void)state;
    struct framing_refusal no;
    assert_false(verdict(FIELDS("Content-Length", "Transfer-Encoding"), FIELDS("5", "chunked"),
                         2, &no));
    assert_int_equal(no.status, 400);
    assert_false(verdict(FIELDS("Transfer-Encoding", "Content-Length"), FIELDS("chunked", "5"),
                         2, &no));
    assert_false(verdict(FIELDS("Content-Length", "Content-Length"), FIELDS("5", "50"), 2, &no));
    assert_int_equal(no.status, 400);
    assert_string_equal(no.code, "BadRequest");
    static const char *const codings[] = { "gzip", "identity", "gzip, chunked", "chunked, chunked",
                                           "", "chunkedx" };
    for (size_t i = 0; i < sizeof codings / sizeof codings[0]; i++)
        assert_false(verdict(FIELDS("Transfer-Encoding"), &codings[i], 1, &no));
    assert_false(verdict(FIELDS("Transfer-Encoding", "Transfer-Encoding"),
                         FIELDS("chunked", "chunked"), 2, &no));
}

static void test_limits_and_nul(void **state)
{
    (void)state;
    struct framing f;
    struct framing_refusal no;
    framing_init(&f);
    assert_false(framing_check(&f, true, 10, 100, &no));
    assert_int_equal(no.status, 400);
    assert_true(framing_check(&f, false, FRAMING_MAX_TARGET_BYTES, FRAMING_MAX_HEAD_BYTES, &no));
    assert_false(framing_check(&f, false, FRAMING_MAX_TARGET_BYTES + 1, 100, &no));
    assert_int_equal(no.status, 414);
    assert_string_equal(no.code, "URITooLong");
    assert_false(framing_check(&f, false, 10, FRAMING_MAX_HEAD_BYTES + 1, &no));
    assert_int_equal(no.status, 431);
    assert_string_equal(no.code, "RequestHeaderFieldsTooLarge");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_requests_pass),
        cmocka_unit_test(test_ambiguous_lengths_are_refused),
        cmocka_unit_test(test_limits_and_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
