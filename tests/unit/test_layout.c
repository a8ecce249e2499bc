/*
 * test_layout.c - the repository layout, built in one place: backup and WAL
 * prefixes, object keys, and WAL keys parsed back against the same prefix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "storage/repo.h"
#include "storage/walrepo.h"

static void
test_prefixes(void **state)
{
    struct cf_repo r = {.instance = "acme"};
    struct cf_error err = CF_ERROR_INIT;
    char buf[CF_STORAGE_KEY_MAX + 1], tiny[12];

    (void)state;
    assert_int_equal(cf_repo_backup_prefix(&r, NULL, buf, sizeof(buf), &err), CF_OK);
    assert_string_equal(buf, "acme/backup/");
    assert_int_equal(cf_repo_backup_prefix(&r, "20261122T020000Z", buf, sizeof(buf), &err), CF_OK);
    assert_string_equal(buf, "acme/backup/20261122T020000Z/");
    assert_int_equal(cf_repo_wal_prefix(&r, buf, sizeof(buf), &err), CF_OK);
    assert_string_equal(buf, "acme/wal/");
    assert_int_equal(cf_repo_key(&r, "20261122T020000Z", "db/app.dump", buf, sizeof(buf), &err),
                     CF_OK);
    assert_string_equal(buf, "acme/backup/20261122T020000Z/db/app.dump");
    /* too long: an error, never a truncated prefix that lists someone else's keys */
    assert_int_equal(cf_repo_backup_prefix(&r, "20261122T020000Z", tiny, sizeof(tiny), &err),
                     CF_ERR_USAGE);
    assert_string_equal(err.msg, "backup id \"20261122T020000Z\" is too long for a repository key");
    cf_error_clear(&err);
    assert_int_equal(cf_repo_wal_prefix(&r, tiny, 9, &err), CF_ERR_USAGE);
    cf_error_clear(&err);
    assert_int_equal(cf_repo_key(&r, "20261122T020000Z", "db/app.dump", buf, 30, &err),
                     CF_ERR_USAGE);
}

static void
test_wal_keys(void **state)
{
    struct cf_repo r = {.instance = "acme"}, other = {.instance = "acm"};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_wal_file f;
    struct cf_wal_object o;
    char dir[128], key[CF_STORAGE_KEY_MAX + 1];
    const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    (void)state;
    assert_true(cf_wal_parse_name("000000010000000A000000FF", &f));
    assert_int_equal(cf_wal_prefix(&r, &f, dir, sizeof(dir), &err), CF_OK);
    assert_string_equal(dir, "acme/wal/000000010000000A/");
    (void)snprintf(key, sizeof(key), "%s000000010000000A000000FF-%s", dir, sha);
    assert_true(cf_wal_parse_key(&r, key, &o));
    assert_string_equal(o.name, "000000010000000A000000FF");
    assert_string_equal(o.sha256, sha);
    /* another instance whose name is a prefix of this one's: not ours */
    assert_false(cf_wal_parse_key(&other, key, &o));
    /* in the wrong folder for its name */
    (void)snprintf(key, sizeof(key), "acme/wal/000000010000000B/000000010000000A000000FF-%s", sha);
    assert_false(cf_wal_parse_key(&r, key, &o));
    assert_true(cf_wal_parse_name("00000002.history", &f));
    assert_int_equal(cf_wal_prefix(&r, &f, dir, sizeof(dir), &err), CF_OK);
    assert_string_equal(dir, "acme/wal/history/");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_wal_keys),
    };

    return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
