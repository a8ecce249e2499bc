/*
 * test_drill.c - the pure parts of the drill engine: the operator's check
 * file ([drill] check_sql) and the scenario names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "restore/drill_int.h"

static void
test_sql_parse(void **state)
{
    static const char text[] =
        "-- operator checks for acme\n"
        "\n"
        "-- name: orders are recent\n"
        "-- database: app\n"
        "SELECT max(created_at) > now() - interval '25 hours'\n"
        "  FROM app.orders;\n"
        "\n"
        "SELECT count(*) > 0 FROM app.customers;   \n"
        "-- database: billing\n"
        "-- name: invoices\n"
        "SELECT true;\n";
    struct cf_error err = CF_ERROR_INIT;
    struct cf_drill_sql *v = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(cf_drill_sql_parse("checks.sql", text, &v, &n, &err), CF_OK);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].name, "orders are recent");
    assert_string_equal(v[0].database, "app");
    assert_string_equal(v[0].query, "SELECT max(created_at) > now() - interval '25 hours'\n"
                                    "  FROM app.orders;");
    /* no name: numbered; the database stays in force */
    assert_string_equal(v[1].name, "sql 2");
    assert_string_equal(v[1].database, "app");
    assert_string_equal(v[1].query, "SELECT count(*) > 0 FROM app.customers;   ");
    assert_string_equal(v[2].name, "invoices");
    assert_string_equal(v[2].database, "billing");
    cf_drill_sql_free(v, n);
}

static void
test_sql_errors(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_drill_sql *v = (struct cf_drill_sql *)(uintptr_t)1;
    size_t n = 7;

    (void)state;
    assert_int_equal(cf_drill_sql_parse("c.sql", "SELECT 1;\n\n-- name: x\nSELECT true\n", &v,
                                        &n, &err),
                     CF_ERR_CONFIG);
    assert_string_equal(err.msg, "c.sql:4: check does not end with \";\"");
    assert_ptr_equal(v, (struct cf_drill_sql *)(uintptr_t)1);
    assert_int_equal(n, 7);

    /* nothing but comments: no check */
    cf_error_clear(&err);
    v = NULL;
    assert_int_equal(cf_drill_sql_parse("c.sql", "-- nothing\n\n", &v, &n, &err), CF_OK);
    assert_int_equal(n, 0);
    cf_drill_sql_free(v, n);
}

static void
test_names(void **state)
{
    (void)state;
    for (int s = 0; s < CF_DRILL_SCENARIOS; s++)
        assert_int_equal(cf_drill_scenario_parse(cf_drill_scenario_name(s)), s);
    assert_int_equal(cf_drill_scenario_parse("full"), -1);
    assert_string_equal(cf_check_status_name(CF_CHECK_FAIL), "failed");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sql_parse),
        cmocka_unit_test(test_sql_errors),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
