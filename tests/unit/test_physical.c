/*
 * test_physical.c - the pure parts of restore --physical: recovery target
 * times (the zone is required; the result chooses the base backup).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "restore/physical_int.h"

static void
test_parse_time(void **state)
{
    /* 2026-11-22T04:50:00Z */
    const int64_t base = INT64_C(1795323000);
    int64_t t = 0;

    (void)state;
    assert_int_equal(cf_phys_parse_time("2026-11-22 04:50:00+00", &t), 0);
    assert_int_equal(t, base);
    assert_int_equal(cf_phys_parse_time("2026-11-22 04:50:00.123456+00", &t), 0);
    assert_int_equal(t, base);
    assert_int_equal(cf_phys_parse_time("2026-11-22T04:50:00Z", &t), 0);
    assert_int_equal(t, base);
    assert_int_equal(cf_phys_parse_time("2026-11-22 04:50:00 UTC", &t), -1);
    assert_int_equal(cf_phys_parse_time("2026-11-22 04:50:00UTC", &t), 0);
    assert_int_equal(t, base);
    assert_int_equal(cf_phys_parse_time("2026-11-22 06:50:00+02", &t), 0);
    assert_int_equal(t, base);
    assert_int_equal(cf_phys_parse_time("2026-11-22 00:20:00-04:30", &t), 0);
    assert_int_equal(t, base);
    assert_int_equal(cf_phys_parse_time("2026-11-22 04:50:00", &t), -1);    /* no zone */
    assert_int_equal(cf_phys_parse_time("2026-11-22", &t), -1);
    assert_int_equal(cf_phys_parse_time("2026-11-22 04:50:00+2", &t), -1);
    assert_int_equal(cf_phys_parse_time("2026-11-22 04:50:00+02:3", &t), -1);
    assert_int_equal(cf_phys_parse_time("2026-11-22 04:50:00+02x", &t), -1);
    assert_int_equal(cf_phys_parse_time("yesterday", &t), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
    };

    return cmocka_run_group_tests_name("physical", tests, NULL, NULL);
}
