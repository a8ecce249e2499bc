/*
 * test_signed.c - signed manifests (stream/signed.c, storage/repo.c) in a
 * posix repository with test keys: a manifest coffre writes is signed and
 * reads back; an unsigned one (written before signatures) is refused unless
 * allow_unsigned; one signed by another key is refused; an edited envelope
 * does not verify; the chain names the previous backup and verify notices
 * when that backup's manifest was replaced.
 */
#include <dirent.h>
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

#include "restore/verify.h"
#include "storage/repo.h"
#include "storage/walrepo.h"
#include "stream/signed.h"
#include "support/testrepo.h"

static char root[64];
static struct cf_storage *st;
static struct testkeys tk, other;
static struct cf_keyops ops, other_ops;
static struct cf_repo repo;

static int
setup(void **state)
{
    (void)state;
    if (testrepo_open("signed", 7, root, &st, &tk, &ops, &repo) != 0)
        return -1;
    /* the same KEK, another signing key: a forger holding the encryption key */
    testkeys_init(&other, 7, "pkcs11:token=unit;object=kek");
    memset(other.sign_pk, 0, sizeof(other.sign_pk));
    {
        unsigned char seed[crypto_sign_SEEDBYTES];

        memset(seed, 0x99, sizeof(seed));
        crypto_sign_seed_keypair(other.sign_pk, other.sign_sk, seed);
    }
    other_ops = testkeys_ops(&other);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    return testrepo_close(root, &st);
}

static void
fill(struct cf_manifest *m, char *id)
{
    static char inst[] = "unit", kind[] = "logical", formula[] = "onprem", ver[] = "15.8",
                host[] = "h", cv[] = "test", cls[] = "daily";

    memset(m, 0, sizeof(*m));
    m->id = id;
    m->instance = inst;
    m->kind = kind;
    m->formula = formula;
    m->pg_version_num = 150008;
    m->pg_version = ver;
    m->hostname = host;
    m->coffre_version = cv;
    m->retention_class = cls;
    m->start_time = m->stop_time = 1764720000;
    m->expires = 1764720000 + 86400 * 7;
}

static void
write_manifest(const struct cf_repo *r, char *id)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_manifest m;

    fill(&m, id);
    if (cf_repo_write_manifest(r, &m, &err) != CF_OK)
        fail_msg("write_manifest %s: %s", id, err.msg);
    free(m.previous_id);
}

static void
remove_manifest(const char *id)
{
    char path[256];

    (void)snprintf(path, sizeof(path), "%s/unit/backup/%s/manifest", root, id);
    assert_int_equal(unlink(path), 0);
}

static void
test_signed_round_trip(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_manifest *m = NULL;
    char id[] = "20261201T000000Z";

    (void)state;
    write_manifest(&repo, id);
    if (cf_repo_read_manifest(&repo, id, &m, &err) != CF_OK)
        fail_msg("read: %s", err.msg);
    assert_true(m->is_signed);
    assert_int_equal(strlen(m->signer), 64);
    assert_null(m->previous_id); /* the first backup */
    cf_manifest_free(m);
}

static void
test_unsigned_manifest(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_backup_sizes sizes;
    struct cf_source *src = NULL;
    struct cf_manifest mm, *m = NULL;
    char id[] = "20261202T000000Z", *json = NULL;
    size_t len = 0;

    (void)state;
    /* what coffre wrote before signatures: the manifest JSON itself */
    fill(&mm, id);
    assert_int_equal(cf_manifest_to_json(&mm, &json, &len, &err), CF_OK);
    assert_int_equal(cf_mem_source_new(json, len, &src, &err), CF_OK);
    assert_int_equal(cf_repo_put(&repo, id, CF_MANIFEST_NAME, CF_OBJ_MANIFEST, src, &sizes, &err),
                     CF_OK);
    cf_source_free(src);
    free(json);
    assert_int_equal(cf_repo_read_manifest(&repo, id, &m, &err), CF_ERR_KEY);
    assert_string_equal(err.msg, "manifest \"unit/backup/20261202T000000Z/manifest\" is not "
                                 "signed");
    assert_null(m);
    cf_error_clear(&err);
    repo.allow_unsigned = true;
    assert_int_equal(cf_repo_read_manifest(&repo, id, &m, &err), CF_OK);
    repo.allow_unsigned = false;
    assert_false(m->is_signed);
    cf_manifest_free(m);
    remove_manifest(id);
}

static void
test_forged_manifest(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_repo forger = repo;
    struct cf_manifest *m = NULL;
    char id[] = "20261203T000000Z";

    (void)state;
    forger.keys = &other_ops;
    write_manifest(&forger, id);
    repo.allow_unsigned = true; /* does not help a signature from an untrusted key */
    assert_int_equal(cf_repo_read_manifest(&repo, id, &m, &err), CF_ERR_KEY);
    repo.allow_unsigned = false;
    assert_non_null(strstr(err.msg, "does not trust"));
    assert_null(m);
    remove_manifest(id);
}

static void
test_edited_envelope(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_signed_context sc = {"manifest", "unit", "20261204T000000Z", "manifest"};
    char *sealed = NULL, *payload = NULL, *p;
    size_t sealed_len = 0, payload_len = 0;
    bool is_signed = true;

    (void)state;
    assert_int_equal(cf_signed_seal(&ops, &sc, "{\"rows\": 100}", 13, &sealed, &sealed_len, &err),
                     CF_OK);
    p = strstr(sealed, "100");
    assert_non_null(p);
    p[0] = '9';
    assert_int_equal(cf_signed_open(&ops, &sc, "m", sealed, sealed_len, &payload, &payload_len,
                                    &is_signed, NULL, &err),
                     CF_ERR_CORRUPT);
    assert_null(payload);
    p[0] = '1';
    cf_error_clear(&err);
    sc.domain = "record"; /* a manifest's signature does not pass as a record's */
    assert_int_equal(cf_signed_open(&ops, &sc, "m", sealed, sealed_len, &payload, &payload_len,
                                    &is_signed, NULL, &err),
                     CF_ERR_CORRUPT);
    free(sealed);
}

static void
test_chain(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_verify_opts vo = {&repo, "20261206T000000Z", NULL, NULL};
    struct cf_verify_result res;
    struct cf_manifest *m = NULL;
    char a[] = "20261205T000000Z", b[] = "20261206T000000Z";

    (void)state;
    write_manifest(&repo, a);
    write_manifest(&repo, b);
    assert_int_equal(cf_repo_read_manifest(&repo, b, &m, &err), CF_OK);
    assert_string_equal(m->previous_id, a);
    cf_manifest_free(m);
    assert_int_equal(cf_verify_run(&vo, &res, &err), CF_OK);
    cf_verify_result_clear(&res);

    /* A's manifest replaced by another genuine one for the same id */
    remove_manifest(a);
    {
        struct cf_manifest mm;

        fill(&mm, a);
        mm.expires += 86400; /* different content */
        assert_int_equal(cf_repo_write_manifest(&repo, &mm, &err), CF_OK);
        free(mm.previous_id);
    }
    assert_int_equal(cf_verify_run(&vo, &res, &err), CF_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "is not the one backup 20261206T000000Z followed"));
    cf_verify_result_clear(&res);
}

static void
put_raw(const char *id, const char *name, unsigned kind, const char *text)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_backup_sizes sizes;
    struct cf_source *src = NULL;

    assert_int_equal(cf_mem_source_new(text, strlen(text), &src, &err), CF_OK);
    if (cf_repo_put(&repo, id, name, kind, src, &sizes, &err) != CF_OK)
        fail_msg("put %s: %s", name, err.msg);
    cf_source_free(src);
}

/* Finding 5: a garbage or unsigned verification record is a failed verification. */
static void
test_records(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_verify_opts vo = {&repo, "20261207T000000Z", NULL, NULL};
    struct cf_verify_result res;
    char id[] = "20261207T000000Z";
    bool has = false, ok = true;

    (void)state;
    write_manifest(&repo, id);
    assert_int_equal(cf_repo_last_verify(&repo, id, &has, &ok, &err), CF_OK);
    assert_false(has); /* never verified */
    assert_int_equal(cf_repo_record_verify(&repo, id, 0, true, NULL, &err), CF_OK);
    assert_int_equal(cf_repo_last_verify(&repo, id, &has, &ok, &err), CF_OK);
    assert_true(has && ok);
    /* a newer record that is not signed: counts as failed, not as "no record" */
    put_raw(id, "verify-29991231T235959Z-000000", CF_OBJ_RECORD,
            "{\"backup\": \"20261207T000000Z\", \"result\": \"ok\"}");
    assert_int_equal(cf_repo_last_verify(&repo, id, &has, &ok, &err), CF_ERR_KEY);
    assert_true(has);
    assert_false(ok);
    assert_non_null(strstr(err.msg, "is not signed"));
    cf_error_clear(&err);
    /* a name not of the record form is not a record: verify reports it */
    put_raw(id, "verify-garbage", CF_OBJ_RECORD, "x");
    assert_int_equal(cf_verify_run(&vo, &res, &err), CF_ERR_CORRUPT);
    assert_non_null(strstr(res.items[0].error.msg, "verify-garbage"));
    cf_verify_result_clear(&res);
}

/* text as a file to push: its descriptor, and its digest in hex */
static int
wal_file(const char *text, char hex[65])
{
    struct cf_error err = CF_ERROR_INIT;
    char path[128];
    int fd;

    (void)snprintf(path, sizeof(path), "%s/upload", root);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(cf_wal_hash_fd(fd, 0, "upload", hex, &err), CF_OK);
    (void)unlink(path);
    return fd;
}

static uint64_t store_sysid; /* the system stored WAL belongs to (0: not known) */

static void
store_wal(const struct cf_repo *r, const char *name, const char *text)
{
    struct cf_error err = CF_ERROR_INIT;
    bool already = true;
    char hex[65];
    int fd = wal_file(text, hex);

    if (cf_wal_store(r, name, fd, 0, hex, store_sysid, &already, &err) != CF_OK)
        fail_msg("storing %s: %s", name, err.msg);
    (void)close(fd);
}

/* The one object stored for name, fetched: the result of cf_wal_fetch. */
static cf_err
fetch_wal(const char *name, struct cf_wal_object *o, struct cf_error *err)
{
    struct cf_wal_object *v = NULL;
    struct cf_sink *null = NULL;
    size_t n = 0;

    assert_int_equal(cf_wal_find(&repo, name, false, &v, &n, err), CF_OK);
    assert_int_equal(n, 1);
    *o = v[0];
    free(v);
    assert_int_equal(cf_null_sink_new(&null, err), CF_OK);
    return cf_wal_fetch(&repo, o, null, err);
}

/*
 * Finding 2: WAL objects are bound to their instance and signed.  A segment
 * copied from another instance that shares the KEK, one written with an
 * untrusted key and one written before signatures are all refused.
 */
static void
test_wal_signed(void **state)
{
    static const char seg1[] = "000000010000000000000001", seg2[] = "000000010000000000000002",
                      seg3[] = "000000010000000000000003", seg4[] = "000000010000000000000004";
    struct cf_error err = CF_ERROR_INIT;
    struct cf_repo other_inst = repo, forger = repo;
    struct cf_wal_object o;
    char src[1200], dst[1200], *slash;

    (void)state;
    store_wal(&repo, seg1, "segment one");
    assert_int_equal(fetch_wal(seg1, &o, &err), CF_OK);
    assert_true(o.is_signed);

    /* another instance's segment, copied here under the same name */
    other_inst.instance = "other";
    store_wal(&other_inst, seg2, "segment two of another cluster");
    {
        struct cf_wal_object *v = NULL;
        size_t n = 0;

        assert_int_equal(cf_wal_find(&other_inst, seg2, false, &v, &n, &err), CF_OK);
        assert_int_equal(n, 1);
        (void)snprintf(src, sizeof(src), "%s/%s", root, v[0].key);
        slash = strchr(v[0].key, '/');
        (void)snprintf(dst, sizeof(dst), "%s/unit%s", root, slash);
        free(v);
    }
    assert_int_equal(link(src, dst), 0);
    assert_int_equal(fetch_wal(seg2, &o, &err), CF_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "does not verify")); /* the test keys' wording */
    cf_error_clear(&err);

    /* written with a key this host does not trust */
    forger.keys = &other_ops;
    store_wal(&forger, seg3, "forged segment");
    assert_int_equal(fetch_wal(seg3, &o, &err), CF_ERR_KEY);
    assert_non_null(strstr(err.msg, "does not trust")); /* the test keys' wording */
    cf_error_clear(&err);

    /* written before signatures: no signature in the key, "wal" as the header id */
    {
        struct cf_backup_sizes sizes;
        struct cf_source *msrc = NULL;
        struct cf_wal_file f;
        char key[512], hex[65];
        int fd = wal_file("an old segment", hex);

        (void)close(fd);
        assert_true(cf_wal_parse_name(seg4, &f));
        assert_int_equal(cf_wal_prefix(&repo, &f, key, sizeof(key), &err), CF_OK);
        (void)snprintf(key + strlen(key), sizeof(key) - strlen(key), "%s-%s", seg4, hex);
        assert_int_equal(cf_mem_source_new("an old segment", 14, &msrc, &err), CF_OK);
        assert_int_equal(
            cf_repo_put_key(&repo, key, CF_WAL_OBJECT_ID, seg4, CF_OBJ_WAL, msrc, &sizes, &err),
            CF_OK);
        cf_source_free(msrc);
    }
    assert_int_equal(fetch_wal(seg4, &o, &err), CF_ERR_KEY);
    assert_non_null(strstr(err.msg, "is not signed"));
    assert_false(o.is_signed);
    cf_error_clear(&err);
    repo.allow_unsigned = true;
    assert_int_equal(fetch_wal(seg4, &o, &err), CF_OK);
    repo.allow_unsigned = false;
}

/* The one object stored for name, as listed by r. */
static bool
find_one(const struct cf_repo *r, const char *name, struct cf_wal_object *o)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_wal_object *v = NULL;
    size_t n = 0;

    assert_int_equal(cf_wal_find(r, name, false, &v, &n, &err), CF_OK);
    assert_true(n <= 1);
    if (n == 1)
        *o = v[0];
    free(v);
    return n == 1;
}

/*
 * Finding 2, the database system: WAL is signed with the system identifier
 * of the cluster that archived it (a segment's own first page decides),
 * readers that know their system skip another's, and the identifier in a
 * key cannot be changed without breaking its signature.  Keys written
 * before ("-s" tails, no system) still read.
 */
static void
test_wal_system(void **state)
{
    static const char seg5[] = "000000010000000000000005", seg6[] = "000000010000000000000006",
                      hist[] = "00000002.history", seg7[] = "000000010000000000000007";
    struct cf_error err = CF_ERROR_INIT;
    struct cf_repo mine = repo;
    struct cf_wal_object o;
    uint8_t page[64];
    uint64_t sysid = 7123456789012345678ULL;
    uint32_t segsz = 16 * 1024 * 1024;
    uint16_t info = 0x0002; /* XLP_LONG_HEADER */
    char hex[65], path[1200], moved[1200];
    bool already = false;
    int fd;

    (void)state;
    /* a segment whose first page names system sysid */
    memset(page, 'w', sizeof(page));
    memcpy(page + 2, &info, sizeof(info));
    memcpy(page + 24, &sysid, sizeof(sysid));
    memcpy(page + 32, &segsz, sizeof(segsz));
    (void)snprintf(path, sizeof(path), "%s/upload", root);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, page, sizeof(page)), (ssize_t)sizeof(page));
    (void)unlink(path);
    assert_int_equal(cf_wal_hash_fd(fd, 0, "upload", hex, &err), CF_OK);
    /* pushed by a cluster of another system: refused, nothing stored */
    assert_int_equal(cf_wal_store(&repo, seg5, fd, 0, hex, sysid + 1, &already, &err),
                     CF_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "belongs to database system 7123456789012345678"));
    cf_error_clear(&err);
    assert_false(find_one(&repo, seg5, &o));
    /* the file's own system, whoever pushes it without knowing theirs */
    assert_int_equal(cf_wal_store(&repo, seg5, fd, 0, hex, 0, &already, &err), CF_OK);
    (void)close(fd);
    assert_true(find_one(&repo, seg5, &o));
    assert_true(o.binds_system);
    assert_int_equal(o.sysid, sysid);
    assert_int_equal(cf_wal_authenticate(&repo, &o, &err), CF_OK);

    /* a history file has no page header: the archiving cluster's system */
    store_sysid = sysid;
    store_wal(&repo, hist, "1\t0/3000000\tno recovery target specified\n");
    store_sysid = 0;
    assert_true(find_one(&repo, hist, &o));
    assert_int_equal(o.sysid, sysid);

    /* a reader of system sysid sees them; a reader of another system does not */
    mine.wal_system = sysid;
    assert_true(find_one(&mine, seg5, &o));
    assert_true(find_one(&mine, hist, &o));
    mine.wal_system = sysid + 1;
    assert_false(find_one(&mine, seg5, &o));
    assert_false(find_one(&mine, hist, &o));
    /* WAL bound to no system (not known when pushed) is everyone's */
    store_wal(&repo, seg6, "segment six, system unknown");
    assert_true(find_one(&mine, seg6, &o));
    assert_true(o.binds_system);
    assert_int_equal(o.sysid, 0);

    /* the system in a key is signed: claiming another one breaks the signature */
    assert_true(find_one(&repo, seg5, &o));
    {
        const char *tail = strchr(strrchr(o.key, '/'), '-') + 66; /* after -<sha256>- */
        uint8_t raw[81];
        size_t len = 0;
        char b64[120];

        assert_int_equal(tail[0], 't');
        assert_int_equal(sodium_base642bin(raw, sizeof(raw), tail + 1, strlen(tail + 1), NULL, &len,
                                           NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                         0);
        assert_int_equal(len, sizeof(raw));
        raw[8] ^= 1; /* the system identifier's last byte */
        (void)sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
                                sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        (void)snprintf(path, sizeof(path), "%s/%s", root, o.key);
        (void)snprintf(moved, sizeof(moved), "%.*st%s", (int)(strlen(path) - strlen(tail)), path,
                       b64);
        assert_int_equal(rename(path, moved), 0);
    }
    assert_true(find_one(&repo, seg5, &o));
    assert_int_equal(o.sysid, sysid ^ 1);
    assert_int_not_equal(cf_wal_authenticate(&repo, &o, &err), CF_OK);
    cf_error_clear(&err);

    /* a key of the earlier form ("-s", signed without a system) still reads */
    {
        struct cf_signed_context sc = {"wal", repo.instance, repo.instance, seg7};
        struct cf_backup_sizes sizes;
        struct cf_source *msrc = NULL;
        struct cf_signature sig;
        struct cf_wal_file f;
        uint8_t digest[32], raw[73];
        char key[512];

        fd = wal_file("segment seven, signed before systems", hex);
        (void)close(fd);
        cf_signed_digest(&sc, hex, 64, digest);
        memset(&sig, 0, sizeof(sig));
        assert_int_equal(repo.keys->sign(repo.keys->ctx, digest, &sig, &err), CF_OK);
        raw[0] = sig.alg;
        memcpy(raw + 1, sig.signer, 8);
        memcpy(raw + 9, sig.value, 64);
        assert_true(cf_wal_parse_name(seg7, &f));
        assert_int_equal(cf_wal_prefix(&repo, &f, key, sizeof(key), &err), CF_OK);
        (void)snprintf(key + strlen(key), sizeof(key) - strlen(key), "%s-%s-s", seg7, hex);
        (void)sodium_bin2base64(key + strlen(key), sizeof(key) - strlen(key), raw, sizeof(raw),
                                sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        assert_int_equal(cf_mem_source_new("segment seven, signed before systems", 36, &msrc, &err),
                         CF_OK);
        assert_int_equal(
            cf_repo_put_key(&repo, key, repo.instance, seg7, CF_OBJ_WAL, msrc, &sizes, &err),
            CF_OK);
        cf_source_free(msrc);
    }
    assert_true(find_one(&mine, seg7, &o));
    assert_true(o.is_signed);
    assert_false(o.binds_system);
    assert_int_equal(fetch_wal(seg7, &o, &err), CF_OK);
}
/* Files in root/dir other than the objects themselves: temporaries, placeholders. */
static int
leftovers(const char *dir)
{
    char path[1200];
    struct dirent *e;
    int n = 0;
    DIR *d;

    (void)snprintf(path, sizeof(path), "%s/%s", root, dir);
    assert_non_null(d = opendir(path));
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    (void)closedir(d);
    return n;
}

/*
 * cf_wal_store_fd reads a file once on posix (the object is named after its
 * digest at close): the same key, signature and digest as the two passes of
 * cf_wal_hash_fd and cf_wal_store; the same answers for a second push of the
 * same content and for other content under the same name; nothing left behind.
 */
static void
test_wal_one_pass(void **state)
{
    static const char seg8[] = "000000010000000000000008", seg9[] = "000000010000000000000009";
    struct cf_error err = CF_ERROR_INIT;
    struct cf_wal_object o, two;
    char hex[65], got[65], dir[600];
    bool already = true;
    int fd;

    (void)state;
    fd = wal_file("segment eight", hex);
    assert_int_equal(cf_wal_store_fd(&repo, seg8, fd, 0, 0, got, &already, &err), CF_OK);
    assert_false(already);
    assert_string_equal(got, hex);
    assert_true(find_one(&repo, seg8, &o));
    assert_string_equal(o.sha256, hex);
    assert_true(o.is_signed);
    assert_int_equal(cf_wal_authenticate(&repo, &o, &err), CF_OK);
    assert_int_equal(fetch_wal(seg8, &o, &err), CF_OK);
    (void)snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(o.key, '/') - o.key), o.key);
    assert_int_equal(leftovers(dir), 0);
    /* the same content again: already there, nothing written */
    assert_int_equal(cf_wal_store_fd(&repo, seg8, fd, 0, 0, got, &already, &err), CF_OK);
    assert_true(already);
    assert_string_equal(got, hex);
    (void)close(fd);
    /* other content under the same name: refused, as cf_wal_store does */
    fd = wal_file("segment eight, rewritten", hex);
    assert_int_equal(cf_wal_store_fd(&repo, seg8, fd, 0, 0, got, &already, &err), CF_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "already archived with different content"));
    cf_error_clear(&err);
    (void)close(fd);
    assert_true(find_one(&repo, seg8, &o));
    /* the key is the one the two-pass store writes */
    store_wal(&repo, seg9, "segment nine");
    assert_true(find_one(&repo, seg9, &two));
    fd = wal_file("segment nine", hex);
    assert_int_equal(cf_wal_store_fd(&repo, seg9, fd, 0, 0, got, &already, &err), CF_OK);
    assert_true(already);
    (void)close(fd);
    assert_string_equal(got, two.sha256);
    assert_int_equal(leftovers(dir), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_round_trip),
        cmocka_unit_test(test_unsigned_manifest),
        cmocka_unit_test(test_forged_manifest),
        cmocka_unit_test(test_edited_envelope),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_wal_signed),
        cmocka_unit_test(test_wal_system),
        cmocka_unit_test(test_wal_one_pass),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
