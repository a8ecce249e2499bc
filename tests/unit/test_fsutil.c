/*
 * test_fsutil.c - common/fsutil: mkdir -p, directory fsync, atomic
 * replacement (content, mode, no temporary file left, failures name the
 * path), recursive removal that never follows a symlink, directory states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fsutil.h"

static char root[] = "/tmp/cf-fsutil-XXXXXX";

static int
setup(void **state)
{
    (void)state;
    return mkdtemp(root) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    cf_remove_tree(root, false);
    return 0;
}

static void
put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static void
assert_content(const char *path, const char *want)
{
    char buf[256] = "";
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

/* Entries of dir whose name starts with a dot (temporary files). */
static int
dot_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    (void)closedir(d);
    return n;
}

static void
test_mkdir_p(void **state)
{
    char path[256], file[256], under[300];
    struct cf_error err = CF_ERROR_INIT;
    struct stat st;
    mode_t old = umask(0);

    (void)state;

    (void)snprintf(path, sizeof(path), "%s/a/b/c", root);
    assert_int_equal(cf_mkdir_p(path, 0750, &err), CF_OK);
    (void)umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0750);
    (void)snprintf(path, sizeof(path), "%s/a", root); /* every level made with the mode */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    (void)snprintf(path, sizeof(path), "%s/a/b/c", root);
    assert_int_equal(cf_mkdir_p(path, 0700, &err), CF_OK); /* exists: fine */
    (void)snprintf(path, sizeof(path), "%s/a/b/c/", root);
    assert_int_equal(cf_mkdir_p(path, 0700, &err), CF_OK); /* trailing slash */

    /* a file in the way: the error names the level that failed */
    (void)snprintf(file, sizeof(file), "%s/file", root);
    put_file(file, "x");
    (void)snprintf(under, sizeof(under), "%s/d", file);
    assert_int_equal(cf_mkdir_p(under, 0700, &err), CF_ERR_IO);
    assert_non_null(strstr(err.msg, "could not create directory"));
    assert_non_null(strstr(err.msg, under));
    cf_error_clear(&err);
    assert_int_equal(cf_mkdir_p(file, 0700, &err), CF_ERR_IO);
    assert_int_equal(err.sys_errno, ENOTDIR);
    cf_error_clear(&err);
}

static void
test_fsync_dir(void **state)
{
    char path[256];
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    assert_int_equal(cf_fsync_dir(root, &err), CF_OK);
    assert_int_equal(cf_syncfs_dir(root, &err), CF_OK);
    (void)snprintf(path, sizeof(path), "%s/missing", root);
    assert_int_equal(cf_fsync_dir(path, &err), CF_ERR_IO);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(err.sys_errno, ENOENT);
}

static void
test_write_atomic(void **state)
{
    char dir[256], path[300], missing[300];
    struct cf_error err = CF_ERROR_INIT;
    struct stat st;
    mode_t old = umask(0077);

    (void)state;
    (void)snprintf(dir, sizeof(dir), "%s/atomic", root);
    assert_int_equal(cf_mkdir_p(dir, 0700, &err), CF_OK);
    (void)snprintf(path, sizeof(path), "%s/coffre.prom", dir);
    assert_int_equal(cf_write_atomic(path, "one\n", 4, 0644, &err), CF_OK);
    assert_content(path, "one\n");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* the mode asked for, not the umask's */
    /* replaces, and leaves no temporary file behind */
    assert_int_equal(cf_write_atomic(path, "two", 3, 0600, &err), CF_OK);
    assert_content(path, "two");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(dot_entries(dir), 0);
    assert_int_equal(cf_write_atomic(path, "", 0, 0600, &err), CF_OK);
    assert_content(path, "");
    (void)umask(old);

    /* a missing directory: the error names it */
    (void)snprintf(missing, sizeof(missing), "%s/nodir/x", root);
    assert_int_equal(cf_write_atomic(missing, "x", 1, 0600, &err), CF_ERR_IO);
    assert_non_null(strstr(err.msg, "nodir"));
    cf_error_clear(&err);
    /* the target is a directory: rename fails, the old entry stays, no temporary left */
    assert_int_equal(cf_write_atomic(dir, "x", 1, 0600, &err), CF_ERR_IO);
    assert_non_null(strstr(err.msg, "could not replace"));
    assert_int_equal(dot_entries(root), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

static void
test_atomic_file(void **state)
{
    char path[256];
    struct cf_error err = CF_ERROR_INIT;
    struct cf_atomic_file *a = NULL, *b = NULL;
    const char *ta, *tb;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/stream", root);
    put_file(path, "old");
    assert_int_equal(cf_atomic_file_open(path, 0600, &a, &err), CF_OK);
    assert_int_equal(cf_atomic_file_open(path, 0600, &b, &err), CF_OK);
    ta = cf_atomic_file_tmp_path(a);
    tb = cf_atomic_file_tmp_path(b);
    /* a dot name in the same directory, never the same twice */
    assert_int_equal(strncmp(ta, root, strlen(root)), 0);
    assert_int_equal(ta[strlen(root) + 1], '.');
    assert_string_not_equal(ta, tb);
    assert_int_equal(cf_write_all(cf_atomic_file_fd(a), "new", 3), 0);
    assert_int_equal(cf_write_all(cf_atomic_file_fd(b), "other", 5), 0);
    cf_atomic_file_abort(b); /* nothing of b reaches path */
    assert_content(path, "old");
    assert_int_equal(cf_atomic_file_commit(a, &err), CF_OK);
    assert_content(path, "new");
    assert_int_equal(dot_entries(root), 0);
    cf_atomic_file_abort(NULL);
}

static void
test_remove_tree_and_dir_state(void **state)
{
    char dir[256], sub[300], file[300], outside[256], kept[300], link[300];
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    (void)snprintf(dir, sizeof(dir), "%s/tree", root);
    (void)snprintf(sub, sizeof(sub), "%s/none", dir);
    assert_int_equal(cf_dir_state(dir), 1);
    assert_int_equal(cf_mkdir_p(dir, 0700, &err), CF_OK);
    assert_int_equal(cf_dir_state(sub), 1);
    assert_int_equal(cf_dir_state(dir), 0);
    (void)snprintf(file, sizeof(file), "%s/f", dir);
    put_file(file, "x");
    assert_int_equal(cf_dir_state(dir), -1);
    assert_int_equal(errno, ENOTEMPTY);
    assert_int_equal(cf_dir_state(file), -1); /* not a directory */
    assert_int_equal(errno, ENOTDIR);

    /* a symlink inside points out of the tree: removed, never followed */
    (void)snprintf(outside, sizeof(outside), "%s/outside", root);
    assert_int_equal(cf_mkdir_p(outside, 0700, &err), CF_OK);
    (void)snprintf(kept, sizeof(kept), "%s/keep", outside);
    put_file(kept, "k");
    (void)snprintf(link, sizeof(link), "%s/link", dir);
    assert_int_equal(symlink(outside, link), 0);
    (void)snprintf(sub, sizeof(sub), "%s/a/b", dir);
    assert_int_equal(cf_mkdir_p(sub, 0700, &err), CF_OK);

    cf_remove_tree(dir, true);
    assert_int_equal(cf_dir_state(dir), 0);
    assert_content(kept, "k");
    cf_remove_tree(dir, false);
    assert_int_equal(cf_dir_state(dir), 1);
    assert_content(kept, "k");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkdir_p),
        cmocka_unit_test(test_fsync_dir),
        cmocka_unit_test(test_write_atomic),
        cmocka_unit_test(test_atomic_file),
        cmocka_unit_test(test_remove_tree_and_dir_state),
    };

    return cmocka_run_group_tests_name("fsutil", tests, setup, teardown);
}
