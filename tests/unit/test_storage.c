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
#include <sodium.h>

#include "storage/repo.h"
#include "storage/storage.h"
#include "tests/unit/support/testkeys.h"

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

struct uploads {
    size_t n;
    struct cf_storage_upload up[4];
};

static cf_err
collect_upload(void *ctx, const struct cf_storage_upload *up, struct cf_error *err)
{
    struct uploads *u = ctx;

    (void)err;
    if (u->n < 4)
        u->up[u->n] = *up;
    u->n++;
    return CF_OK;
}

static void
touch(const char *rel)
{
    char path[600];
    FILE *f;

    (void)snprintf(path, sizeof(path), "%s/%s", root, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    (void)fclose(f);
}

/* kill -9 mid-write leaves ".NAME.tmp.PID.RAND": an unfinished upload for prune */
static void
test_temporaries_are_uploads(void **state)
{
    struct cf_storage *st = *state;
    struct cf_error err = CF_ERROR_INIT;
    struct cf_storage_upload bad;
    struct uploads u;
    struct seen s;
    struct stat sb;
    char path[600];

    put(st, "up/backup/b1/manifest", "{}");
    touch("up/backup/b1/.db.tmp.4242.0badf00d");
    touch("up/backup/b1/.other");            /* not a temporary name */
    touch("up/backup/b1/.x.tmp.12.0badf00"); /* 7 hex digits */
    touch("up/backup/b1/.tmp.12.0badf00d");  /* no object name */
    memset(&u, 0, sizeof(u));
    assert_int_equal(cf_storage_list_uploads(st, "up/", collect_upload, &u, &err), CF_OK);
    assert_int_equal(u.n, 1);
    assert_string_equal(u.up[0].key, "up/backup/b1/db");
    assert_string_equal(u.up[0].upload_id, "up/backup/b1/.db.tmp.4242.0badf00d");
    assert_true(u.up[0].initiated > 0);
    memset(&u, 0, sizeof(u));
    assert_int_equal(cf_storage_list_uploads(st, "other/", collect_upload, &u, &err), CF_OK);
    assert_int_equal(u.n, 0);
    /* an ordinary listing still ignores it */
    memset(&s, 0, sizeof(s));
    assert_int_equal(cf_storage_list(st, "up/", collect, &s, &err), CF_OK);
    assert_int_equal(s.n, 1);
    memset(&u, 0, sizeof(u));
    assert_int_equal(cf_storage_list_uploads(st, "up/", collect_upload, &u, &err), CF_OK);
    assert_int_equal(cf_storage_abort_upload(st, &u.up[0], &err), CF_OK);
    (void)snprintf(path, sizeof(path), "%s/up/backup/b1/.db.tmp.4242.0badf00d", root);
    assert_int_not_equal(stat(path, &sb), 0);
    /* only a temporary file of the repository can be removed this way */
    memset(&bad, 0, sizeof(bad));
    (void)snprintf(bad.upload_id, sizeof(bad.upload_id), "up/backup/b1/manifest");
    assert_int_equal(cf_storage_abort_upload(st, &bad, &err), CF_ERR_INTERNAL);
    (void)snprintf(bad.upload_id, sizeof(bad.upload_id), "../.x.tmp.1.0badf00d");
    assert_int_equal(cf_storage_abort_upload(st, &bad, &err), CF_ERR_INTERNAL);
    (void)snprintf(path, sizeof(path), "%s/up/backup/b1/manifest", root);
    assert_int_equal(stat(path, &sb), 0);
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

/* ---- cf_repo_put_hooked: the pre-commit check decides before anything is visible ---- */

#define PAYLOAD_LEN ((size_t)300 * 1024) /* more than one pump buffer */

struct counting_source {
    struct cf_source base;
    const unsigned char *data;
    size_t len, off;
    bool is_at_end;
};

static cf_err
cs_read(struct cf_source *src, void *buf, size_t cap, size_t *n, struct cf_error *err)
{
    struct counting_source *cs = (struct counting_source *)src;
    size_t k = cs->len - cs->off < cap ? cs->len - cs->off : cap;

    (void)err;
    memcpy(buf, cs->data + cs->off, k);
    cs->off += k;
    cs->is_at_end = k == 0;
    *n = k;
    return CF_OK;
}

static void
cs_free(struct cf_source *src)
{
    (void)src;
}

static const struct cf_source_ops cs_ops = {"counting", cs_read, cs_free};

struct hook_state {
    struct counting_source *src;
    int calls;
    bool saw_end;        /* the source had reported its end when the hook ran */
    bool saw_no_object;  /* nothing was visible yet when the hook ran */
    struct cf_storage *st;
    const char *key;
    cf_err result;
};

static cf_err
hook(void *arg, struct cf_error *err)
{
    struct hook_state *h = arg;
    struct cf_storage_info info;
    struct cf_error e = CF_ERROR_INIT;

    h->calls++;
    h->saw_end = h->src->is_at_end && h->src->off == h->src->len;
    h->saw_no_object = cf_storage_info(h->st, h->key, &info, &e) == CF_ERR_NOT_FOUND;
    if (h->result != CF_OK)
        return cf_error_set(err, h->result, "could not count rows in database \"app\"");
    return CF_OK;
}

static int n_files;

static int
count_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path, (void)sb, (void)ftw;
    if (flag == FTW_F)
        n_files++;
    return 0;
}

/* Regular files under root/dir, temporaries included (0 if dir does not exist). */
static int
files_under(const char *dir)
{
    char path[600];

    (void)snprintf(path, sizeof(path), "%s/%s", root, dir);
    n_files = 0;
    (void)nftw(path, count_file, 16, FTW_PHYS);
    return n_files;
}

static void
put_with_hook(struct cf_storage *st, const char *id, cf_err result, struct hook_state *h,
              cf_err *rc, struct cf_error *err)
{
    static unsigned char payload[PAYLOAD_LEN];
    struct testkeys tk;
    struct cf_keyops ops;
    struct cf_repo repo;
    struct counting_source src = {{&cs_ops}, payload, PAYLOAD_LEN, 0, false};
    struct cf_backup_sizes sizes;
    static char key[256];

    for (size_t i = 0; i < PAYLOAD_LEN; i++)
        payload[i] = (unsigned char)(i * 7 + i / 1000);
    testkeys_init(&tk, 9, "pkcs11:token=test;object=k9");
    ops = testkeys_ops(&tk);
    memset(&repo, 0, sizeof(repo));
    repo.st = st;
    repo.keys = &ops;
    repo.instance = "inst";
    repo.chunk_size = 4096;
    repo.comp.level = 3;
    (void)snprintf(key, sizeof(key), "inst/backup/%s/db/app.dump", id);
    memset(h, 0, sizeof(*h));
    h->src = &src;
    h->st = st;
    h->key = key;
    h->result = result;
    *rc = cf_repo_put_hooked(&repo, id, "db/app.dump", 1, &src.base, hook, h, &sizes, err);
    if (*rc == CF_OK)
        assert_int_equal(sizes.plain, PAYLOAD_LEN);
}

static void
test_precommit_failure_stores_nothing(void **state)
{
    struct cf_storage *st = *state;
    struct cf_error err = CF_ERROR_INIT;
    struct cf_storage_info info;
    struct hook_state h;
    cf_err rc;

    put_with_hook(st, "b3", CF_ERR_PG, &h, &rc, &err);
    assert_int_equal(rc, CF_ERR_PG);
    assert_string_equal(err.msg, "could not count rows in database \"app\"");
    assert_non_null(strstr(err.detail, "while storing object \"inst/backup/b3/db/app.dump\""));
    assert_int_equal(h.calls, 1);
    assert_true(h.saw_end);
    assert_true(h.saw_no_object);
    err = (struct cf_error)CF_ERROR_INIT;
    assert_int_equal(cf_storage_info(st, "inst/backup/b3/db/app.dump", &info, &err),
                     CF_ERR_NOT_FOUND);
    /* not even a temporary file is left */
    assert_int_equal(files_under("inst/backup/b3"), 0);
}

static void
test_precommit_success_stores(void **state)
{
    struct cf_storage *st = *state;
    struct cf_error err = CF_ERROR_INIT;
    struct cf_storage_info info;
    struct hook_state h;
    cf_err rc;

    put_with_hook(st, "b4", CF_OK, &h, &rc, &err);
    assert_int_equal(rc, CF_OK);
    assert_int_equal(h.calls, 1);
    assert_true(h.saw_end);
    assert_true(h.saw_no_object);
    assert_int_equal(cf_storage_info(st, "inst/backup/b4/db/app.dump", &info, &err), CF_OK);
    assert_true(info.size > 0);
}

/* final_key of write options: the key it returns, or its error */
struct late {
    const char *key;
    cf_err result;
    int calls;
};

static cf_err
late_key(void *arg, char *key, size_t size, struct cf_error *err)
{
    struct late *l = arg;

    l->calls++;
    if (l->result != CF_OK)
        return cf_error_set(err, l->result, "could not sign");
    (void)snprintf(key, size, "%s", l->key);
    return CF_OK;
}

/* Write data under placeholder with a late key; the close's result. */
static cf_err
put_late(struct cf_storage *st, const char *placeholder, struct late *l, struct cf_error *err)
{
    struct cf_write_opts wo = {0, late_key, l};
    struct cf_sink *w = NULL;
    cf_err rc;

    assert_int_equal(cf_storage_open_write(st, placeholder, &wo, &w, err), CF_OK);
    assert_int_equal(cf_sink_write(w, "hello", 5, err), CF_OK);
    rc = cf_sink_close(w, err);
    cf_sink_free(w);
    return rc;
}

static void
test_late_key(void **state)
{
    struct cf_storage *st = *state;
    struct cf_error err = CF_ERROR_INIT;
    struct late ok = {"inst/wal/0001/seg-abc", CF_OK, 0};
    struct late failing = {NULL, CF_ERR_KEY, 0};
    struct late elsewhere = {"inst/wal/0002/seg-abc", CF_OK, 0};
    struct late taken = {"inst/wal/0001/seg-abc", CF_OK, 0};
    char *got;

    assert_true(st->features & CF_STORAGE_FEAT_LATE_KEY);
    /* stored under the key given at close, nothing under the placeholder */
    assert_int_equal(put_late(st, "inst/wal/0001/seg.pending", &ok, &err), CF_OK);
    assert_int_equal(ok.calls, 1);
    got = get(st, "inst/wal/0001/seg-abc", &err);
    assert_non_null(got);
    assert_string_equal(got, "hello");
    free(got);
    assert_int_equal(files_under("inst/wal/0001"), 1);
    /* the key cannot be had: nothing is stored, no temporary file is left */
    assert_int_equal(put_late(st, "inst/wal/0001/other.pending", &failing, &err), CF_ERR_KEY);
    assert_string_equal(err.msg, "could not sign");
    assert_int_equal(files_under("inst/wal/0001"), 1);
    /* a key outside the placeholder's directory is refused */
    err = (struct cf_error)CF_ERROR_INIT;
    assert_int_equal(put_late(st, "inst/wal/0001/seg.pending", &elsewhere, &err), CF_ERR_INTERNAL);
    assert_int_equal(files_under("inst/wal/0001"), 1);
    assert_int_equal(files_under("inst/wal/0002"), 0);
    /* write-once holds for the late key too */
    err = (struct cf_error)CF_ERROR_INIT;
    assert_int_equal(put_late(st, "inst/wal/0001/seg.pending", &taken, &err), CF_ERR_EXISTS);
    assert_string_equal(err.msg,
                        "object \"inst/wal/0001/seg-abc\" already exists in the repository");
    assert_int_equal(files_under("inst/wal/0001"), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read_exists),
        cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_list_sorted_and_ignores_temporaries),
        cmocka_unit_test(test_temporaries_are_uploads),
        cmocka_unit_test(test_invalid_keys),
        cmocka_unit_test(test_relative_root_refused),
        cmocka_unit_test(test_precommit_failure_stores_nothing),
        cmocka_unit_test(test_precommit_success_stores),
        cmocka_unit_test(test_late_key),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests_name("storage", tests, setup, teardown);
}
