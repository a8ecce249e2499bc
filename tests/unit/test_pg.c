/*
 * test_pg.c - common/pg without a server: cf_pg_connect_to applies its
 * explicit settings over the conninfo (the socket libpq tried shows host
 * and port), refuses a password on a replication connection, names the
 * database; cf_pg_replication_command and cf_pg_error_detail report what
 * failed with libpq's reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/pg.h"

#define NOWHERE "host=/nonexistent-coffre port=5999 dbname=base user=nobody"

static void
test_connect_settings(void **state)
{
    struct cf_pg_target t = {.conninfo = NOWHERE, .connect_timeout = 2};
    struct cf_error err = CF_ERROR_INIT;
    PGconn *conn = NULL;

    (void)state;
    assert_int_equal(cf_pg_connect_to(&t, &conn, &err), CF_ERR_PG);
    assert_null(conn);
    assert_string_equal(err.msg, "could not connect to database \"base\"");
    assert_non_null(strstr(err.detail, "/nonexistent-coffre/.s.PGSQL.5999"));
    assert_non_null(strstr(err.hint, "postgres.conninfo"));

    /* host, port and dbname replace the conninfo's */
    cf_error_clear(&err);
    t.host = "/nonexistent-other";
    t.port = "6111";
    t.dbname = "other";
    assert_int_equal(cf_pg_connect_to(&t, &conn, &err), CF_ERR_PG);
    assert_string_equal(err.msg, "could not connect to database \"other\"");
    assert_non_null(strstr(err.detail, "/nonexistent-other/.s.PGSQL.6111"));

    /* the two short forms say the same */
    cf_error_clear(&err);
    assert_int_equal(cf_pg_connect(NOWHERE, "third", &conn, &err), CF_ERR_PG);
    assert_string_equal(err.msg, "could not connect to database \"third\"");
    cf_error_clear(&err);
    assert_int_equal(cf_pg_connect_replication(NOWHERE, NULL, &conn, &err), CF_ERR_PG);
    assert_string_equal(err.msg, "could not open a replication connection");
    assert_non_null(strstr(err.hint, "REPLICATION"));
    assert_non_null(strstr(err.detail, "/nonexistent-coffre/.s.PGSQL.5999"));
}

static void
test_replication_refuses_password(void **state)
{
    struct cf_pg_target t = {.conninfo = NOWHERE " password=s3cret", .replication = true};
    struct cf_error err = CF_ERROR_INIT;
    PGconn *conn = NULL;

    (void)state;
    assert_int_equal(cf_pg_connect_to(&t, &conn, &err), CF_ERR_USAGE);
    assert_string_equal(err.msg, "postgres.conninfo must not contain a password");
    assert_null(strstr(err.msg, "s3cret"));
    assert_null(strstr(err.detail, "s3cret"));
    assert_null(conn);
    /* the key of a client certificate would reach pg_dump's argv just the same */
    t.conninfo = NOWHERE " sslpassword=s3cret";
    cf_error_clear(&err);
    assert_int_equal(cf_pg_connect_to(&t, &conn, &err), CF_ERR_USAGE);
    assert_string_equal(err.msg, "postgres.conninfo must not contain a password");
    assert_null(conn);
}

static void
test_replication_command_error(void **state)
{
    PGconn *conn = PQconnectdb(NOWHERE); /* a dead connection: every command fails */
    struct cf_error err = CF_ERROR_INIT;
    PGresult *res = NULL;

    (void)state;
    assert_non_null(conn);
    assert_int_equal(cf_pg_replication_command(conn, "READ_REPLICATION_SLOT coffre",
                                               PGRES_TUPLES_OK, &res, &err),
                     CF_ERR_PG);
    assert_null(res);
    assert_string_equal(err.msg, "replication command READ_REPLICATION_SLOT failed");
    assert_true(err.detail[0] != '\0');
    assert_null(strchr(err.detail, '\n')); /* the first line only */
    cf_error_clear(&err);
    cf_pg_error_detail(conn, NULL, &err);
    assert_true(err.detail[0] != '\0');
    PQfinish(conn);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_settings),
        cmocka_unit_test(test_replication_refuses_password),
        cmocka_unit_test(test_replication_command_error),
    };

    return cmocka_run_group_tests_name("pg", tests, NULL, NULL);
}
