/*
 * test_walcheck.c - WAL continuity for a physical backup (restore/walcheck.c)
 * through a posix repository: segments and history files stored as coffre
 * stores them (encrypted with a test key), then cf_walcheck_for_restore asked
 * whether recovery can reach the newest segment, or a target LSN.  Every
 * failure names the first missing segment exactly.  Segments are 16 MiB, so
 * segment n of timeline t is 0000000t0000000000000000n (n in hex).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "restore/walcheck.h"
#include "storage/walrepo.h"
#include "stream/child.h"
#include "support/testrepo.h"

#define SEG ((uint64_t)16 * 1024 * 1024)
#define ID "20260301T020000Z"

static char root[64];
static struct cf_storage *st;
static struct testkeys tk;
static struct cf_keyops ops;
static struct cf_repo repo;

/* The backup: wal_start segment 2, wal_stop segment 3 (ends at 0/3000100), timeline 1. */
static char wal_start[32], wal_stop[32], stop_lsn[32] = "0/3000100";
static char id[] = ID, kind[] = "physical";
static struct cf_manifest_physical phys;
static struct cf_manifest man;

static int
setup(void **state)
{
    (void)state;
    if (testrepo_open("walcheck", 9, root, &st, &tk, &ops, &repo) != 0)
        return -1;

    cf_wal_segno_name(1, 2, SEG, wal_start, sizeof(wal_start));
    cf_wal_segno_name(1, 3, SEG, wal_stop, sizeof(wal_stop));
    (void)snprintf(stop_lsn, sizeof(stop_lsn), "0/3000100");
    memset(&phys, 0, sizeof(phys));
    phys.stop_lsn = stop_lsn;
    phys.wal_start = wal_start;
    phys.wal_stop = wal_stop;
    phys.wal_segment_size = SEG;
    phys.start_timeline = phys.stop_timeline = 1;
    memset(&man, 0, sizeof(man));
    man.id = id;
    man.kind = kind;
    man.physical = &phys;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    return testrepo_close(root, &st);
}

/* The database system the next stored files belong to (0: not known). */
static uint64_t store_sysid;

/* Store WAL file name with contents text, as wal-push does. */
static void
store(const char *name, const char *text)
{
    struct cf_error err = CF_ERROR_INIT;
    char path[128], hex[65];
    bool already = true;
    int fd;

    (void)snprintf(path, sizeof(path), "%s/upload", root);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(cf_wal_hash_fd(fd, 0, name, hex, &err), CF_OK);
    if (cf_wal_store(&repo, name, fd, 0, hex, store_sysid, &already, &err) != CF_OK)
        fail_msg("storing %s: %s", name, err.msg);
    assert_false(already);
    (void)close(fd);
    (void)unlink(path);
}

/* Segments first..last of timeline tli. */
static void
store_segments(uint32_t tli, uint64_t first, uint64_t last)
{
    char name[32];

    for (uint64_t s = first; s <= last; s++) {
        cf_wal_segno_name(tli, s, SEG, name, sizeof(name));
        store(name, name); /* the contents do not matter, only that it is there */
    }
}

static cf_err
check(uint64_t target_lsn, struct cf_error *err)
{
    return cf_walcheck_for_restore(&repo, &man, target_lsn, err);
}

/* The check fails on the gap; msg and detail exactly. */
static void
assert_gap(uint64_t target_lsn, const char *first_missing, const char *newest,
           const char *detail)
{
    struct cf_error err = CF_ERROR_INIT;
    char msg[256];

    assert_int_equal(check(target_lsn, &err), CF_ERR_NOT_FOUND);
    (void)snprintf(msg, sizeof(msg),
                   "missing WAL segment %s between backup " ID " and the newest segment %s",
                   first_missing, newest);
    assert_string_equal(err.msg, msg);
    assert_string_equal(err.detail, detail);
}

/* ---- one timeline ---- */

static void
test_continuous(void **state)
{
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    store_segments(1, 1, 6); /* segment 1 precedes the backup: not needed, not in the way */
    assert_int_equal(check(0, &err), CF_OK);
    /* a target inside what is there */
    assert_int_equal(check(0x5000000, &err), CF_OK);
    assert_int_equal(check(0x6FFFFFF, &err), CF_OK);
}

static void
test_gaps(void **state)
{
    (void)state;
    store_segments(1, 2, 3);
    store_segments(1, 5, 6);
    store_segments(1, 10, 11);
    assert_gap(0, "000000010000000000000004", "00000001000000000000000B",
               "4 segment(s) missing on the way to timeline 1: 000000010000000000000004, "
               "000000010000000000000007..000000010000000000000009.");
}

static void
test_backup_range_incomplete(void **state)
{
    (void)state;
    /* wal_stop itself is missing: the backup is not even consistent */
    store_segments(1, 2, 2);
    assert_gap(0, "000000010000000000000003", "000000010000000000000003",
               "1 segment(s) missing on the way to timeline 1: 000000010000000000000003.");
}

static void
test_target_beyond_newest(void **state)
{
    (void)state;
    store_segments(1, 2, 5);
    /* recovery to 0/7000010 needs segments 6 and 7, not archived yet */
    assert_gap(0x7000010, "000000010000000000000006", "000000010000000000000007",
               "2 segment(s) missing on the way to timeline 1: "
               "000000010000000000000006..000000010000000000000007.");
}

static void
test_partial_fills_no_gap(void **state)
{
    (void)state;
    /* wal-stream's partial of segment 4 is not segment 4 */
    store_segments(1, 2, 3);
    store("000000010000000000000004.partial.00800000", "half");
    store_segments(1, 5, 5);
    assert_gap(0, "000000010000000000000004", "000000010000000000000005",
               "1 segment(s) missing on the way to timeline 1: 000000010000000000000004.");
}

/* ---- timelines ---- */

static void
test_timeline_switch(void **state)
{
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    /* promoted at 0/5800000: timeline 1 up to segment 4, timeline 2 from
     * segment 5 on (the switch segment is read from the new timeline) */
    store("00000002.history", "1\t0/5800000\tno recovery target specified\n");
    store_segments(1, 2, 5);
    store_segments(2, 6, 7);
    assert_gap(0, "000000020000000000000005", "000000020000000000000007",
               "1 segment(s) missing on the way to timeline 2: 000000020000000000000005.");
    store_segments(2, 5, 5);
    assert_int_equal(check(0, &err), CF_OK);
}

static void
test_timeline_old_segment_on_new_timeline(void **state)
{
    (void)state;
    /* before the switch, only the old timeline's segment will do */
    store("00000002.history", "1\t0/5000000\tno recovery target specified\n");
    store_segments(1, 2, 3);
    store_segments(2, 4, 6);
    assert_gap(0, "000000010000000000000004", "000000020000000000000006",
               "1 segment(s) missing on the way to timeline 2: 000000010000000000000004.");
}

static void
test_timeline_old_timeline_beyond_switch(void **state)
{
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    /* a failover with asynchronous replication: the old primary archived
     * segments of timeline 1 past the switch point (0/5000000) before it was
     * fenced.  Recovery leaves timeline 1 at the switch, so those segments do
     * not make the end of the archive; timeline 2's segments 5 and 6 are the
     * end, and nothing is missing. */
    store("00000002.history", "1\t0/5000000\tno recovery target specified\n");
    store_segments(1, 2, 8);
    store_segments(2, 5, 6);
    if (check(0, &err) != CF_OK)
        fail_msg("unexpected: %s", err.msg);
}

static void
test_timeline_branch_before_backup_end(void **state)
{
    (void)state;
    /* timeline 2 left timeline 1 at 0/2800000, before the backup ended at
     * 0/3000100: recovery cannot follow it, so timeline 1 is the target and its
     * gap is reported (following timeline 2 would name 000000020000000000000002) */
    store("00000002.history", "1\t0/2800000\tno recovery target specified\n");
    store_segments(1, 2, 3);
    store_segments(1, 5, 5);
    store_segments(2, 3, 9);
    assert_gap(0, "000000010000000000000004", "000000010000000000000005",
               "1 segment(s) missing on the way to timeline 1: 000000010000000000000004.");
}

static void
test_timeline_highest_descendant(void **state)
{
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    /* 1 -> 2 at 0/5000000 -> 3 at 0/7000000; timeline 4 branched from 1
     * before the backup ended: higher, but not on our path */
    store("00000002.history", "1\t0/5000000\tno recovery target specified\n");
    store("00000003.history", "1\t0/5000000\tno recovery target specified\n"
                              "2\t0/7000000\tno recovery target specified\n");
    store("00000004.history", "1\t0/2000000\tno recovery target specified\n");
    store_segments(1, 2, 4);
    store_segments(2, 5, 5);
    store_segments(3, 7, 8);
    store_segments(4, 2, 12);
    assert_gap(0, "000000020000000000000006", "000000030000000000000008",
               "1 segment(s) missing on the way to timeline 3: 000000020000000000000006.");
    store_segments(2, 6, 6);
    assert_int_equal(check(0, &err), CF_OK);
}

/* ---- what it refuses ---- */

static void
test_corrupt_history(void **state)
{
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    store_segments(1, 2, 4);
    store("00000002.history", "1\tnot an LSN\n");
    assert_int_equal(check(0, &err), CF_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "invalid timeline history file \"00000002.history\""));
}

static void
test_bad_manifest(void **state)
{
    char bad[] = "not a segment";
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    store_segments(1, 2, 4);
    phys.wal_stop = bad;
    assert_int_equal(check(0, &err), CF_ERR_CORRUPT);
    assert_string_equal(err.msg, "manifest of physical backup " ID " has no valid WAL range");
    assert_string_equal(err.detail,
                        "wal_start, wal_stop or wal_segment_size is missing or invalid.");

    cf_error_clear(&err);
    phys.wal_stop = wal_stop;
    phys.wal_segment_size = 3 * 1024 * 1024;
    assert_int_equal(check(0, &err), CF_ERR_CORRUPT);

    cf_error_clear(&err);
    man.physical = NULL;
    assert_int_equal(check(0, &err), CF_ERR_CORRUPT);
}

/*
 * Issue 12, finding 2: another cluster archiving under the same instance
 * name (another database system) fills no gap of this backup's chain, and
 * its segments are no newer end; WAL stored before the system identifier
 * was recorded still counts.
 */
static void
test_other_system(void **state)
{
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    phys.system_identifier = 7000000000000000001ULL;
    store_sysid = 7000000000000000001ULL;
    store_segments(1, 2, 3);
    store_segments(1, 5, 5);
    store_sysid = 0; /* bound to no system: counts */
    store_segments(1, 6, 6);
    store_sysid = 7000000000000000002ULL;
    store_segments(1, 4, 4);
    store_segments(1, 7, 9);
    store_sysid = 0;
    assert_gap(0, "000000010000000000000004", "000000010000000000000006",
               "1 segment(s) missing on the way to timeline 1: 000000010000000000000004.");
    /* a backup from before the system was recorded sees every segment */
    phys.system_identifier = 0;
    assert_int_equal(check(0, &err), CF_OK);
    phys.system_identifier = 0;
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_continuous),
        TEST(test_gaps),
        TEST(test_backup_range_incomplete),
        TEST(test_target_beyond_newest),
        TEST(test_partial_fills_no_gap),
        TEST(test_timeline_switch),
        TEST(test_timeline_old_segment_on_new_timeline),
        TEST(test_timeline_old_timeline_beyond_switch),
        TEST(test_timeline_branch_before_backup_end),
        TEST(test_timeline_highest_descendant),
        TEST(test_corrupt_history),
        TEST(test_bad_manifest),
        TEST(test_other_system),
    };

    return cmocka_run_group_tests_name("walcheck", tests, NULL, NULL);
}
