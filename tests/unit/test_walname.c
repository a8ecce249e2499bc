/*
 * test_walname.c - LSN text and WAL file names, against values PostgreSQL 15
 * itself prints (pg_walfile_name, pg_lsn output), and round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/walname.h"

#define MiB ((uint64_t)1024 * 1024)

static void
test_lsn_parse(void **state)
{
    uint64_t lsn = 0;
    char buf[CF_LSN_MAX_TEXT];

    (void)state;
    assert_true(cf_lsn_parse("0/0", &lsn));
    assert_int_equal(lsn, 0);
    assert_true(cf_lsn_parse("16/B374D848", &lsn));
    assert_int_equal(lsn, UINT64_C(0x16B374D848));
    assert_true(cf_lsn_parse("ffffffff/ffffffff", &lsn));
    assert_int_equal(lsn, UINT64_MAX);
    cf_lsn_format(UINT64_C(0x16B374D848), buf, sizeof(buf));
    assert_string_equal(buf, "16/B374D848");
    cf_lsn_format(UINT64_MAX, buf, sizeof(buf));
    assert_string_equal(buf, "FFFFFFFF/FFFFFFFF");
    cf_lsn_format(0x3000028, buf, sizeof(buf));
    assert_string_equal(buf, "0/3000028");
    /* malformed */
    assert_false(cf_lsn_parse("", &lsn));
    assert_false(cf_lsn_parse("/", &lsn));
    assert_false(cf_lsn_parse("0/", &lsn));
    assert_false(cf_lsn_parse("/0", &lsn));
    assert_false(cf_lsn_parse("0/0/0", &lsn));
    assert_false(cf_lsn_parse("123456789/0", &lsn));
    assert_false(cf_lsn_parse("0/123456789", &lsn));
    assert_false(cf_lsn_parse("0/12G", &lsn));
    assert_false(cf_lsn_parse(" 0/1", &lsn));
    assert_false(cf_lsn_parse("01", &lsn));
}

static void
test_segment_names(void **state)
{
    char buf[32];

    (void)state;
    /* SELECT pg_walfile_name('16/B374D848') on timeline 1, 16 MiB segments */
    cf_wal_segment_name(1, UINT64_C(0x16B374D848), 16 * MiB, buf, sizeof(buf));
    assert_string_equal(buf, "0000000100000016000000B3");
    /* the last segment of a log file, and the next one */
    cf_wal_segment_name(2, UINT64_C(0xAFF000000), 16 * MiB, buf, sizeof(buf));
    assert_string_equal(buf, "000000020000000A000000FF");
    cf_wal_segment_name(2, UINT64_C(0xB00000000), 16 * MiB, buf, sizeof(buf));
    assert_string_equal(buf, "000000020000000B00000000");
    /* 1 GiB segments: 4 per log file */
    cf_wal_segment_name(3, UINT64_C(0x1C0000000), 1024 * MiB, buf, sizeof(buf));
    assert_string_equal(buf, "000000030000000100000003");
    /* 1 MiB segments */
    cf_wal_segment_name(1, UINT64_C(0x1FFFFF), MiB, buf, sizeof(buf));
    assert_string_equal(buf, "000000010000000000000001");
}

static void
test_parse_names(void **state)
{
    struct cf_wal_file f;

    (void)state;
    assert_true(cf_wal_parse_name("0000000100000016000000B3", &f));
    assert_int_equal(f.type, CF_WAL_SEGMENT);
    assert_int_equal(f.timeline, 1);
    assert_int_equal(f.log, 0x16);
    assert_int_equal(f.seg, 0xB3);
    assert_int_equal(cf_wal_segno(&f, 16 * MiB), UINT64_C(0x16B374D848) / (16 * MiB));
    assert_true(cf_wal_parse_name("0000000100000016000000B3.partial", &f));
    assert_int_equal(f.type, CF_WAL_PARTIAL);
    assert_true(cf_wal_parse_name("00000002.history", &f));
    assert_int_equal(f.type, CF_WAL_HISTORY);
    assert_int_equal(f.timeline, 2);
    assert_true(cf_wal_parse_name("000000010000000000000002.00000028.backup", &f));
    assert_int_equal(f.type, CF_WAL_BACKUP_HISTORY);
    assert_int_equal(f.seg, 2);
    /* not WAL file names */
    assert_false(cf_wal_parse_name("", &f));
    assert_false(cf_wal_parse_name("00000000.history", &f));          /* timeline 0 */
    assert_false(cf_wal_parse_name("000000000000000000000001", &f));  /* timeline 0 */
    assert_false(cf_wal_parse_name("0000000100000016000000b3", &f));  /* lower case */
    assert_false(cf_wal_parse_name("0000000100000016000000B", &f));
    assert_false(cf_wal_parse_name("0000000100000016000000B30", &f));
    assert_false(cf_wal_parse_name("0000000100000016000000B3.tmp", &f));
    assert_false(cf_wal_parse_name("000000010000000000000002.0000002.backup", &f));
    assert_false(cf_wal_parse_name("../../../etc/passwd", &f));
    assert_false(cf_wal_parse_name("00000001.history.x", &f));
}

static void
test_round_trips(void **state)
{
    static const uint64_t sizes[] = {MiB, 16 * MiB, 64 * MiB, 1024 * MiB};
    char buf[32];

    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t per = ((uint64_t)1 << 32) / sizes[i];

        for (uint64_t segno = 0; segno < 3 * per + 5; segno += (per / 7) + 1) {
            struct cf_wal_file f;

            cf_wal_segno_name(7, segno, sizes[i], buf, sizeof(buf));
            assert_true(cf_wal_parse_name(buf, &f));
            assert_int_equal(f.timeline, 7);
            assert_int_equal(cf_wal_segno(&f, sizes[i]), segno);
        }
    }
    assert_true(cf_wal_segment_size_valid(16 * MiB));
    assert_true(cf_wal_segment_size_valid(MiB));
    assert_true(cf_wal_segment_size_valid(1024 * MiB));
    assert_false(cf_wal_segment_size_valid(0));
    assert_false(cf_wal_segment_size_valid(MiB / 2));
    assert_false(cf_wal_segment_size_valid(2048 * MiB));
    assert_false(cf_wal_segment_size_valid(24 * MiB));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lsn_parse),
        cmocka_unit_test(test_segment_names),
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_round_trips),
    };

    return cmocka_run_group_tests_name("walname", tests, NULL, NULL);
}
