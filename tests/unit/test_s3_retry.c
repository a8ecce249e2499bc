/*
 * test_s3_retry.c - which S3 failures are retried (storage/s3/request.c), and
 * the backoff between attempts: HTTP statuses, S3 error codes, curl results,
 * a callback's abort, and the exact ceiling and cap of the jittered wait.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <sodium.h>

#include "storage/s3/s3_int.h"

static int
setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void
test_retry_status(void **state)
{
    static const struct {
        long status;
        const char *code;
        bool is_retried;
    } cases[] = {
        /* the server's trouble, or too many requests: retried */
        {500, "", true},
        {502, "", true},
        {503, "", true},
        {504, "", true},
        {429, "", true},
        {503, "SlowDown", true},
        {500, "InternalError", true},
        /* the code alone decides, whatever the status (S3 sends 400 RequestTimeout) */
        {400, "RequestTimeout", true},
        {200, "InternalError", true},
        {403, "SlowDown", true},
        /* the request itself is wrong: retrying cannot help */
        {400, "", false},
        {400, "BadDigest", false},
        {400, "InvalidArgument", false},
        {403, "AccessDenied", false},
        {403, "SignatureDoesNotMatch", false},
        {403, "RequestTimeTooSkewed", false},
        {404, "NoSuchKey", false},
        {404, "NoSuchBucket", false},
        {409, "OperationAborted", false},
        {412, "PreconditionFailed", false},
        {501, "NotImplemented", false},
        {505, "", false},
        {0, "", false},
        /* codes are compared exactly */
        {400, "slowdown", false},
        {400, "SlowDown ", false},
        {400, "RequestTimeoutX", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = cf_s3_is_retry_status(cases[i].status, cases[i].code);

        if (got != cases[i].is_retried)
            fail_msg("HTTP %ld \"%s\": retried %d, expected %d", cases[i].status, cases[i].code,
                     got, cases[i].is_retried);
    }
}

static void
test_retry_curl(void **state)
{
    static const struct {
        CURLcode cc;
        bool is_retried;
    } cases[] = {
        /* the network or the server dropped us: retried */
        {CURLE_OPERATION_TIMEDOUT, true},
        {CURLE_COULDNT_CONNECT, true},
        {CURLE_SEND_ERROR, true},
        {CURLE_RECV_ERROR, true},
        {CURLE_GOT_NOTHING, true},
        {CURLE_PARTIAL_FILE, true},
        /* configuration, TLS trust, our own abort: final */
        {CURLE_OK, false},
        {CURLE_COULDNT_RESOLVE_HOST, false},
        {CURLE_URL_MALFORMAT, false},
        {CURLE_UNSUPPORTED_PROTOCOL, false},
        {CURLE_SSL_CONNECT_ERROR, false},
        {CURLE_PEER_FAILED_VERIFICATION, false},
        {CURLE_SSL_CACERT_BADFILE, false},
        {CURLE_ABORTED_BY_CALLBACK, false},
        {CURLE_WRITE_ERROR, false},
        {CURLE_READ_ERROR, false},
        {CURLE_OUT_OF_MEMORY, false},
        {CURLE_LOGIN_DENIED, false},
        {CURLE_HTTP2, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = cf_s3_is_retry_curl(cases[i].cc);

        if (got != cases[i].is_retried)
            fail_msg("%s: retried %d, expected %d", curl_easy_strerror(cases[i].cc), got,
                     cases[i].is_retried);
    }
}

/* cf_s3_xfer_finish on a transport failure: retried unless a callback aborted. */
static void
test_finish_transport(void **state)
{
    struct s3_req req = {.method = "GET", .key = "k", .what = "test"};
    struct s3_xfer x;
    CURLcode last = CURLE_OK;

    (void)state;
    memset(&x, 0, sizeof(x));
    x.easy = curl_easy_init();
    assert_non_null(x.easy);
    x.req = &req;

    assert_int_equal(cf_s3_xfer_finish(&x, CURLE_OPERATION_TIMEDOUT, &last), S3_RETRY);
    assert_int_equal(last, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(cf_s3_xfer_finish(&x, CURLE_RECV_ERROR, &last), S3_RETRY);
    assert_int_equal(cf_s3_xfer_finish(&x, CURLE_COULDNT_RESOLVE_HOST, &last), S3_CURL_FAIL);
    assert_int_equal(last, CURLE_COULDNT_RESOLVE_HOST);
    /* on_data refused the bytes: a retry would deliver them to it again */
    x.is_aborted = true;
    assert_int_equal(cf_s3_xfer_finish(&x, CURLE_RECV_ERROR, &last), S3_CURL_FAIL);

    cf_s3_xfer_release(&x);
    curl_easy_cleanup(x.easy);
}

/* RGW and S3 refuse a request signed too far from their own clock: the error
 * says the clocks differ, and the hint points at NTP (it is not retried). */
static void
test_skew_message(void **state)
{
    struct s3_storage st;
    struct s3_req req = {.method = "GET", .key = "k", .what = "list the repository"};
    struct s3_resp resp;
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    memset(&st, 0, sizeof(st));
    memset(&resp, 0, sizeof(resp));
    st.bucket = "b";
    resp.status = 403;
    (void)snprintf(resp.code, sizeof(resp.code), "RequestTimeTooSkewed");
    assert_int_equal(cf_s3_http_error(&st, &req, &resp, 1, &err), CF_ERR_REMOTE);
    assert_non_null(strstr(err.msg, "could not list the repository"));
    assert_non_null(strstr(err.msg, "RequestTimeTooSkewed"));
    assert_non_null(strstr(err.msg, "clock"));
    assert_non_null(strstr(err.hint, "NTP"));
}

/* The smallest and largest of n draws of cf_s3_backoff_ms(st, attempt). */
static void
draw(const struct s3_storage *st, unsigned attempt, int n, unsigned *lo, unsigned *hi)
{
    *lo = UINT_MAX;
    *hi = 0;
    for (int i = 0; i < n; i++) {
        unsigned ms = cf_s3_backoff_ms(st, attempt);

        if (ms < *lo)
            *lo = ms;
        if (ms > *hi)
            *hi = ms;
    }
}

static void
test_backoff_ceiling(void **state)
{
    /* base 8 ms, cap 100 ms: ceilings 8, 16, 32, 64, then the cap */
    static const struct {
        unsigned attempt, ceiling;
    } small[] = {{1, 8}, {2, 16}, {3, 32}, {4, 64}, {5, 100}, {6, 100}, {40, 100}, {UINT_MAX, 100}};
    struct s3_storage st;
    unsigned lo, hi;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.backoff_base_ms = 8;
    st.backoff_cap_ms = 100;
    /* full jitter over [0, ceiling]: 4000 draws reach both ends (a miss has a
     * probability below 1e-17) */
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        draw(&st, small[i].attempt, 4000, &lo, &hi);
        if (lo != 0 || hi != small[i].ceiling)
            fail_msg("attempt %u: waits in [%u, %u], expected [0, %u]", small[i].attempt, lo, hi,
                     small[i].ceiling);
    }
}

static void
test_backoff_defaults(void **state)
{
    /* the driver's defaults: base 100 ms, cap 50 x base */
    static const struct {
        unsigned attempt, ceiling;
    } big[] = {{1, 100}, {2, 200}, {3, 400}, {4, 800}, {5, 1600}, {6, 3200}, {7, 5000},
               {100, 5000}};
    struct s3_storage st;
    unsigned lo, hi;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.backoff_base_ms = 100;
    st.backoff_cap_ms = 5000;
    /* never above the ceiling, and above 3/4 of it at least once in 4000
     * draws (else the ceiling did not grow) */
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        draw(&st, big[i].attempt, 4000, &lo, &hi);
        if (hi > big[i].ceiling || hi <= big[i].ceiling / 4 * 3)
            fail_msg("attempt %u: longest wait %u, expected (%u, %u]", big[i].attempt, hi,
                     big[i].ceiling / 4 * 3, big[i].ceiling);
    }
    /* the largest base the environment allows: the cap still holds */
    st.backoff_base_ms = 60000;
    st.backoff_cap_ms = 3000000;
    draw(&st, UINT_MAX, 1000, &lo, &hi);
    assert_true(hi <= 3000000 && hi > 1500000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_status),     cmocka_unit_test(test_retry_curl),
        cmocka_unit_test(test_finish_transport), cmocka_unit_test(test_skew_message),
        cmocka_unit_test(test_backoff_ceiling),  cmocka_unit_test(test_backoff_defaults),
    };

    return cmocka_run_group_tests_name("s3_retry", tests, setup, NULL);
}
