/*
 * test_cancel.c - the orderly stop (common/cancel.c): a signal is recorded and
 * reported, and a step held with cf_cancel_hold() is not cut short by it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/cancel.h"

static void
test_signal_reported(void **state)
{
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    cf_cancel_install();
    cf_cancel_reset();
    assert_false(cf_cancel_requested());
    assert_int_equal(cf_cancel_check(&err), CF_OK);
    assert_int_equal(raise(SIGTERM), 0);
    assert_true(cf_cancel_requested());
    assert_int_equal(cf_cancel_check(&err), CF_ERR_CANCELLED);
    assert_non_null(strstr(err.msg, "interrupted by signal SIGTERM"));
    cf_cancel_reset();
}

/* held: the signal is kept, not reported; after the last release it is */
static void
test_hold_defers(void **state)
{
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    cf_cancel_install();
    cf_cancel_reset();
    cf_cancel_hold();
    assert_int_equal(raise(SIGTERM), 0);
    assert_false(cf_cancel_requested());
    assert_int_equal(cf_cancel_check(&err), CF_OK);
    cf_cancel_hold(); /* nested */
    cf_cancel_release();
    assert_false(cf_cancel_requested());
    assert_int_equal(cf_cancel_check(&err), CF_OK);
    cf_cancel_release();
    assert_true(cf_cancel_requested());
    assert_int_equal(cf_cancel_check(&err), CF_ERR_CANCELLED);
    assert_non_null(strstr(err.msg, "SIGTERM"));
    cf_cancel_release(); /* one release too many is harmless */
    assert_true(cf_cancel_requested());
    cf_cancel_reset();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal_reported),
        cmocka_unit_test(test_hold_defers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
