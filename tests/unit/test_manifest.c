/*
 * test_manifest.c - manifest <-> JSON, and strict parsing of untrusted input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/manifest.h"

static void
fill(struct cf_manifest *m)
{
    struct cf_manifest_object o;
    struct cf_error err = CF_ERROR_INIT;

    memset(m, 0, sizeof(*m));
    m->id = strdup("20261122T020000Z");
    m->instance = strdup("acme");
    m->kind = strdup("logical");
    m->formula = strdup("onprem");
    m->pg_version_num = 150018;
    m->pg_version = strdup("15.18");
    m->hostname = strdup("db1");
    m->coffre_version = strdup("0.1.0");
    m->start_time = 1795312800;
    m->stop_time = 1795312860;
    m->globals_note = strdup("not dumped: the backup role is not a superuser");
    m->retention_class = strdup("monthly");
    m->expires = 1826848800;
    m->lock_until = 1826935200;
    memset(&o, 0, sizeof(o));
    o.name = strdup("db/app.dump");
    o.kind = CF_OBJ_DUMP;
    o.database = strdup("app");
    memset(o.sha256, 'a', 64);
    o.plain = 1000;
    o.compressed = 300;
    o.stored = 350;
    o.count_seconds = 0.5;
    o.n_tables = 2;
    o.tables = calloc(2, sizeof(*o.tables));
    o.tables[0].name = strdup("public.t");
    o.tables[0].rows = 42;
    o.tables[1].name = strdup("\"données\".\"clients_é\"");
    o.tables[1].rows = 0;
    o.has_content = true;
    o.n_sequences = 1;
    o.sequences = calloc(1, sizeof(*o.sequences));
    o.sequences[0] = strdup("app.orders_id_seq");
    o.large_objects = 4;
    assert_int_equal(cf_manifest_add(m, &o, &err), CF_OK);
}

static void
test_round_trip(void **state)
{
    struct cf_manifest m, *back = NULL;
    struct cf_error err = CF_ERROR_INIT;
    char *json = NULL;
    size_t len = 0;

    (void)state;
    fill(&m);
    assert_int_equal(cf_manifest_to_json(&m, &json, &len, &err), CF_OK);
    assert_non_null(strstr(json, "\"start_time\": \"2026-11-22T02:00:00Z\""));
    assert_int_equal(cf_manifest_from_json(json, len, "m", &back, &err), CF_OK);
    assert_string_equal(back->id, m.id);
    assert_int_equal(back->start_time, m.start_time);
    assert_int_equal(back->stop_time, m.stop_time);
    assert_null(back->schema);
    assert_string_equal(back->globals_note, m.globals_note);
    assert_string_equal(back->retention_class, "monthly");
    assert_int_equal(back->expires, m.expires);
    assert_int_equal(back->lock_until, m.lock_until);
    assert_int_equal(back->n_objects, 1);
    assert_string_equal(back->objects[0].database, "app");
    assert_int_equal(back->objects[0].plain, 1000);
    assert_int_equal(back->objects[0].n_tables, 2);
    assert_string_equal(back->objects[0].sha256, m.objects[0].sha256);
    for (size_t i = 0; i < 2; i++) {
        int found = 0;

        for (size_t k = 0; k < 2; k++)
            found |= strcmp(back->objects[0].tables[k].name, m.objects[0].tables[i].name) == 0 &&
                     back->objects[0].tables[k].rows == m.objects[0].tables[i].rows;
        assert_true(found);
    }
    assert_true(back->objects[0].has_content);
    assert_int_equal(back->objects[0].n_sequences, 1);
    assert_string_equal(back->objects[0].sequences[0], "app.orders_id_seq");
    assert_int_equal(back->objects[0].large_objects, 4);
    free(json);
    cf_manifest_free(back);
    /* a manifest written before sequences and large objects were recorded still reads */
    m.objects[0].has_content = false;
    assert_int_equal(cf_manifest_to_json(&m, &json, &len, &err), CF_OK);
    assert_null(strstr(json, "large_objects"));
    assert_int_equal(cf_manifest_from_json(json, len, "m", &back, &err), CF_OK);
    assert_false(back->objects[0].has_content);
    free(json);
    cf_manifest_free(back);
    cf_manifest_clear(&m);
}

static void
expect_corrupt(const char *json, const char *msg)
{
    struct cf_manifest *m = NULL;
    struct cf_error err = CF_ERROR_INIT;

    assert_int_equal(cf_manifest_from_json(json, strlen(json), "acme/backup/x/manifest", &m, &err),
                     CF_ERR_CORRUPT);
    assert_null(m);
    assert_string_equal(err.msg, msg);
}

static void
test_bad_input(void **state)
{
    struct cf_manifest m;
    struct cf_error err = CF_ERROR_INIT;
    char *json = NULL, *p;
    size_t len = 0;

    (void)state;
    expect_corrupt("{", "manifest \"acme/backup/x/manifest\" is not valid JSON");
    expect_corrupt("[]", "manifest \"acme/backup/x/manifest\" has missing or invalid fields");
    expect_corrupt("{\"format\": 1}",
                   "manifest \"acme/backup/x/manifest\" has missing or invalid fields");
    fill(&m);
    assert_int_equal(cf_manifest_to_json(&m, &json, &len, &err), CF_OK);
    /* an unknown format version */
    p = strstr(json, "\"format\": 1");
    assert_non_null(p);
    p[10] = '9';
    expect_corrupt(json, "manifest \"acme/backup/x/manifest\" has missing or invalid fields");
    p[10] = '1';
    /* a short digest */
    p = strstr(json, "aaaa");
    memcpy(p, "\", \"x\": \"", 9);
    expect_corrupt(json, "manifest \"acme/backup/x/manifest\" has missing or invalid fields");
    free(json);
    cf_manifest_clear(&m);
    /* random bytes never crash the parser */
    for (int i = 0; i < 500; i++) {
        char buf[256];

        for (size_t k = 0; k < sizeof(buf); k++)
            buf[k] = (char)("{}[]\":,0123456789aeflnrstu "[(size_t)(i * 31 + (int)k * 7) % 28]);
        {
            struct cf_manifest *mm = NULL;
            struct cf_error e = CF_ERROR_INIT;

            assert_int_not_equal(cf_manifest_from_json(buf, sizeof(buf), "r", &mm, &e), CF_OK);
        }
    }
}

/* Physical backups: the "physical" section survives a round trip; a broken one is refused. */
static void
test_physical(void **state)
{
    struct cf_manifest m, *back = NULL;
    struct cf_manifest_physical *p;
    struct cf_error err = CF_ERROR_INIT;
    char *json = NULL, *bad;
    size_t len = 0;

    (void)state;
    fill(&m);
    free(m.kind);
    m.kind = strdup("physical");
    p = calloc(1, sizeof(*p));
    m.physical = p;
    p->start_lsn = strdup("0/2000028");
    p->stop_lsn = strdup("0/2000100");
    p->start_timeline = 1;
    p->stop_timeline = 2;
    p->wal_start = strdup("000000010000000000000002");
    p->wal_stop = strdup("000000020000000000000002");
    p->wal_segment_size = 16777216;
    p->from_standby = true;
    p->pg_manifest = strdup("backup_manifest");
    p->n_tablespaces = 2;
    p->tablespaces = calloc(2, sizeof(*p->tablespaces));
    p->tablespaces[0].object = strdup("base.tar");
    p->tablespaces[1].oid = 16385;
    p->tablespaces[1].location = strdup("/srv/ts1");
    p->tablespaces[1].object = strdup("16385.tar");
    assert_int_equal(cf_manifest_to_json(&m, &json, &len, &err), CF_OK);
    assert_int_equal(cf_manifest_from_json(json, len, "m", &back, &err), CF_OK);
    assert_non_null(back->physical);
    assert_string_equal(back->physical->start_lsn, "0/2000028");
    assert_string_equal(back->physical->stop_lsn, "0/2000100");
    assert_int_equal(back->physical->start_timeline, 1);
    assert_int_equal(back->physical->stop_timeline, 2);
    assert_string_equal(back->physical->wal_stop, "000000020000000000000002");
    assert_int_equal(back->physical->wal_segment_size, 16777216);
    assert_true(back->physical->from_standby);
    assert_int_equal(back->physical->n_tablespaces, 2);
    assert_null(back->physical->tablespaces[0].location);
    assert_string_equal(back->physical->tablespaces[1].location, "/srv/ts1");
    assert_int_equal(back->physical->tablespaces[1].oid, 16385);
    cf_manifest_free(back);
    back = NULL;
    /* a timeline of 0 is not one */
    bad = strdup(json);
    memcpy(strstr(bad, "\"start_timeline\": 1") + 18, "0", 1);
    assert_int_equal(cf_manifest_from_json(bad, strlen(bad), "m", &back, &err), CF_ERR_CORRUPT);
    assert_null(back);
    free(bad);
    free(json);
    cf_manifest_clear(&m);
}

/* Object kinds: one name each, the same in the header's numbering and the
 * manifest; an unknown kind is corruption, never taken for a dump. */
static void
test_object_kinds(void **state)
{
    static const char *const written[] = {"dump", "globals", "base_tar", "pg_manifest"};
    struct cf_manifest m, *back = NULL;
    struct cf_error err = CF_ERROR_INIT;
    enum cf_object_kind k;
    char *json = NULL, *p;
    size_t len = 0;

    (void)state;
    for (unsigned i = CF_OBJ_DUMP; i <= CF_OBJ_PG_MANIFEST; i++) {
        assert_int_equal(cf_object_kind_parse(cf_object_kind_name(i), "o", &k, &err), CF_OK);
        assert_int_equal(k, i);
    }
    assert_string_equal(cf_object_kind_name(CF_OBJ_BASE_TAR), "base_tar");
    assert_string_equal(cf_object_kind_name(0), "unknown");
    assert_string_equal(cf_object_kind_name(8), "unknown");
    assert_int_equal(cf_object_kind_parse("unknown", "o", &k, &err), CF_ERR_CORRUPT);
    cf_error_clear(&err);
    /* every spelling a manifest ever held still parses, into its kind */
    fill(&m);
    assert_int_equal(cf_manifest_to_json(&m, &json, &len, &err), CF_OK);
    p = strstr(json, "\"kind\": \"dump\"");
    assert_non_null(p);
    for (size_t i = 0; i < 4; i++) {
        char *edited = NULL;

        assert_true(asprintf(&edited, "%.*s\"kind\": \"%s\"%s", (int)(p - json), json, written[i],
                             p + strlen("\"kind\": \"dump\"")) > 0);
        assert_int_equal(cf_manifest_from_json(edited, strlen(edited), "m", &back, &err), CF_OK);
        assert_string_equal(cf_object_kind_name(back->objects[0].kind), written[i]);
        cf_manifest_free(back);
        back = NULL;
        free(edited);
    }
    /* unknown kinds, the hyphenated header spellings of old messages included */
    memcpy(p + 9, "dupe", 4);
    expect_corrupt(json, "object \"db/app.dump\" has unknown kind \"dupe\"");
    {
        struct cf_error e = CF_ERROR_INIT;

        assert_int_equal(cf_manifest_from_json(json, strlen(json), "acme/backup/x/manifest", &back,
                                               &e),
                         CF_ERR_CORRUPT);
        assert_non_null(strstr(e.detail, "in manifest \"acme/backup/x/manifest\""));
        assert_int_equal(cf_object_kind_parse("base-tar", "o", &k, &e), CF_ERR_CORRUPT);
    }
    free(json);
    cf_manifest_clear(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_physical),
        cmocka_unit_test(test_object_kinds),
    };

    return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
