/*
 * test_basebackup_proto.c - BASE_BACKUP's CopyData framing on streams from a
 * buffer: archives and the manifest reach the handler with their bytes (also
 * through a small read buffer), and every malformed stream fails with its
 * own message.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/basebackup_proto.h"
#include "common/cancel.h"

/* A stream under construction: length-prefixed messages. */
struct stream {
    uint8_t buf[4096];
    size_t len;
};

static void
add(struct stream *s, const char *msg, size_t len)
{
    assert_true(s->len + 2 + len <= sizeof(s->buf));
    s->buf[s->len++] = (uint8_t)(len >> 8);
    s->buf[s->len++] = (uint8_t)len;
    memcpy(s->buf + s->len, msg, len);
    s->len += len;
}

/* A literal's bytes without its terminating NUL: "nbase.tar\0\0" is 'n', name, path "". */
#define MSG(s, lit) add((s), (lit), sizeof(lit) - 1)

/* What the handler saw. */
struct seen {
    size_t cap;  /* read buffer size */
    cf_err fail; /* returned by the handler instead of reading (CF_OK: read) */
    size_t n;
    char name[4][32], location[4][64], data[4][64];
    uint32_t oid[4];
    char manifest[64];
    int manifests;
};

static cf_err
drain(struct seen *w, struct cf_source *src, char *out, size_t size, struct cf_error *err)
{
    size_t len = 0, n;
    char buf[64];

    do {
        if (cf_source_read(src, buf, w->cap, &n, err) != CF_OK)
            return err->code;
        assert_true(n <= w->cap);
        assert_true(len + n < size);
        memcpy(out + len, buf, n);
        len += n;
    } while (n > 0);
    out[len] = '\0';
    return CF_OK;
}

static cf_err
on_archive(void *ctx, const char *name, uint32_t oid, const char *location, struct cf_source *data,
           struct cf_error *err)
{
    struct seen *w = ctx;
    size_t i = w->n++;

    assert_true(i < 4);
    if (w->fail != CF_OK)
        return cf_error_set(err, w->fail, "could not store \"%s\"", name);
    (void)snprintf(w->name[i], sizeof(w->name[i]), "%s", name);
    (void)snprintf(w->location[i], sizeof(w->location[i]), "%s", location);
    w->oid[i] = oid;
    return drain(w, data, w->data[i], sizeof(w->data[i]), err);
}

static cf_err
on_manifest(void *ctx, struct cf_source *data, struct cf_error *err)
{
    struct seen *w = ctx;

    w->manifests++;
    return drain(w, data, w->manifest, sizeof(w->manifest), err);
}

static cf_err
receive(const struct stream *s, struct seen *w, struct cf_error *err)
{
    struct cf_bb_mem_msgs msgs;
    const struct cf_bb_handler h = {on_archive, on_manifest, w};

    if (w->cap == 0)
        w->cap = 64;
    cf_bb_mem_msgs_init(&msgs, s->buf, s->len);
    cf_error_clear(err);
    return cf_bb_receive(&msgs.base, &h, err);
}

/* The shape PostgreSQL 15 sends: progress messages anywhere, a tablespace. */
static void
good_stream(struct stream *s)
{
    memset(s, 0, sizeof(*s));
    MSG(s, "nbase.tar\0\0");
    MSG(s, "dabc");
    MSG(s, "p\0\0\0\0\0\0\0\3");
    MSG(s, "dde");
    MSG(s, "n16385.tar\0/srv/ts1\0");
    MSG(s, "p\0\0\0\0\0\0\0\6");
    MSG(s, "dxyz");
    MSG(s, "m");
    MSG(s, "d{\"Files\": ");
    MSG(s, "d[]}");
}

static void
test_good(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct stream s;

    (void)state;
    good_stream(&s);
    for (size_t cap = 1; cap <= 64; cap *= 4) {
        struct seen w = {.cap = cap};

        assert_int_equal(receive(&s, &w, &err), CF_OK);
        assert_int_equal(w.n, 2);
        assert_string_equal(w.name[0], "base.tar");
        assert_int_equal(w.oid[0], 0);
        assert_string_equal(w.location[0], "");
        assert_string_equal(w.data[0], "abcde");
        assert_string_equal(w.name[1], "16385.tar");
        assert_int_equal(w.oid[1], 16385);
        assert_string_equal(w.location[1], "/srv/ts1");
        assert_string_equal(w.data[1], "xyz");
        assert_int_equal(w.manifests, 1);
        assert_string_equal(w.manifest, "{\"Files\": []}");
    }
}

/* An archive with no data, the largest OID, the manifest first. */
static void
test_edges(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct stream s = {{0}, 0};
    struct seen w = {0};

    (void)state;
    MSG(&s, "m");
    MSG(&s, "n4294967295.tar\0/ts\0");
    MSG(&s, "nbase.tar\0\0");
    assert_int_equal(receive(&s, &w, &err), CF_OK);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.oid[0], 4294967295u);
    assert_string_equal(w.data[0], "");
    assert_string_equal(w.manifest, "");
}

static char last_detail[512];

static void
expect(const struct stream *s, cf_err code, const char *msg)
{
    struct cf_error err = CF_ERROR_INIT;
    struct seen w = {0};

    assert_int_equal(receive(s, &w, &err), code);
    assert_string_equal(err.msg, msg);
    (void)snprintf(last_detail, sizeof(last_detail), "%s", err.detail);
}

/* One bad 'n' message after a good start. */
static void
expect_bad_header(const char *hdr, size_t len)
{
    struct stream s = {{0}, 0};

    MSG(&s, "nbase.tar\0\0");
    add(&s, hdr, len);
    MSG(&s, "m");
    expect(&s, CF_ERR_PG, "unexpected archive header in the base backup stream");
}

#define BAD_HEADER(lit) expect_bad_header((lit), sizeof(lit) - 1)

static void
test_bad_headers(void **state)
{
    (void)state;
    BAD_HEADER("n");                    /* nothing */
    BAD_HEADER("nbase.tar");            /* name without its NUL */
    BAD_HEADER("nbase.tar\0");          /* no path */
    BAD_HEADER("n16385.tar\0/srv");     /* path without its NUL */
    BAD_HEADER("n16385.tar\0srv/ts\0"); /* relative location */
    BAD_HEADER("n16385.tar\0\0");       /* none */
    BAD_HEADER("n\0/srv\0");            /* no name */
    BAD_HEADER("npg_wal.tar\0\0");
    BAD_HEADER("nbase.tar.gz\0\0");
    BAD_HEADER("n0.tar\0/srv\0");          /* OID 0 is invalid */
    /* fuzz_basebackup: a leading zero named OID 8192's object "08192.tar", and
     * enough of them made a name that the 64-byte object name cut short */
    BAD_HEADER("n08192.tar\0/srv/ts1\0");
    BAD_HEADER("n000000000000000000000000000000000000"
               "000000000000000000000000000000016385.tar\0/srv\0");
    BAD_HEADER("n4294967296.tar\0/srv\0"); /* past 32 bits */
    BAD_HEADER("n99999999999999999999.tar\0/srv\0");
    BAD_HEADER("n16385.tarx\0/srv\0");
    BAD_HEADER("n16385\0/srv\0");
    BAD_HEADER("n-1.tar\0/srv\0");
    BAD_HEADER("n../16385.tar\0/srv\0");
}

static void
test_bad_streams(void **state)
{
    struct stream s;
    char want[128];

    (void)state;
    memset(&s, 0, sizeof(s));
    expect(&s, CF_ERR_PG, "the server sent no backup_manifest"); /* empty */

    good_stream(&s);
    MSG(&s, "m");
    expect(&s, CF_ERR_PG, "the server sent two backup manifests");

    memset(&s, 0, sizeof(s));
    MSG(&s, "nbase.tar\0\0");
    MSG(&s, "dabc");
    expect(&s, CF_ERR_PG, "the server sent no backup_manifest");

    memset(&s, 0, sizeof(s));
    MSG(&s, "n16385.tar\0/srv/ts1\0");
    MSG(&s, "m");
    expect(&s, CF_ERR_PG, "the server sent no base.tar");

    memset(&s, 0, sizeof(s));
    MSG(&s, "dabc"); /* data before any archive */
    MSG(&s, "nbase.tar\0\0");
    MSG(&s, "m");
    expect(&s, CF_ERR_PG, "unexpected message type 0x64 in the base backup stream");

    memset(&s, 0, sizeof(s));
    MSG(&s, "x");
    expect(&s, CF_ERR_PG, "unexpected message type 0x78 in the base backup stream");

    good_stream(&s); /* inside an archive, from its reader */
    MSG(&s, "\xff");
    expect(&s, CF_ERR_PG, "unexpected message type 0xff in the base backup stream");

    /* the connection breaks: a message shorter than announced, an empty one */
    good_stream(&s);
    (void)snprintf(want, sizeof(want), "A message at byte %zu is empty or truncated.", s.len);
    s.buf[s.len++] = 0;
    s.buf[s.len++] = 9;
    s.buf[s.len++] = 'd';
    expect(&s, CF_ERR_PG, "base backup stream failed");
    assert_string_equal(last_detail, want);
    good_stream(&s);
    add(&s, "", 0);
    expect(&s, CF_ERR_PG, "base backup stream failed");
    assert_string_equal(last_detail, want);
}

static void
test_handler_errors(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct stream s;
    struct seen w = {.fail = CF_ERR_IO};

    (void)state;
    good_stream(&s);
    assert_int_equal(receive(&s, &w, &err), CF_ERR_IO);
    assert_string_equal(err.msg, "could not store \"base.tar\"");
    assert_int_equal(w.n, 1);
    assert_int_equal(w.manifests, 0);
}

static void
test_cancel(void **state)
{
    struct stream s;

    (void)state;
    good_stream(&s);
    cf_cancel_install();
    assert_int_equal(raise(SIGTERM), 0);
    expect(&s, CF_ERR_CANCELLED, "interrupted by signal SIGTERM");
    cf_cancel_reset();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),           cmocka_unit_test(test_edges),
        cmocka_unit_test(test_bad_headers),    cmocka_unit_test(test_bad_streams),
        cmocka_unit_test(test_handler_errors), cmocka_unit_test(test_cancel),
    };

    return cmocka_run_group_tests_name("basebackup_proto", tests, NULL, NULL);
}
