/*
 * test_backoff.c - common/backoff: the capped exponential ceiling (exact
 * values, the cap, no overflow at huge attempts or bases) and the full
 * jitter draw (never above the ceiling, and really spread over it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/backoff.h"

static void
test_ceiling(void **state)
{
    (void)state;
    assert_int_equal(cf_backoff_ceiling_ms(100, 5000, 0), 100); /* 0 counts as 1 */
    assert_int_equal(cf_backoff_ceiling_ms(100, 5000, 1), 100);
    assert_int_equal(cf_backoff_ceiling_ms(100, 5000, 2), 200);
    assert_int_equal(cf_backoff_ceiling_ms(100, 5000, 3), 400);
    assert_int_equal(cf_backoff_ceiling_ms(100, 5000, 6), 3200);
    assert_int_equal(cf_backoff_ceiling_ms(100, 5000, 7), 5000);
    assert_int_equal(cf_backoff_ceiling_ms(100, 5000, 1000000), 5000);
    /* wal-stream's documented schedule: 1 s, 2 s, 4 s, ... 60 s */
    assert_int_equal(cf_backoff_ceiling_ms(1000, 60000, 1), 1000);
    assert_int_equal(cf_backoff_ceiling_ms(1000, 60000, 3), 4000);
    assert_int_equal(cf_backoff_ceiling_ms(1000, 60000, 6), 32000);
    assert_int_equal(cf_backoff_ceiling_ms(1000, 60000, 7), 60000);
    /* no overflow near the top of the range */
    assert_int_equal(cf_backoff_ceiling_ms(UINT32_MAX - 1, UINT32_MAX, 40), UINT32_MAX);
    assert_int_equal(cf_backoff_ceiling_ms(3000000000u, UINT32_MAX, 2), UINT32_MAX);
    assert_int_equal(cf_backoff_ceiling_ms(0, 5000, 10), 0);
    assert_int_equal(cf_backoff_ceiling_ms(500, 100, 1), 100); /* the cap wins over the base */
}

static void
test_jitter(void **state)
{
    uint32_t max = 0, min = UINT32_MAX;
    unsigned low = 0;

    (void)state;
    for (int i = 0; i < 4000; i++) {
        uint32_t v = cf_backoff_ms(100, 5000, 3); /* ceiling 400 */

        assert_true(v <= 400);
        max = v > max ? v : max;
        min = v < min ? v : min;
        low += v < 200 ? 1 : 0;
    }
    /* full jitter: spread from near 0 to near the ceiling, about half below 200 */
    assert_true(min < 20);
    assert_true(max > 380);
    assert_true(low > 1600 && low < 2400);
    for (int i = 0; i < 100; i++) {
        assert_true(cf_backoff_ms(100, 5000, 1000) <= 5000);
        assert_int_equal(cf_backoff_ms(0, 5000, 3), 0);
    }
    (void)cf_backoff_ms(UINT32_MAX, UINT32_MAX, 1); /* ceiling + 1 would wrap */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling),
        cmocka_unit_test(test_jitter),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
