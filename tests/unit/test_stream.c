/*
 * test_stream.c - the filters and the object format, with a fixed test key.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <zstd.h>

#include "common/cancel.h"
#include "stream/handoff.h"
#include "stream/pipeline.h"
#include "stream/zstd.h"
#include "tests/unit/support/testkeys.h"

#define INPUT_LEN (300 * 1024 + 17)

static uint8_t *input;

static int
setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    input = malloc(INPUT_LEN);
    /* half compressible text, half random: exercises both zstd paths */
    for (size_t i = 0; i < INPUT_LEN / 2; i++)
        input[i] = (uint8_t)("coffre strongbox "[i % 17]);
    randombytes_buf(input + INPUT_LEN / 2, INPUT_LEN - INPUT_LEN / 2);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    free(input);
    return 0;
}

static void
write_in_steps(struct cf_sink *head, const uint8_t *data, size_t len, size_t step)
{
    struct cf_error err = CF_ERROR_INIT;

    for (size_t off = 0; off < len; off += step) {
        size_t k = len - off < step ? len - off : step;

        assert_int_equal(cf_sink_write(head, data + off, k, &err), CF_OK);
    }
}

/* Encrypt input into memory with the given write size; returns the object. */
static uint8_t *
make_object(struct cf_keyops *ops, size_t step, size_t *len, struct cf_backup_sizes *sizes)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_encrypt_options enc = {CF_OBJ_DUMP, "20261122T000000Z", "db/app.dump", 4096};
    struct cf_compress_options comp = {3, 0, false};
    struct cf_backup_chain chain;
    struct cf_sink *mem = NULL;
    const uint8_t *data;
    uint8_t *copy;

    assert_int_equal(cf_mem_sink_new(64 * 1024 * 1024, &mem, &err), CF_OK);
    assert_int_equal(cf_backup_chain_new(ops, &enc, &comp, mem, &chain, &err), CF_OK);
    write_in_steps(chain.head, input, INPUT_LEN, step);
    assert_int_equal(cf_sink_close(chain.head, &err), CF_OK);
    cf_backup_chain_sizes(&chain, sizes);
    data = cf_mem_sink_data(mem, len);
    copy = malloc(*len);
    memcpy(copy, data, *len);
    cf_sink_free(chain.head);
    return copy;
}

/* Decrypt obj with the given write size; returns the code, output in *out. */
static cf_err
open_object(struct cf_keyops *ops, const uint8_t *obj, size_t len, size_t step,
            const uint8_t *sha, struct cf_error *err, uint8_t **out, size_t *out_len)
{
    struct cf_decrypt_expect expect = {"20261122T000000Z", "db/app.dump", CF_OBJ_DUMP};
    struct cf_restore_chain chain;
    struct cf_sink *mem = NULL;
    cf_err rc;

    assert_int_equal(cf_mem_sink_new(64 * 1024 * 1024, &mem, err), CF_OK);
    assert_int_equal(cf_restore_chain_new(ops, &expect, "test/object", sha, mem, &chain, err),
                     CF_OK);
    rc = CF_OK;
    for (size_t off = 0; off < len && rc == CF_OK; off += step) {
        size_t k = len - off < step ? len - off : step;

        rc = cf_sink_write(chain.head, obj + off, k, err);
    }
    if (rc == CF_OK)
        rc = cf_sink_close(chain.head, err);
    if (rc == CF_OK && out != NULL) {
        const uint8_t *d = cf_mem_sink_data(mem, out_len);

        *out = malloc(*out_len + 1);
        memcpy(*out, d, *out_len);
    }
    cf_sink_free(chain.head);
    return rc;
}

static void
test_round_trip_any_write_size(void **state)
{
    static const size_t steps[] = {1, 7, 65536, INPUT_LEN};
    struct testkeys tk;
    struct cf_keyops ops;
    uint8_t digest[CF_SHA256_BYTES];

    (void)state;
    testkeys_init(&tk, 1, "pkcs11:token=test;object=k1");
    ops = testkeys_ops(&tk);
    crypto_hash_sha256(digest, input, INPUT_LEN);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct cf_backup_sizes sz;
        struct cf_error err = CF_ERROR_INIT;
        size_t len, out_len;
        uint8_t *obj = make_object(&ops, steps[i], &len, &sz), *out = NULL;

        assert_memory_equal(sz.sha256, digest, CF_SHA256_BYTES);
        assert_int_equal(sz.plain, INPUT_LEN);
        assert_int_equal(sz.stored, len);
        assert_true(sz.compressed < sz.plain);
        for (size_t j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
            assert_int_equal(open_object(&ops, obj, len, steps[j], digest, &err, &out, &out_len),
                             CF_OK);
            assert_int_equal(out_len, INPUT_LEN);
            assert_memory_equal(out, input, INPUT_LEN);
            free(out);
        }
        free(obj);
    }
}

/* The compressed stream does not depend on how the input was split. */
static void
test_zstd_output_independent_of_write_size(void **state)
{
    static const size_t steps[] = {1, 7, 65536, INPUT_LEN};
    uint8_t *first = NULL;
    size_t first_len = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct cf_error err = CF_ERROR_INIT;
        struct cf_sink *mem = NULL, *zs = NULL;
        const uint8_t *d;
        size_t len;

        assert_int_equal(cf_mem_sink_new(16 * 1024 * 1024, &mem, &err), CF_OK);
        assert_int_equal(cf_zstd_compress_new(3, 0, mem, &zs, &err), CF_OK);
        write_in_steps(zs, input, INPUT_LEN, steps[i]);
        assert_int_equal(cf_sink_close(zs, &err), CF_OK);
        d = cf_mem_sink_data(mem, &len);
        /* the zstd library itself can read it */
        assert_int_equal(ZSTD_getFrameContentSize(d, len) == ZSTD_CONTENTSIZE_ERROR, 0);
        if (first == NULL) {
            first = malloc(len);
            memcpy(first, d, len);
            first_len = len;
        } else {
            assert_int_equal(len, first_len);
            assert_memory_equal(d, first, len);
        }
        cf_sink_free(zs);
    }
    free(first);
}

static void
expect_corrupt(struct cf_keyops *ops, const uint8_t *obj, size_t len, const char *want)
{
    struct cf_error err = CF_ERROR_INIT;

    assert_int_equal(open_object(ops, obj, len, 65536, NULL, &err, NULL, NULL), CF_ERR_CORRUPT);
    assert_string_equal(err.msg, want);
}

/* A payload whose decompressed size is an exact multiple of zstd's output
 * buffer (16 MiB of zeros: a quiet WAL segment) must round-trip: the frame
 * ends on a full buffer, and the extra decompression call that follows must
 * not be taken for truncation. */
static void
test_zstd_output_buffer_multiple(void **state)
{
    size_t len = (size_t)16 * 1024 * 1024, got_len = 0;
    uint8_t *zeros = calloc(1, len);
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *cmem = NULL, *comp = NULL, *dmem = NULL, *dec = NULL;
    const uint8_t *packed, *plain;
    size_t packed_len = 0;

    (void)state;
    assert_non_null(zeros);
    assert_int_equal(len % ZSTD_DStreamOutSize(), 0);
    assert_int_equal(cf_mem_sink_new(len, &cmem, &err), CF_OK);
    assert_int_equal(cf_zstd_compress_new(3, 0, cmem, &comp, &err), CF_OK);
    write_in_steps(comp, zeros, len, 65536);
    assert_int_equal(cf_sink_close(comp, &err), CF_OK);
    packed = cf_mem_sink_data(cmem, &packed_len);
    for (size_t step = 1; step <= packed_len; step = step * 7 + 1) {
        assert_int_equal(cf_mem_sink_new(len, &dmem, &err), CF_OK);
        assert_int_equal(cf_zstd_decompress_new("zeros", dmem, &dec, &err), CF_OK);
        write_in_steps(dec, packed, packed_len, step);
        assert_int_equal(cf_sink_close(dec, &err), CF_OK);
        plain = cf_mem_sink_data(dmem, &got_len);
        assert_int_equal(got_len, len);
        assert_memory_equal(plain, zeros, len);
        cf_sink_free(dec);
    }
    cf_sink_free(comp);
    free(zeros);
}

/* level = auto: an object of several frames (32 MiB of input each) decompresses
 * as one stream, whatever the write size, and is not larger than level 1's. */
static void
test_zstd_auto_frames(void **state)
{
    size_t len = (size_t)80 * 1024 * 1024 + 12345, got_len = 0, packed_len = 0, frames = 0;
    uint8_t *data = malloc(len);
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *cmem = NULL, *comp = NULL, *dmem = NULL, *dec = NULL;
    const uint8_t *packed, *plain;

    (void)state;
    assert_non_null(data);
    for (size_t i = 0; i < len; i += INPUT_LEN)
        memcpy(data + i, input, len - i < INPUT_LEN ? len - i : INPUT_LEN);
    assert_int_equal(cf_mem_sink_new(len, &cmem, &err), CF_OK);
    assert_int_equal(cf_zstd_compress_new(CF_ZSTD_AUTO, 0, cmem, &comp, &err), CF_OK);
    write_in_steps(comp, data, len, 1000003);
    assert_int_equal(cf_sink_close(comp, &err), CF_OK);
    packed = cf_mem_sink_data(cmem, &packed_len);
    /* three frames: 32 + 32 + 16 MiB and a bit */
    for (size_t off = 0; off < packed_len; frames++) {
        size_t fl = ZSTD_findFrameCompressedSize(packed + off, packed_len - off);

        assert_false(ZSTD_isError(fl));
        off += fl;
    }
    assert_int_equal(frames, 3);
    assert_int_equal(cf_mem_sink_new(len, &dmem, &err), CF_OK);
    assert_int_equal(cf_zstd_decompress_new("auto", dmem, &dec, &err), CF_OK);
    write_in_steps(dec, packed, packed_len, 65536);
    assert_int_equal(cf_sink_close(dec, &err), CF_OK);
    plain = cf_mem_sink_data(dmem, &got_len);
    assert_int_equal(got_len, len);
    assert_memory_equal(plain, data, len);
    /* a reader stopping after the first frame of several is still told */
    cf_sink_free(dec);
    assert_int_equal(cf_mem_sink_new(len, &dmem, &err), CF_OK);
    assert_int_equal(cf_zstd_decompress_new("auto", dmem, &dec, &err), CF_OK);
    write_in_steps(dec, packed, ZSTD_findFrameCompressedSize(packed, packed_len) + 7, 4096);
    assert_int_equal(cf_sink_close(dec, &err), CF_ERR_CORRUPT);
    cf_sink_free(dec);
    cf_sink_free(comp);
    free(data);
}

/* The rule that picks the next frame's level. */
static int
next_level(int level, double wall, double cpu, double queued)
{
    const struct cf_zstd_clock from = {1000000000, 5000000, 7000000};
    const struct cf_zstd_clock to = {from.wall + (int64_t)(wall * 1e9),
                                     from.cpu + (int64_t)(cpu * 1e9),
                                     from.queued + (int64_t)(queued * 1e9)};

    return cf_zstd_auto_next_level(level, &from, &to);
}

static void
test_zstd_auto_rule(void **state)
{
    struct cf_zstd_clock a, b;

    (void)state;
    /* never blocked: compressing sets the pace -> down, not below 1 */
    assert_int_equal(next_level(3, 10, 9.8, 0), 2);
    assert_int_equal(next_level(1, 10, 9.8, 0), 1);
    /* runnable but waiting for a core (the database is busy) is not spare time */
    assert_int_equal(next_level(2, 10, 5, 4.8), 1);
    /* blocked on input or output a good part of the frame -> up, to the ceiling */
    assert_int_equal(next_level(1, 10, 6, 0.5), 2);
    assert_int_equal(next_level(2, 10, 7, 0), 3);
    assert_int_equal(next_level(CF_ZSTD_AUTO_MAX, 10, 5, 0), CF_ZSTD_AUTO_MAX);
    /* in between: stay */
    assert_int_equal(next_level(2, 10, 8.5, 0.5), 2);
    assert_int_equal(next_level(2, 0, 0, 0), 2);
    /* the clock itself moves forward and counts this thread's CPU */
    cf_zstd_clock_now(&a);
    for (volatile unsigned long i = 0; i < 20000000; i++)
        ;
    cf_zstd_clock_now(&b);
    assert_true(b.wall > a.wall);
    assert_true(b.cpu > a.cpu);
    assert_true(b.queued >= a.queued);
}

static void
test_corruption_is_detected(void **state)
{
    struct testkeys tk;
    struct cf_keyops ops;
    struct cf_backup_sizes sz;
    size_t len;
    uint8_t *obj;
    uint8_t *copy;

    (void)state;
    testkeys_init(&tk, 2, "pkcs11:token=test;object=k2");
    ops = testkeys_ops(&tk);
    obj = make_object(&ops, 65536, &len, &sz);
    copy = malloc(len);

    /* a flipped byte in the payload */
    memcpy(copy, obj, len);
    copy[len / 2] ^= 0x01;
    assert_int_equal(open_object(&ops, copy, len, 65536, NULL, &(struct cf_error)CF_ERROR_INIT,
                                 NULL, NULL), CF_ERR_CORRUPT);
    /* truncated: drop the final chunk exactly (last chunk < chunk size + 17) */
    {
        struct cf_error err = CF_ERROR_INIT;
        char want[128];
        size_t chunks = (len - 200) / (4096 + crypto_secretstream_xchacha20poly1305_ABYTES);

        /* the header is < 200 bytes here, so this is the last chunk's number */
        (void)snprintf(want, sizeof(want), "could not decrypt chunk %zu of object \"test/object\": "
                       "authentication failed", chunks);
        assert_int_equal(open_object(&ops, obj, len - 1, 65536, NULL, &err, NULL, NULL),
                         CF_ERR_CORRUPT);
        assert_string_equal(err.msg, want);
    }
    /* a flipped byte in the header's name is caught by the expectations */
    memcpy(copy, obj, len);
    copy[CF_OBJECT_MAGIC_LEN + 2 + 1 + 1 + 4 + 2 + 16 + 2] ^= 0x20;
    expect_corrupt(&ops, copy, len, "object \"test/object\" holds another object's content");
    /* bad magic */
    memcpy(copy, obj, len);
    copy[1] = 'X';
    expect_corrupt(&ops, copy, len,
                   "invalid header in object \"test/object\": not a coffre object (bad magic)");
    /* empty object */
    expect_corrupt(&ops, obj, 0, "object \"test/object\" is truncated: it is empty");
    /* header only */
    expect_corrupt(&ops, obj, 40, "object \"test/object\" is truncated: its header is incomplete");
    /* trailing garbage after the final chunk */
    {
        uint8_t *longer = malloc(len + 40);

        memcpy(longer, obj, len);
        memset(longer + len, 0, 40);
        assert_int_equal(open_object(&ops, longer, len + 40, 65536, NULL,
                                     &(struct cf_error)CF_ERROR_INIT, NULL, NULL),
                         CF_ERR_CORRUPT);
        free(longer);
    }
    free(copy);
    free(obj);
}

/* Whole chunks dropped from the end: the final tag is missing. */
static void
test_dropped_final_chunk(void **state)
{
    struct testkeys tk;
    struct cf_keyops ops;
    struct cf_backup_sizes sz;
    struct cf_object_header *h = malloc(sizeof(*h));
    struct cf_error err = CF_ERROR_INIT;
    size_t len, core, total, chunk_ct = 4096 + crypto_secretstream_xchacha20poly1305_ABYTES;
    uint8_t *obj;

    (void)state;
    testkeys_init(&tk, 3, "pkcs11:token=test;object=k3");
    ops = testkeys_ops(&tk);
    obj = make_object(&ops, 65536, &len, &sz);
    assert_int_equal(cf_object_parse(obj, len, "x", h, &core, &total, &err), CF_OK);
    assert_true(total > 0);
    /* keep the header and the first two full chunks */
    expect_corrupt(&ops, obj, total + 2 * chunk_ct,
                   "object \"test/object\" is truncated: its final chunk is missing");
    free(h);
    free(obj);
}

/* Headers swapped between two objects: the DEK no longer opens the payload. */
static void
test_swapped_headers(void **state)
{
    struct testkeys tk;
    struct cf_keyops ops;
    struct cf_backup_sizes sz;
    struct cf_object_header *h = malloc(sizeof(*h));
    struct cf_error err = CF_ERROR_INIT;
    size_t la, lb, core, ta, tb;
    uint8_t *a, *b, *mix;

    (void)state;
    testkeys_init(&tk, 4, "pkcs11:token=test;object=k4");
    ops = testkeys_ops(&tk);
    a = make_object(&ops, 65536, &la, &sz);
    b = make_object(&ops, 65536, &lb, &sz);
    assert_int_equal(cf_object_parse(a, la, "a", h, &core, &ta, &err), CF_OK);
    assert_int_equal(cf_object_parse(b, lb, "b", h, &core, &tb, &err), CF_OK);
    mix = malloc(tb + la - ta);
    memcpy(mix, b, tb);
    memcpy(mix + tb, a + ta, la - ta);
    expect_corrupt(&ops, mix, tb + la - ta,
                   "could not decrypt chunk 0 of object \"test/object\": authentication failed");
    free(mix);
    free(a);
    free(b);
    free(h);
}

static void
test_wrong_key_and_checksum(void **state)
{
    struct testkeys tk, other;
    struct cf_keyops ops, other_ops;
    struct cf_backup_sizes sz;
    struct cf_error err = CF_ERROR_INIT;
    uint8_t bad[CF_SHA256_BYTES] = {0};
    size_t len;
    uint8_t *obj;

    (void)state;
    testkeys_init(&tk, 5, "pkcs11:token=test;object=k5");
    testkeys_init(&other, 6, "pkcs11:token=test;object=k6");
    ops = testkeys_ops(&tk);
    other_ops = testkeys_ops(&other);
    obj = make_object(&ops, 65536, &len, &sz);
    assert_int_equal(open_object(&other_ops, obj, len, 65536, NULL, &err, NULL, NULL), CF_ERR_KEY);
    cf_error_clear(&err);
    assert_int_equal(open_object(&ops, obj, len, 65536, bad, &err, NULL, NULL), CF_ERR_CORRUPT);
    assert_string_equal(err.msg, "checksum mismatch in object \"test/object\"");
    free(obj);
}

static void
test_wrap_failure_writes_nothing(void **state)
{
    struct testkeys tk;
    struct cf_keyops ops;
    struct cf_error err = CF_ERROR_INIT;
    struct cf_encrypt_options enc = {CF_OBJ_DUMP, "20261122T000000Z", "db/app.dump", 4096};
    struct cf_compress_options comp = {3, 0, false};
    struct cf_backup_chain chain;
    struct cf_sink *mem = NULL;

    (void)state;
    testkeys_init(&tk, 7, "pkcs11:token=test;object=k7");
    tk.fail_wrap = 1;
    ops = testkeys_ops(&tk);
    assert_int_equal(cf_mem_sink_new(1024, &mem, &err), CF_OK);
    assert_int_equal(cf_backup_chain_new(&ops, &enc, &comp, mem, &chain, &err), CF_ERR_KEY);
    assert_string_equal(err.msg, "test key refuses to wrap");
}

static void
test_chain_order_enforced(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *mem = NULL, *zs = NULL, *tap = NULL, *z2 = NULL;

    (void)state;
    assert_int_equal(cf_mem_sink_new(1024, &mem, &err), CF_OK);
    assert_int_equal(cf_hash_tap_new(mem, &tap, &err), CF_OK);
    /* zstd (COMPRESS) may not come before a SOURCE_TAP */
    assert_int_equal(cf_zstd_compress_new(3, 0, tap, &z2, &err), CF_ERR_INTERNAL);
    assert_string_equal(err.msg, "cannot chain sink \"zstd\" before sink \"sha256\"");
    (void)zs;
    cf_sink_free(tap);
}

/* Random bytes never crash the header parser or the decrypt chain. */
static void
test_garbage_input(void **state)
{
    struct testkeys tk;
    struct cf_keyops ops;
    uint8_t buf[2048];

    (void)state;
    testkeys_init(&tk, 8, "pkcs11:token=test;object=k8");
    ops = testkeys_ops(&tk);
    for (int i = 0; i < 200; i++) {
        struct cf_error err = CF_ERROR_INIT;
        size_t n = (size_t)randombytes_uniform(sizeof(buf));

        randombytes_buf(buf, sizeof(buf));
        if (i % 2 == 0)
            memcpy(buf, CF_OBJECT_MAGIC "\x00\x01", 10);
        assert_int_not_equal(open_object(&ops, buf, n, 1 + (size_t)(i % 64), NULL, &err, NULL,
                                         NULL), CF_OK);
    }
}

/* ---- handoff: the rest of the chain in a worker thread */

#define HANDOFF_LEN (3 * CF_HANDOFF_BYTES + 12345)

/* Everything arrives, in order, whatever the write sizes. */
static void
test_handoff_passes_everything(void **state)
{
    static const size_t steps[] = {1, 4097, CF_HANDOFF_BYTES / 4, CF_HANDOFF_BYTES + 3};
    uint8_t *data = malloc(HANDOFF_LEN);

    (void)state;
    assert_non_null(data);
    randombytes_buf(data, HANDOFF_LEN);
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        struct cf_error err = CF_ERROR_INIT;
        struct cf_sink *mem = NULL, *h = NULL;
        const uint8_t *got;
        size_t len = steps[k] == 1 ? 100000 : HANDOFF_LEN;

        assert_int_equal(cf_mem_sink_new(HANDOFF_LEN, &mem, &err), CF_OK);
        assert_int_equal(cf_handoff_new(mem, &h, &err), CF_OK);
        write_in_steps(h, data, len, steps[k]);
        assert_int_equal(cf_sink_close(h, &err), CF_OK);
        got = cf_mem_sink_data(mem, &len);
        assert_int_equal(len, steps[k] == 1 ? 100000 : HANDOFF_LEN);
        assert_memory_equal(got, data, len);
        cf_sink_free(h);
    }
    free(data);
}

/* A failure behind the handoff comes back with its own message, and the
 * chain is aborted; nothing hangs. */
static void
test_handoff_returns_next_error(void **state)
{
    uint8_t *data = calloc(1, HANDOFF_LEN);
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *mem = NULL, *h = NULL;
    cf_err rc = CF_OK;

    (void)state;
    assert_non_null(data);
    /* fails on the first slot already */
    assert_int_equal(cf_mem_sink_new(1000, &mem, &err), CF_OK);
    assert_int_equal(cf_handoff_new(mem, &h, &err), CF_OK);
    for (size_t off = 0; off < HANDOFF_LEN && rc == CF_OK; off += 65536)
        rc = cf_sink_write(h, data + off, HANDOFF_LEN - off < 65536 ? HANDOFF_LEN - off : 65536,
                           &err);
    if (rc == CF_OK)
        rc = cf_sink_close(h, &err);
    assert_int_equal(rc, CF_ERR_CORRUPT);
    assert_string_equal(err.msg, "object is larger than the 1000 bytes expected");
    cf_sink_free(h);

    /* fails only in close(), on the last partial slot */
    cf_error_clear(&err);
    assert_int_equal(cf_mem_sink_new(HANDOFF_LEN - 1, &mem, &err), CF_OK);
    assert_int_equal(cf_handoff_new(mem, &h, &err), CF_OK);
    write_in_steps(h, data, HANDOFF_LEN, 65536);
    assert_int_equal(cf_sink_close(h, &err), CF_ERR_CORRUPT);
    cf_sink_free(h);
    free(data);
}

/* A sink whose writes wait until the test opens the gate. */
struct gate_sink {
    struct cf_sink base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    size_t bytes;
};

static cf_err
gate_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct gate_sink *g = (struct gate_sink *)s;

    (void)data, (void)err;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    g->bytes += len;
    pthread_mutex_unlock(&g->mu);
    return CF_OK;
}

static cf_err
gate_close(struct cf_sink *s, struct cf_error *err)
{
    (void)s, (void)err;
    return CF_OK;
}

static void
gate_free(struct cf_sink *s)
{
    (void)s; /* on the test's stack */
}

static const struct cf_sink_ops gate_ops = {
    "gate", CF_STAGE_TERMINAL, gate_write, gate_close, NULL, gate_free,
};

static void
gate_open(struct gate_sink *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* A signal reaches the calling thread while it waits for a free slot: the
 * write fails with CF_ERR_CANCELLED instead of waiting for the worker; abort
 * drops what is queued. */
static void
test_handoff_cancel_while_full(void **state)
{
    static uint8_t chunk[65536];
    struct gate_sink g = {
        {&gate_ops, NULL, CF_SINK_OPEN}, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *h = NULL;
    cf_err rc = CF_OK;
    size_t written = 0;

    (void)state;
    cf_cancel_install();
    assert_int_equal(cf_handoff_new(&g.base, &h, &err), CF_OK);
    /* the slots fill up (the worker waits at the gate with the first one);
     * the write after that waits for a free slot and sees the signal */
    while (written < 2 * CF_HANDOFF_BYTES && rc == CF_OK) {
        if (written == CF_HANDOFF_BYTES)
            (void)raise(SIGTERM);
        rc = cf_sink_write(h, chunk, sizeof(chunk), &err);
        written += sizeof(chunk);
    }
    assert_int_equal(rc, CF_ERR_CANCELLED);
    assert_true(written <= CF_HANDOFF_BYTES + 2 * sizeof(chunk));
    gate_open(&g);
    cf_sink_abort(h);
    assert_true(g.bytes <= CF_HANDOFF_BYTES);
    cf_sink_free(h);
    cf_cancel_reset();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_any_write_size),
        cmocka_unit_test(test_zstd_output_independent_of_write_size),
        cmocka_unit_test(test_zstd_output_buffer_multiple),
        cmocka_unit_test(test_zstd_auto_frames),
        cmocka_unit_test(test_zstd_auto_rule),
        cmocka_unit_test(test_corruption_is_detected),
        cmocka_unit_test(test_dropped_final_chunk),
        cmocka_unit_test(test_swapped_headers),
        cmocka_unit_test(test_wrong_key_and_checksum),
        cmocka_unit_test(test_wrap_failure_writes_nothing),
        cmocka_unit_test(test_chain_order_enforced),
        cmocka_unit_test(test_garbage_input),
        cmocka_unit_test(test_handoff_passes_everything),
        cmocka_unit_test(test_handoff_returns_next_error),
        cmocka_unit_test(test_handoff_cancel_while_full),
    };

    return cmocka_run_group_tests_name("stream", tests, setup, teardown);
}
