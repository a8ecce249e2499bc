/*
 * test_walstream.c - the wal-stream spool without a server: writes that cross
 * segment boundaries, completion (rename, upload, removal), partial uploads
 * only when the segment grew, refusal of a gap, and the resume point after a
 * restart (older partials retired, complete segments uploaded first); and
 * the parsers of what the server sends: CopyBoth messages, the end of a
 * timeline, the name of a timeline history file.
 * Segments are 1 MiB (the smallest size PostgreSQL allows).
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
#include <sodium.h>

#include "agent/walstream_int.h"
#include "storage/walrepo.h"
#include "support/testrepo.h"

#define SEG ((uint64_t)1024 * 1024)
#define START (48 * SEG) /* 000000010000000000000030 */

static char root[64];
static struct cf_storage *st;
static struct testkeys tk;
static struct cf_keyops ops;
static struct cf_repo repo;
static uint8_t *wal;

static int
setup(void **state)
{
    (void)state;
    if (testrepo_open("walstream", 7, root, &st, &tk, &ops, &repo) != 0)
        return -1;
    wal = malloc(3 * SEG);
    randombytes_buf(wal, 3 * SEG);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    free(wal);
    return testrepo_close(root, &st);
}

static void
spool_open(struct cf_ws_spool *s)
{
    struct cf_error err = CF_ERROR_INIT;
    static char dir[128];
    static struct cf_wal_env env; /* only state_dir is read (posix has no Object Lock) */

    (void)snprintf(dir, sizeof(dir), "%s/spool", root);
    env.state_dir = dir;
    assert_int_equal(cf_ws_spool_init(s, &env, &repo, &err), CF_OK);
    s->segsz = SEG;
}

static size_t
count_objects(const char *name, bool with_partials)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_wal_object *o = NULL;
    size_t n = 0;

    assert_int_equal(cf_wal_find(&repo, name, with_partials, &o, &n, &err), CF_OK);
    free(o);
    return n;
}

static bool
spool_has(const char *name)
{
    char path[256];

    (void)snprintf(path, sizeof(path), "%s/spool/stream/%s", root, name);
    return access(path, F_OK) == 0;
}

static void
sha_hex(const uint8_t *data, size_t len, char hex[65])
{
    uint8_t d[32];

    crypto_hash_sha256(d, data, len);
    for (int i = 0; i < 32; i++)
        (void)snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* 2.5 segments in odd-sized writes: two stored segments, one partial left. */
static void
test_write_complete_and_partial(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_wal_object *o = NULL;
    struct cf_ws_spool s;
    char hex[65];
    size_t n = 0, total = 2 * SEG + SEG / 2;

    (void)state;
    spool_open(&s);
    for (size_t off = 0; off < total; off += 7919) {
        size_t k = total - off < 7919 ? total - off : 7919;

        assert_int_equal(cf_ws_spool_write(&s, 1, START + off, (const char *)wal + off, k, &err),
                         CF_OK);
    }
    assert_int_equal(cf_ws_spool_write_lsn(&s), START + total);
    /* a completed segment is durable: flush reaches its end at once */
    assert_int_equal(cf_ws_spool_flush_lsn(&s), START + 2 * SEG);
    assert_int_equal(cf_ws_spool_sync(&s, &err), CF_OK);
    assert_int_equal(cf_ws_spool_flush_lsn(&s), START + total);

    assert_int_equal(cf_wal_find(&repo, "000000010000000000000030", false, &o, &n, &err), CF_OK);
    assert_int_equal(n, 1);
    sha_hex(wal, SEG, hex);
    assert_string_equal(o[0].sha256, hex);
    free(o);
    assert_int_equal(count_objects("000000010000000000000031", false), 1);
    assert_false(spool_has("000000010000000000000030"));
    assert_false(spool_has("000000010000000000000031"));
    assert_true(spool_has("000000010000000000000032.partial"));

    /* the partial: named after its byte count, uploaded only when it grew */
    assert_int_equal(cf_ws_spool_upload_partial(&s, &err), CF_OK);
    assert_string_equal(s.last_upload, "000000010000000000000032.partial.00080000");
    assert_int_equal(count_objects("000000010000000000000032", true), 1);
    assert_int_equal(cf_ws_spool_upload_partial(&s, &err), CF_OK);
    assert_int_equal(count_objects("000000010000000000000032", true), 1);
    assert_int_equal(cf_wal_find(&repo, "000000010000000000000032.partial.00080000", false, &o,
                                 &n, &err), CF_OK);
    assert_int_equal(n, 1);
    sha_hex(wal + 2 * SEG, SEG / 2, hex);
    assert_string_equal(o[0].sha256, hex);
    free(o);

    /* a gap is refused */
    assert_int_equal(cf_ws_spool_write(&s, 1, START + total + 8, (const char *)wal, 8, &err),
                     CF_ERR_PG);
    assert_string_equal(err.msg, "unexpected WAL position from the server");
    cf_ws_spool_close(&s);
}

/* After a "crash": the newest partial is the resume point; an older one is
 * stored and removed; a complete segment left behind is uploaded first. */
static void
test_resume_after_restart(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_ws_spool s;
    struct cf_ws_pos pos;
    char path[256];
    FILE *f;

    (void)state;
    spool_open(&s);
    (void)snprintf(path, sizeof(path), "%s/spool/stream/000000010000000000000028.partial", root);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(wal, 1, 4096, f), 4096);
    assert_int_equal(fclose(f), 0);
    (void)snprintf(path, sizeof(path), "%s/spool/stream/000000010000000000000029", root);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(wal, 1, SEG, f), SEG);
    assert_int_equal(fclose(f), 0);

    assert_int_equal(cf_ws_spool_upload_complete(&s, &err), CF_OK);
    assert_false(spool_has("000000010000000000000029"));
    assert_int_equal(count_objects("000000010000000000000029", false), 1);

    assert_int_equal(cf_ws_spool_resume_point(&s, &pos, &err), CF_OK);
    assert_int_equal(pos.tli, 1);
    assert_int_equal(pos.lsn, START + 2 * SEG);
    assert_false(spool_has("000000010000000000000028.partial"));
    assert_int_equal(count_objects("000000010000000000000028.partial.00001000", false), 1);
    assert_true(spool_has("000000010000000000000032.partial"));

    /* resuming rewrites the same bytes from the segment start */
    assert_int_equal(cf_ws_spool_write(&s, 1, pos.lsn, (const char *)wal + 2 * SEG, SEG, &err),
                     CF_OK);
    assert_false(spool_has("000000010000000000000032.partial"));
    assert_int_equal(count_objects("000000010000000000000032", false), 1);
    assert_int_equal(cf_ws_spool_resume_point(&s, &pos, &err), CF_OK);
    assert_int_equal(pos.lsn, 0);
    cf_ws_spool_close(&s);
}

/* End of a timeline: the last partial is stored and leaves the spool. */
static void
test_end_timeline(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_ws_spool s;

    (void)state;
    spool_open(&s);
    assert_int_equal(cf_ws_spool_write(&s, 1, START + 8 * SEG, (const char *)wal, 1000, &err),
                     CF_OK);
    assert_int_equal(cf_ws_spool_end_timeline(&s, &err), CF_OK);
    assert_false(spool_has("000000010000000000000038.partial"));
    assert_int_equal(count_objects("000000010000000000000038.partial.000003E8", false), 1);
    assert_int_equal(cf_ws_spool_store_file(&s, "00000002.history", "1\t0/38003E8\tno recovery "
                                         "target specified\n", 41, &err), CF_OK);
    assert_false(spool_has("00000002.history"));
    assert_int_equal(count_objects("00000002.history", false), 1);
    cf_ws_spool_close(&s);
}

/* 'w' XLogData: a 25-byte header, then WAL; 'k' keepalive: 18 bytes. */
static void
test_parse_message(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_ws_msg m;
    char buf[32];

    (void)state;
    memset(buf, 0x55, sizeof(buf));
    buf[0] = 'w';
    cf_ws_put_u64(buf + 1, START + 0x28);
    memcpy(buf + 25, "abc", 3);
    assert_int_equal(cf_ws_parse_message(buf, 28, &m, &err), CF_OK);
    assert_int_equal(m.type, 'w');
    assert_int_equal(m.start, START + 0x28);
    assert_ptr_equal(m.data, buf + 25);
    assert_int_equal(m.len, 3);
    assert_int_equal(cf_ws_parse_message(buf, 25, &m, &err), CF_OK);
    assert_int_equal(m.len, 0);

    memset(buf, 0, sizeof(buf));
    buf[0] = 'k';
    assert_int_equal(cf_ws_parse_message(buf, 18, &m, &err), CF_OK);
    assert_int_equal(m.type, 'k');
    assert_false(m.reply_requested);
    buf[17] = (char)0x80; /* any non-zero byte asks for a reply */
    assert_int_equal(cf_ws_parse_message(buf, 18, &m, &err), CF_OK);
    assert_true(m.reply_requested);
    assert_int_equal(err.code, CF_OK);
}

static void
expect_bad_message(const char *buf, int len, const char *detail)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_ws_msg m;

    assert_int_equal(cf_ws_parse_message(buf, len, &m, &err), CF_ERR_PG);
    assert_string_equal(err.msg, "unexpected replication message");
    assert_string_equal(err.detail, detail);
}

static void
test_parse_message_bad(void **state)
{
    char buf[32];

    (void)state;
    memset(buf, 0, sizeof(buf));
    buf[0] = 'w';
    expect_bad_message(buf, 24, "Message type \"w\", 24 bytes.");
    buf[0] = 'k';
    expect_bad_message(buf, 17, "Message type \"k\", 17 bytes.");
    buf[0] = 'r'; /* ours, not the server's */
    expect_bad_message(buf, 32, "Message type \"r\", 32 bytes.");
    expect_bad_message(buf, 0, "Message type \"?\", 0 bytes.");
}

static void
test_timeline_end(void **state)
{
    const char *bad_tli[] = {"0",  "4294967296", "18446744073709551617", "", "-1", "+2", " 2",
                             "2x", "02"};
    uint32_t tli = 0;
    uint64_t lsn = 0;

    (void)state;
    assert_true(cf_ws_parse_timeline_end("2", "0/5000000", &tli, &lsn));
    assert_int_equal(tli, 2);
    assert_int_equal(lsn, 0x5000000);
    assert_true(cf_ws_parse_timeline_end("4294967295", "1/0", &tli, &lsn));
    assert_int_equal(tli, 4294967295u);
    assert_int_equal(lsn, UINT64_C(0x100000000));
    for (size_t i = 0; i < sizeof(bad_tli) / sizeof(bad_tli[0]); i++)
        assert_false(cf_ws_parse_timeline_end(bad_tli[i], "0/5000000", &tli, &lsn));
    assert_false(cf_ws_parse_timeline_end("2", "0/", &tli, &lsn));
    assert_false(cf_ws_parse_timeline_end("2", "", &tli, &lsn));
}

/* The name becomes a path in the spool and an object: only tli's own. */
static void
test_history_name(void **state)
{
    const char *bad[] = {"../../../tmp/x.history",
                         "00000003.history",
                         "0000001a.history",
                         "000000010000000000000030",
                         "00000002.history/",
                         "",
                         "2.history",
                         "00000002.history.partial"};
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    assert_int_equal(cf_ws_check_history_name(2, "00000002.history", &err), CF_OK);
    assert_int_equal(cf_ws_check_history_name(26, "0000001A.history", &err), CF_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_error_clear(&err);
        assert_int_equal(cf_ws_check_history_name(i == 2 ? 26 : 2, bad[i], &err), CF_ERR_PG);
        assert_string_equal(err.msg, "unexpected TIMELINE_HISTORY result");
    }
    /* fuzz_walstream: "00000000.history" passed for timeline 0, which does not exist
     * (cf_wal_parse_name refuses it; wal-stream never asks for it) */
    cf_error_clear(&err);
    assert_int_equal(cf_ws_check_history_name(0, "00000000.history", &err), CF_ERR_PG);
    assert_string_equal(err.detail, "There is no timeline 0.");
    cf_error_clear(&err);
    assert_int_equal(cf_ws_check_history_name(2, "00000003.history", &err), CF_ERR_PG);
    assert_string_equal(err.detail,
                        "Timeline 2's history file is \"00000002.history\"; the server sent "
                        "another name.");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_complete_and_partial),
        cmocka_unit_test(test_resume_after_restart),
        cmocka_unit_test(test_end_timeline),
        cmocka_unit_test(test_parse_message),
        cmocka_unit_test(test_parse_message_bad),
        cmocka_unit_test(test_timeline_end),
        cmocka_unit_test(test_history_name),
    };

    return cmocka_run_group_tests_name("walstream", tests, setup, teardown);
}
