/*
 * test_storage.c - the posix repository driver and key validation.
 */
#include <ftw.h>
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

#include "storage/storage.h"

static char root[256];

static int
setup(void **state)
{
    struct cf_storage *st = NULL;
    struct cf_error err = CF_ERROR_INIT;

    (void)snprintf(root, sizeof(root), "/tmp/coffre-test-storage-XXXXXX");
    if (mkdtemp(root) == NULL)
        return -1;
    if (cf_storage_posix_new(root, &st, &err) != CF_OK)
        return -1;
    *state = st;
    return 0;
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    cf_storage_free(*state);
    return nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
put(struct cf_storage *st, const char *key, const char *data)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *w = NULL;

    assert_int_equal(cf_storage_open_write(st, key, NULL, &w, &err), CF_OK);
    assert_int_equal(cf_sink_write(w, data, strlen(data), &err), CF_OK);
    assert_int_equal(cf_sink_close(w, &err), CF_OK);
    cf_sink_free(w);
}

static char *
get(struct cf_storage *st, const char *key, struct cf_error *err)
{
    struct cf_source *src = NULL;
    char *buf = calloc(1, 4096);
    size_t n = 0, len = 0;

    if (cf_storage_open_read(st, key, &src, err) != CF_OK) {
        free(buf);
        return NULL;
    }
    do {
        assert_int_equal(cf_source_read(src, buf + len, 4095 - len, &n, err), CF_OK);
        len += n;
    } while (n > 0);
    cf_source_free(src);
    return buf;
}

static void
test_write_read_exists(void **state)
{
    struct cf_storage *st = *state;
    struct cf_error err = CF_ERROR_INIT;
    struct cf_storage_info info;
    struct cf_sink *w = NULL;
    char *got;

    put(st, "inst/backup/b1/db/x.dump", "hello");
    got = get(st, "inst/backup/b1/db/x.dump", &err);
    assert_non_null(got);
    assert_string_equal(got, "hello");
    free(got);
    assert_int_equal(cf_storage_info(st, "inst/backup/b1/db/x.dump", &info, &err), CF_OK);
    assert_int_equal(info.size, 5);
    /* write-once: an existing object is never replaced */
    assert_int_equal(cf_storage_open_write(st, "inst/backup/b1/db/x.dump", NULL, &w, &err),
                     CF_ERR_EXISTS);
    assert_string_equal(err.msg,
                        "object \"inst/backup/b1/db/x.dump\" already exists in the repository");
}

static void
test_abort_leaves_nothing(void **state)
{
    struct cf_storage *st = *state;
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *w = NULL;
    char dir[600];
    struct stat sb;

    assert_int_equal(cf_storage_open_write(st, "inst/backup/b2/aborted", NULL, &w, &err), CF_OK);
    assert_int_equal(cf_sink_write(w, "partial", 7, &err), CF_OK);
    cf_sink_abort(w);
    cf_sink_free(w);
    assert_null(get(st, "inst/backup/b2/aborted", &err));
    assert_int_equal(err.code, CF_ERR_NOT_FOUND);
    assert_string_equal(err.msg,
                        "object \"inst/backup/b2/aborted\" does not exist in the repository");
    /* nor a temporary file: the directory holds nothing */
    (void)snprintf(dir, sizeof(dir), "%s/inst/backup/b2", root);
    assert_int_equal(stat(dir, &sb), 0);
    put(st, "inst/backup/b2/a", "x");
}

struct seen {
    char keys[8][CF_STORAGE_KEY_MAX + 1];
    size_t n;
};

static cf_err
collect(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct seen *s = ctx;

    (void)err;
    if (s->n < 8)
        (void)snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%s", info->key);
    return CF_OK;
}

static void
test_list_sorted_and_ignores_temporaries(void **state)
{
    struct cf_storage *st = *state;
    struct cf_error err = CF_ERROR_INIT;
    struct seen s;
    char tmp[600];
    FILE *f;

    put(st, "inst/backup/b1/manifest", "{}");
    (void)snprintf(tmp, sizeof(tmp), "%s/inst/backup/b1/.junk.tmp", root);
    f = fopen(tmp, "w");
    assert_non_null(f);
    (void)fclose(f);
    memset(&s, 0, sizeof(s));
    assert_int_equal(cf_storage_list(st, "inst/backup/", collect, &s, &err), CF_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.keys[0], "inst/backup/b1/db/x.dump");
    assert_string_equal(s.keys[1], "inst/backup/b1/manifest");
    assert_string_equal(s.keys[2], "inst/backup/b2/a");
    memset(&s, 0, sizeof(s));
    assert_int_equal(cf_storage_list(st, "inst/backup/b2/", collect, &s, &err), CF_OK);
    assert_int_equal(s.n, 1);
    memset(&s, 0, sizeof(s));
    assert_int_equal(cf_storage_list(st, "nothing/here/", collect, &s, &err), CF_OK);
    assert_int_equal(s.n, 0);
}

static void
test_invalid_keys(void **state)
{
    static const char *const bad[] = {"", "/abs", "a//b", "../x", "a/../b", "a/./b", "a/",
                                      "sp ace", "a\nb", "x/.."};
    struct cf_storage *st = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cf_error err = CF_ERROR_INIT;
        struct cf_sink *w = NULL;

        assert_int_equal(cf_storage_open_write(st, bad[i], NULL, &w, &err), CF_ERR_USAGE);
    }
    assert_int_equal(cf_storage_check_key("inst/backup/20261122T020000Z/db/a=20b.dump",
                                          &(struct cf_error)CF_ERROR_INIT), CF_OK);
}

static void
test_relative_root_refused(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_storage *st = NULL;

    (void)state;
    assert_int_equal(cf_storage_posix_new("relative/repo", &st, &err), CF_ERR_CONFIG);
    assert_string_equal(err.msg, "repository path \"relative/repo\" is not absolute");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read_exists),
        cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_list_sorted_and_ignores_temporaries),
        cmocka_unit_test(test_invalid_keys),
        cmocka_unit_test(test_relative_root_refused),
    };

    return cmocka_run_group_tests_name("storage", tests, setup, teardown);
}
