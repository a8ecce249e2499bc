/*
 * test_log.c - what reaches stderr (common/log.c): text from outside coffre
 * (object names and key URIs read from headers, server messages) cannot
 * forge a log line or send terminal escapes; UTF-8 passes unchanged.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/log.h"

/* Run fn with stderr redirected to a file; the text written into out. */
static void
capture(void (*fn)(void), char *out, size_t size)
{
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);
    size_t n;

    assert_non_null(tmp);
    assert_true(saved >= 0);
    (void)fflush(stderr);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    fn();
    (void)fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    (void)close(saved);
    rewind(tmp);
    n = fread(out, 1, size - 1, tmp);
    out[n] = '\0';
    (void)fclose(tmp);
}

static void
log_forged(void)
{
    cf_log_warning("skipping \"%s\"", "db/x\ncoffre: info: backup ok\x1b[2J");
}

static void
error_forged(void)
{
    struct cf_error err = CF_ERROR_INIT;

    cf_error_setf(&err, CF_ERR_KEY, "no key can decrypt this object");
    cf_error_detail(&err, "Recipient \"%s\": token not present.", "pkcs11:token=a\nHINT: run rm");
    cf_log_cf_error(&err);
}

static void
test_controls_escaped(void **state)
{
    char out[1024];

    (void)state;
    setenv("JOURNAL_STREAM", "", 1); /* plain stderr, never the journal */
    capture(log_forged, out, sizeof(out));
    assert_string_equal(out, "coffre: warning: skipping \"db/x\\x0acoffre: info: backup "
                             "ok\\x1b[2J\"\n");
    capture(error_forged, out, sizeof(out));
    assert_string_equal(out, "coffre: error: no key can decrypt this object\n"
                             "DETAIL: Recipient \"pkcs11:token=a\\x0aHINT: run rm\": token not "
                             "present.\n");
}

static void
utf8_name(void)
{
    cf_log_info("database \"%s\"", "donn\xc3\xa9"
                                   "es");
}

static void
test_utf8_unchanged(void **state)
{
    char out[256];

    (void)state;
    capture(utf8_name, out, sizeof(out));
    assert_string_equal(out, "coffre: info: database \"donn\xc3\xa9"
                             "es\"\n");
}

/* A child's long message must not push out what the error means (found by test_42). */
static void
test_context_survives_long_detail(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    char said[600];
    const char *end;

    (void)state;
    memset(said, 'x', sizeof(said) - 1);
    said[sizeof(said) - 1] = '\0';
    said[300] = '\xc3'; /* a UTF-8 sequence near the cut must not be split */
    said[301] = '\xa9';
    cf_error_setf(&err, CF_ERR_CHILD, "pg_dump failed with exit code 1");
    cf_error_detail(&err, "pg_dump said: %s", said);
    cf_error_context(&err, "while storing object \"%s\"", "acme/backup/B/db/app.dump");
    cf_error_context(&err, "backup %s was not completed and is not restorable", "B");
    assert_true(strlen(err.detail) < sizeof(err.detail));
    assert_non_null(strstr(err.detail, "pg_dump said: xxx"));
    assert_non_null(strstr(err.detail, "\u2026 Context: while storing object "
                                       "\"acme/backup/B/db/app.dump\"."));
    end = err.detail + strlen(err.detail) -
          strlen(" Context: backup B was not completed and "
                 "is not restorable.");
    assert_string_equal(end, " Context: backup B was not completed and is not restorable.");
    /* what is left of the message is valid UTF-8 around the mark */
    assert_null(strstr(err.detail, "\xc3\xe2"));
    /* a short detail is not touched */
    cf_error_clear(&err);
    cf_error_setf(&err, CF_ERR_CHILD, "failed");
    cf_error_detail(&err, "short");
    cf_error_context(&err, "one");
    assert_string_equal(err.detail, "short Context: one.");
}

/* A long object key must not push the cause out of the message (found by test_47). */
static void
test_cause_survives_long_message(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    char key[300];
    const char *cause = ": Read-only file system";

    (void)state;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    key[203] = '\xc3'; /* a UTF-8 sequence across the cut must not be split */
    key[204] = '\xa9';
    cf_error_setf_errno(&err, CF_ERR_IO, EROFS, "could not create object \"%s\"", key);
    assert_true(strlen(err.msg) < sizeof(err.msg));
    assert_string_equal(err.msg + strlen(err.msg) - strlen(cause), cause);
    assert_non_null(strstr(err.msg, "could not create object \"kkk"));
    assert_non_null(strstr(err.msg, "k\u2026: Read-only"));
    assert_null(strstr(err.msg, "\xc3\xe2"));
    assert_int_equal(err.sys_errno, EROFS);
    /* a short message is not touched */
    cf_error_clear(&err);
    cf_error_setf_errno(&err, CF_ERR_IO, EROFS, "could not create \"%s\"", "a");
    assert_string_equal(err.msg, "could not create \"a\": Read-only file system");
}

/* The same for any cause: an S3 upload of a WAL object lost "Operation too slow" (test_72). */
static void
test_any_cause_survives_long_message(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    char key[300];
    const char *cause = ": Operation too slow. Less than 1024 bytes/sec transferred the last 2 "
                        "seconds after 6 attempts";

    (void)state;
    memset(key, 'w', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    cf_error_setf_cause(&err, CF_ERR_REMOTE, cause + 2, "could not upload part 2 of object \"%s\"",
                        key);
    assert_int_equal(err.code, CF_ERR_REMOTE);
    assert_true(strlen(err.msg) < sizeof(err.msg));
    assert_string_equal(err.msg + strlen(err.msg) - strlen(cause), cause);
    assert_non_null(strstr(err.msg, "could not upload part 2 of object \"www"));
    assert_non_null(strstr(err.msg, "w\u2026: Operation too slow"));
    /* the first error wins, as with cf_error_setf */
    cf_error_setf_cause(&err, CF_ERR_IO, "other", "another");
    assert_int_equal(err.code, CF_ERR_REMOTE);
    cf_error_clear(&err);
    cf_error_setf_cause(&err, CF_ERR_REMOTE, "HTTP 503 SlowDown", "could not %s", "list");
    assert_string_equal(err.msg, "could not list: HTTP 503 SlowDown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cause_survives_long_message),
        cmocka_unit_test(test_any_cause_survives_long_message),
        cmocka_unit_test(test_context_survives_long_detail),
        cmocka_unit_test(test_controls_escaped),
        cmocka_unit_test(test_utf8_unchanged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
