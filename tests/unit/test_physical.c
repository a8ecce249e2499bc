/*
 * test_physical.c - the pure parts of restore --physical: recovery target
 * times (the zone is required; the result chooses the base backup), and what
 * an extracted archive may leave in a data directory.
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

static void
touch(const char *dir, const char *name, mode_t mode)
{
    char path[256];
    FILE *f;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* Issue 12, finding 4: special files refused, set-ID bits cleared, 0700 forced. */
static void
test_check_tree(void **state)
{
    char dir[] = "/tmp/coffre-test-tree-XXXXXX", path[256], cmd[300];
    struct cf_error err = CF_ERROR_INIT;
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    (void)snprintf(path, sizeof(path), "%s/pg_tblspc", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    (void)snprintf(path, sizeof(path), "%s/pg_tblspc/16385", dir);
    assert_int_equal(symlink("/srv/ts1", path), 0);
    touch(dir, "PG_VERSION", 0600);
    touch(dir, "setuid", 04755);
    assert_int_equal(cf_phys_check_tree(dir, true, &err), CF_OK);
    (void)snprintf(path, sizeof(path), "%s/setuid", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);

    /* a FIFO: refused, named */
    (void)snprintf(path, sizeof(path), "%s/global", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    (void)snprintf(path, sizeof(path), "%s/global/pipe", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(cf_phys_check_tree(dir, true, &err), CF_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "a special file (device, FIFO or socket)"));
    assert_non_null(strstr(err.msg, "/global/pipe"));
    assert_int_equal(unlink(path), 0);

    /* a link anywhere else, or in a tablespace: refused */
    cf_error_clear(&err);
    (void)snprintf(path, sizeof(path), "%s/global/passwd", dir);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    assert_int_equal(cf_phys_check_tree(dir, true, &err), CF_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "an unexpected symbolic link"));
    cf_error_clear(&err);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(cf_phys_check_tree(dir, false, &err), CF_ERR_CORRUPT);

    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_check_tree),
    };

    return cmocka_run_group_tests_name("physical", tests, NULL, NULL);
}
