/*
 * test_wal.c - timeline history files and WAL gap finding (common/walhistory.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/prunewal.h"
#include "common/walhistory.h"

#define SEG ((uint64_t)16 * 1024 * 1024)

static cf_err
parse(uint32_t tli, const char *text, struct cf_wal_path *p, struct cf_error *err)
{
    return cf_wal_history_parse(tli, text, strlen(text), "test.history", p, err);
}

static void
test_history_parse(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_wal_path p;

    (void)state;
    assert_int_equal(parse(3,
                           "1\t0/3000000\tno recovery target specified\n"
                           "\n"
                           "# a comment\n"
                           "2\t0/50000A8\tat restore point \"x\"\n",
                           &p, &err),
                     CF_OK);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.tli[0], 1);
    assert_true(p.end[0] == 0x3000000);
    assert_int_equal(p.tli[1], 2);
    assert_true(p.end[1] == 0x50000A8);
    assert_int_equal(p.tli[2], 3);
    assert_true(p.end[2] == UINT64_MAX);
    assert_int_equal(cf_wal_path_find(&p, 2), 1);
    assert_int_equal(cf_wal_path_find(&p, 4), -1);

    /* no final newline, spaces instead of tabs, no reason */
    assert_int_equal(parse(2, "1 1/FF000000", &p, &err), CF_OK);
    assert_int_equal(p.n, 2);
    assert_true(p.end[0] == 0x1FF000000);

    /* an empty history: the timeline alone */
    assert_int_equal(parse(5, "", &p, &err), CF_OK);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.tli[0], 5);
}

static void
test_history_corrupt(void **state)
{
    static const char *const bad[] = {
        "1\tnonsense\n",          /* no LSN */
        "3\t0/3000000\n",         /* parent not below the timeline */
        "2\t0/3000000\n1\t0/4000000\n", /* timelines not increasing */
        "1\t0/5000000\n2\t0/4000000\n", /* switch points decreasing */
        "0\t0/3000000\n",         /* timeline 0 */
        "1\n",                    /* no LSN at all */
    };
    struct cf_wal_path p;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cf_error err = CF_ERROR_INIT;

        assert_int_equal(parse(3, bad[i], &p, &err), CF_ERR_CORRUPT);
        assert_non_null(strstr(err.msg, "invalid timeline history file \"test.history\""));
    }
}

static void
test_gaps_single_timeline(void **state)
{
    struct cf_wal_seg have[] = {{1, 2}, {1, 3}, {1, 5}, {1, 6}, {1, 9}};
    struct cf_wal_gap gaps[4];
    struct cf_wal_path p;
    size_t n = 0;

    (void)state;
    cf_wal_path_single(1, &p);
    assert_true(cf_wal_find_gaps(&p, 1, 2, 3, SEG, have, 5, gaps, 4, &n) == 0);
    assert_int_equal(n, 0);
    assert_true(cf_wal_find_gaps(&p, 1, 2, 9, SEG, have, 5, gaps, 4, &n) == 3);
    assert_int_equal(n, 2);
    assert_true(gaps[0].tli == 1 && gaps[0].first == 4 && gaps[0].last == 4);
    assert_true(gaps[1].tli == 1 && gaps[1].first == 7 && gaps[1].last == 8);
    /* only one gap range fits: still counts every missing segment */
    assert_true(cf_wal_find_gaps(&p, 1, 2, 9, SEG, have, 5, gaps, 1, &n) == 3);
    assert_int_equal(n, 1);
    /* a start timeline that is not on the path */
    assert_true(cf_wal_find_gaps(&p, 2, 2, 9, SEG, have, 5, gaps, 4, &n) == UINT64_MAX);
}

static void
test_gaps_across_timelines(void **state)
{
    /* timeline 1 left at 0/5000100 (inside segment 5): segment 5 is read from
     * timeline 2; timeline 2 left at 0/8000000 (a boundary): 8 is on timeline 3 */
    struct cf_wal_seg have[] = {{1, 3}, {1, 4}, {1, 5}, {2, 5}, {2, 6}, {2, 7},
                                {3, 8}, {3, 9}};
    struct cf_wal_gap gaps[4];
    struct cf_wal_path p;
    struct cf_error err = CF_ERROR_INIT;
    size_t n = 0;

    (void)state;
    assert_int_equal(parse(3, "1\t0/5000100\n2\t0/8000000\n", &p, &err), CF_OK);
    cf_wal_segs_sort(have, 8);
    assert_true(cf_wal_find_gaps(&p, 1, 3, 9, SEG, have, 8, gaps, 4, &n) == 0);
    /* the segment holding a switch must come from the newer timeline */
    {
        struct cf_wal_seg h2[] = {{1, 3}, {1, 4}, {1, 5}, {2, 6}, {2, 7}, {3, 8}, {3, 9}};

        assert_true(cf_wal_find_gaps(&p, 1, 3, 9, SEG, h2, 7, gaps, 4, &n) == 1);
        assert_true(gaps[0].tli == 2 && gaps[0].first == 5 && gaps[0].last == 5);
    }
    /* a backup taken on timeline 2 needs nothing from timeline 1 */
    {
        struct cf_wal_seg h3[] = {{2, 6}, {2, 7}, {3, 8}};

        assert_true(cf_wal_find_gaps(&p, 2, 6, 8, SEG, h3, 3, gaps, 4, &n) == 0);
        assert_true(cf_wal_find_gaps(&p, 2, 6, 10, SEG, h3, 3, gaps, 4, &n) == 2);
        assert_true(gaps[0].tli == 3 && gaps[0].first == 9 && gaps[0].last == 10);
    }
}

static void
test_gaps_log_boundary(void **state)
{
    /* segments 0xFF and 0x100 straddle a log file boundary with 16 MiB segments */
    struct cf_wal_seg have[] = {{1, 0xFE}, {1, 0xFF}, {1, 0x100}, {1, 0x101}};
    struct cf_wal_gap gaps[2];
    struct cf_wal_path p;
    size_t n = 0;

    (void)state;
    cf_wal_path_single(1, &p);
    assert_true(cf_wal_find_gaps(&p, 1, 0xFE, 0x101, SEG, have, 4, gaps, 2, &n) == 0);
    assert_true(cf_wal_find_gaps(&p, 1, 0xFE, 0x102, SEG, have, 4, gaps, 2, &n) == 1);
}

static void
test_prune_cutoff(void **state)
{
    (void)state;
    /* a backup starting at 0/5000028: segments 0..4 lie entirely before it */
    assert_true(cf_prunewal_is_expired(4, 0x5000028, SEG));
    assert_false(cf_prunewal_is_expired(5, 0x5000028, SEG));
    /* starting exactly on a boundary: segment 4 ends where the backup starts */
    assert_true(cf_prunewal_is_expired(4, 0x5000000, SEG));
    assert_false(cf_prunewal_is_expired(5, 0x5000000, SEG));
    assert_false(cf_prunewal_is_expired(0, 0, SEG));
    assert_false(cf_prunewal_is_expired(0, 0x5000000, 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_parse),
        cmocka_unit_test(test_history_corrupt),
        cmocka_unit_test(test_gaps_single_timeline),
        cmocka_unit_test(test_gaps_across_timelines),
        cmocka_unit_test(test_gaps_log_boundary),
        cmocka_unit_test(test_prune_cutoff),
    };

    return cmocka_run_group_tests_name("wal", tests, NULL, NULL);
}
