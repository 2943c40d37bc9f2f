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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests_name("gzip", tests, NULL, NULL);
}
