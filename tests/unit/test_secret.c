/*
 * test_secret.c - common/secret: the one reader of secret files (PINs, S3
 * keys, SMTP password, bot token): the newline rule, the size limit (an
 * error, never a truncation), the file checks, and no secret in errors.
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

#include "common/fsutil.h"
#include "common/secret.h"

static char dir[] = "/tmp/cf-secret-XXXXXX";
static char path[128];

static int
setup(void **state)
{
    (void)state;
    if (sodium_init() < 0 || mkdtemp(dir) == NULL)
        return -1;
    (void)snprintf(path, sizeof(path), "%s/secret", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    cf_remove_tree(dir, false);
    return 0;
}

static void
write_secret(const char *data, size_t len, mode_t mode)
{
    FILE *f;

    (void)unlink(path);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* Reads data back as want (NULL: must fail with a message holding msg). */
static void
expect(const char *data, size_t max, const char *want, const char *msg)
{
    struct cf_error err = CF_ERROR_INIT;
    char *got = NULL;
    size_t len = 99;

    write_secret(data, strlen(data), 0600);
    if (want != NULL) {
        assert_int_equal(cf_secret_read(path, "PIN", max, &got, &len, &err), CF_OK);
        assert_string_equal(got, want);
        assert_int_equal(len, strlen(want));
        cf_secret_free(got);
        return;
    }
    assert_int_equal(cf_secret_read(path, "PIN", max, &got, &len, &err), CF_ERR_CONFIG);
    assert_null(got);       /* out-parameters only on success */
    assert_int_equal(len, 99);
    assert_non_null(strstr(err.msg, msg));
    assert_non_null(strstr(err.msg, path));
    /* never the secret in a message */
    assert_null(strstr(err.msg, "s3cr"));
    assert_null(strstr(err.detail, "s3cr"));
    assert_null(strstr(err.hint, "s3cr"));
}

static void
test_newline_rule(void **state)
{
    (void)state;
    expect("s3cret", 64, "s3cret", NULL);
    expect("s3cret\n", 64, "s3cret", NULL);
    expect("s3cret\r\n", 64, "s3cret", NULL);
    expect(" s3cret \t\n", 64, " s3cret \t", NULL); /* blanks are part of the secret */
    expect("s3cret\n\n", 64, NULL, "holds more than one line");
    expect("s3cr\net", 64, NULL, "holds more than one line");
    expect("s3cret\r", 64, NULL, "holds more than one line");
    expect("\n", 64, NULL, "is empty");
    expect("", 64, NULL, "is empty");
    expect("\r\n", 64, NULL, "is empty");
}

static void
test_size_limit(void **state)
{
    (void)state;
    expect("s3cr", 4, "s3cr", NULL);
    expect("s3cr\r\n", 4, "s3cr", NULL);
    expect("s3cre", 4, NULL, "is longer than 4 bytes");
    expect("s3cre\n", 4, NULL, "is longer than 4 bytes");
    /* far longer than the limit: refused, never cut to the limit */
    expect("s3cretsecretsecretsecretsecretsecretsecret", 8, NULL, "is longer than 8 bytes");
}

static void
test_nul_inside(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    char *got = NULL;

    (void)state;
    write_secret("s3c\0ret", 7, 0600);
    assert_int_equal(cf_secret_read(path, "PIN", 64, &got, NULL, &err), CF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "holds more than one line"));
}

static void
test_file_checks(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    char *got = NULL, fifo[160], msg[300];

    (void)state;
    /* readable by others: accepted (docs/security.md asks for 0600) */
    write_secret("s3cret", 6, 0644);
    assert_int_equal(cf_secret_read(path, "PIN", 64, &got, NULL, &err), CF_OK);
    cf_secret_free(got);
    got = NULL;
    /* writable by group or others: whoever writes it chooses the secret */
    write_secret("s3cret", 6, 0620);
    assert_int_equal(cf_secret_read(path, "SMTP password", 64, &got, NULL, &err), CF_ERR_CONFIG);
    (void)snprintf(msg, sizeof(msg), "SMTP password file \"%s\" is writable by other users", path);
    assert_string_equal(err.msg, msg);
    assert_non_null(strstr(err.detail, "0620"));
    assert_non_null(strstr(err.hint, "chmod go-w"));
    cf_error_clear(&err);
    write_secret("s3cret", 6, 0602);
    assert_int_equal(cf_secret_read(path, "PIN", 64, &got, NULL, &err), CF_ERR_CONFIG);
    cf_error_clear(&err);
    /* not a regular file: a directory, a FIFO (refused without blocking) */
    assert_int_equal(cf_secret_read(dir, "PIN", 64, &got, NULL, &err), CF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "is not a regular file"));
    cf_error_clear(&err);
    (void)snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(cf_secret_read(fifo, "PIN", 64, &got, NULL, &err), CF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "is not a regular file"));
    cf_error_clear(&err);
    /* missing: the message keyring tests and docs/exit-status.md quote */
    (void)snprintf(fifo, sizeof(fifo), "%s/none", dir);
    assert_int_equal(cf_secret_read(fifo, "PIN", 64, &got, NULL, &err), CF_ERR_CONFIG);
    (void)snprintf(msg, sizeof(msg), "could not read PIN file \"%s\": No such file or directory",
                   fifo);
    assert_string_equal(err.msg, msg);
    assert_null(got);
    cf_secret_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newline_rule),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_nul_inside),
        cmocka_unit_test(test_file_checks),
    };

    return cmocka_run_group_tests_name("secret", tests, setup, teardown);
}
