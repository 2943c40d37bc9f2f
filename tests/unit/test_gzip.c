/* Unit tests of gzip: Accept-Encoding parsing and a round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzip.h"

static void test_accepted(void **state)
{
    (void)state;
    assert_true(gzip_accepted("gzip"));
    assert_true(gzip_accepted("deflate, gzip;q=1.0, br"));
    assert_true(gzip_accepted("GZIP"));
    assert_false(gzip_accepted(NULL));
    assert_false(gzip_accepted("deflate"));
    assert_false(gzip_accepted("x-gzipped"));
    assert_false(gzip_accepted("gzip;q=0"));
}

static void test_round_trip(void **state)
{
    (void)state;
    char in[4000];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (char)('a' + i % 7);
    size_t zlen;
    char *z = gzip_compress(in, sizeof in, &zlen);
    assert_non_null(z);
    assert_true(zlen < sizeof in);
    char out[5000];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)z;
    zs.avail_in = (uInt)zlen;
    zs.next_out = (Bytef *)out;
    zs.avail_out = sizeof out;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, sizeof in);
    assert_memory_equal(out, in, sizeof in);
    inflateEnd(&zs);
    free(z);
}

/* gzip_inflate gives back exactly what was compressed, on a thread that
 * reuses its deflate state too, and refuses a wrong length. */
static void test_inflate_and_reuse(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        char in[3000];
        for (size_t i = 0; i < sizeof in; i++)
            in[i] = (char)('a' + (i * (size_t)(round + 3)) % 26);
        size_t zlen = 0;
        char *z = gzip_compress(in, sizeof in, &zlen);
        assert_non_null(z);
        char *out = gzip_inflate(z, zlen, sizeof in);
        assert_non_null(out);
        assert_memory_equal(out, in, sizeof in);
        assert_int_equal(out[sizeof in], '\0');
        free(out);
        assert_null(gzip_inflate(z, zlen, sizeof in - 1));
        assert_null(gzip_inflate(z, zlen, sizeof in + 1));
        assert_null(gzip_inflate(z, zlen / 2, sizeof in));
        free(z);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_inflate_and_reuse),
    };
    return cmocka_run_group_tests_name("gzip", tests, NULL, NULL);
}
