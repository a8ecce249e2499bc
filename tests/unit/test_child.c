/*
 * test_child.c - child processes as pipeline ends (stream/child.c), with real
 * processes: sh, printf, cat, env, yes.  A child's failure carries its exit
 * code or signal and the part of its stderr that says why; an aborted or freed
 * child is killed and reaped; cf_child_run captures stdout up to its limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "stream/child.h"

#define BIG ((size_t)4 * 1024 * 1024) /* more than the 1 MiB pipe: a write must block */

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/coffre-test-child-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    const char *const argv[] = {"rm", "-rf", dir, NULL};
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    return cf_child_run(argv, NULL, NULL, 0, &err) == CF_OK ? 0 : -1;
}

static void
path_in_dir(const char *name, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s/%s", dir, name);
}

/* Pump a child source into memory; *out (malloc'd, NUL-terminated) on success. */
static cf_err
read_child(const char *const argv[], char **out, size_t *len, struct cf_error *err)
{
    struct cf_source *src = NULL;
    struct cf_sink *mem = NULL;
    const uint8_t *data;
    cf_err rc;

    assert_int_equal(cf_mem_sink_new(BIG, &mem, err), CF_OK);
    if ((rc = cf_child_source_new(argv, NULL, &src, err)) != CF_OK) {
        cf_sink_free(mem);
        return rc;
    }
    rc = cf_pump(src, mem, 4096, err);
    cf_source_free(src);
    if (rc == CF_OK) {
        data = cf_mem_sink_data(mem, len);
        *out = calloc(1, *len + 1);
        assert_non_null(*out);
        if (*len > 0) /* an empty mem sink has no data pointer */
            memcpy(*out, data, *len);
    }
    cf_sink_free(mem);
    return rc;
}

/* The process pid no longer exists: killed and reaped (not a zombie). */
static void
assert_gone(pid_t pid)
{
    assert_true(pid > 0);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

/* Wait (up to 10 s) for a child to write its pid into path. */
static pid_t
wait_pid_file(const char *path)
{
    struct timespec ts = {0, 10 * 1000 * 1000};

    for (int i = 0; i < 1000; i++) {
        FILE *f = fopen(path, "r");
        long pid = 0;

        if (f != NULL) {
            int n = fscanf(f, "%ld\n", &pid);

            (void)fclose(f);
            if (n == 1 && pid > 0)
                return (pid_t)pid;
        }
        (void)nanosleep(&ts, NULL);
    }
    fail_msg("no pid in %s", path);
    return -1;
}

/* ---- source ---- */

static void
test_source_reads_stdout(void **state)
{
    const char *const hello[] = {"printf", "hello\\nworld", NULL};
    const char *const cat[] = {"cat", NULL}; /* stdin is /dev/null: ends at once */
    struct cf_error err = CF_ERROR_INIT;
    char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(read_child(hello, &out, &len, &err), CF_OK);
    assert_int_equal(len, 11);
    assert_string_equal(out, "hello\nworld");
    free(out);

    assert_int_equal(read_child(cat, &out, &len, &err), CF_OK);
    assert_int_equal(len, 0);
    free(out);
}

static void
test_source_exit_code(void **state)
{
    /* the cause is on the last line holding "error:", and what follows it */
    const char *const argv[] = {
        "sh", "-c",
        "printf 'partial output'; echo 'starting' >&2; "
        "echo 'pg_dump: error: first problem' >&2; "
        "echo 'pg_dump: error: query failed: ERROR:  permission denied' >&2; "
        "echo 'pg_dump: detail: Query was: LOCK TABLE t' >&2; exit 3",
        NULL};
    struct cf_error err = CF_ERROR_INIT;
    char *out = NULL;
    size_t len = 0;

    (void)state;
    /* the bytes before the failure do not make it a success */
    assert_int_equal(read_child(argv, &out, &len, &err), CF_ERR_CHILD);
    assert_null(out);
    assert_string_equal(err.msg, "sh failed with exit code 3");
    assert_string_equal(err.detail, "sh said: pg_dump: error: query failed: ERROR:  permission "
                                    "denied pg_dump: detail: Query was: LOCK TABLE t");
}

static void
test_source_stderr_tail(void **state)
{
    /* no "error:": the last 399 bytes, newlines as spaces, trailing ones dropped */
    const char *const argv[] = {"sh", "-c",
                                "i=0; while [ $i -lt 100 ]; do echo 'line of noise' >&2; "
                                "i=$((i + 1)); done; printf 'the end\\n\\n' >&2; exit 1",
                                NULL};
    const char *const quiet[] = {"sh", "-c", "exit 7", NULL};
    struct cf_error err = CF_ERROR_INIT;
    char *out = NULL;
    size_t len = 0;
    const char *said;

    (void)state;
    assert_int_equal(read_child(argv, &out, &len, &err), CF_ERR_CHILD);
    assert_string_equal(err.msg, "sh failed with exit code 1");
    assert_true(strncmp(err.detail, "sh said: ", 9) == 0);
    said = err.detail + 9;
    assert_int_equal(strlen(said), 399 - 2);
    assert_null(strchr(said, '\n'));
    assert_string_equal(said + strlen(said) - 21, "line of noise the end");

    /* nothing on stderr: no detail */
    cf_error_clear(&err);
    assert_int_equal(read_child(quiet, &out, &len, &err), CF_ERR_CHILD);
    assert_string_equal(err.msg, "sh failed with exit code 7");
    assert_string_equal(err.detail, "");
}

static void
test_source_signal(void **state)
{
    const char *const argv[] = {"sh", "-c", "echo 'about to die' >&2; kill -KILL $$", NULL};
    struct cf_error err = CF_ERROR_INIT;
    char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(read_child(argv, &out, &len, &err), CF_ERR_CHILD);
    assert_string_equal(err.msg, "sh was terminated by signal 9");
    assert_string_equal(err.detail, "sh said: about to die");
}

static void
test_source_kill_and_free(void **state)
{
    const char *const yes[] = {"yes", NULL};
    const char *const sleeper[] = {"sleep", "60", NULL};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_source *src = NULL;
    char buf[64];
    size_t n = 0;
    pid_t pid;

    (void)state;
    /* killed early, after another failure */
    assert_int_equal(cf_child_source_new(yes, NULL, &src, &err), CF_OK);
    assert_int_equal(cf_source_read(src, buf, sizeof(buf), &n, &err), CF_OK);
    assert_true(n > 0 && buf[0] == 'y');
    pid = cf_child_source_pid(src);
    cf_child_source_kill(src);
    assert_gone(pid);
    assert_int_equal(cf_child_source_pid(src), -1);
    cf_source_free(src);

    /* freed while the child still runs: killed, not waited for */
    assert_int_equal(cf_child_source_new(sleeper, NULL, &src, &err), CF_OK);
    pid = cf_child_source_pid(src);
    assert_int_equal(kill(pid, 0), 0);
    cf_source_free(src);
    assert_gone(pid);
}

/* ---- sink ---- */

static void
test_sink_writes_stdin(void **state)
{
    char file[128], script[256], back[64] = "";
    const char *const argv[] = {"sh", "-c", script, NULL};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *s = NULL;
    FILE *f;

    (void)state;
    path_in_dir("out", file, sizeof(file));
    (void)snprintf(script, sizeof(script), "exec cat >'%s'", file);
    assert_int_equal(cf_child_sink_new(argv, NULL, &s, &err), CF_OK);
    assert_int_equal(cf_sink_write(s, "backup ", 7, &err), CF_OK);
    assert_int_equal(cf_sink_write(s, "and restore\n", 12, &err), CF_OK);
    /* close waits for the child: the file is complete when it returns */
    assert_int_equal(cf_sink_close(s, &err), CF_OK);
    cf_sink_free(s);
    f = fopen(file, "r");
    assert_non_null(f);
    assert_int_equal(fread(back, 1, sizeof(back) - 1, f), 19);
    (void)fclose(f);
    assert_string_equal(back, "backup and restore\n");
}

static void
test_sink_failing_child(void **state)
{
    /* quits without reading: the write that finds the pipe closed reports it */
    const char *const early[] = {
        "sh", "-c", "echo 'pg_restore: error: input file is too short' >&2; exit 1", NULL};
    /* reads everything, then fails: close reports it */
    const char *const late[] = {
        "sh", "-c", "cat >/dev/null; echo 'pg_restore: error: could not execute query' >&2; "
                    "exit 2", NULL};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *s = NULL;
    char *big = calloc(1, BIG);

    (void)state;
    assert_non_null(big);
    assert_int_equal(cf_child_sink_new(early, NULL, &s, &err), CF_OK);
    assert_int_equal(cf_sink_write(s, big, BIG, &err), CF_ERR_CHILD);
    assert_string_equal(err.msg, "sh failed with exit code 1");
    assert_string_equal(err.detail, "sh said: pg_restore: error: input file is too short");
    cf_sink_abort(s);
    cf_sink_free(s);

    cf_error_clear(&err);
    assert_int_equal(cf_child_sink_new(late, NULL, &s, &err), CF_OK);
    assert_int_equal(cf_sink_write(s, big, BIG, &err), CF_OK);
    assert_int_equal(cf_sink_close(s, &err), CF_ERR_CHILD);
    assert_string_equal(err.msg, "sh failed with exit code 2");
    assert_string_equal(err.detail, "sh said: pg_restore: error: could not execute query");
    cf_sink_free(s);
    free(big);
}

static void
test_sink_child_done_early(void **state)
{
    /* a child that has all it needs and exits 0 (pg_restore -t): the rest of
     * the stream is drained so upstream stages still see every byte */
    const char *const argv[] = {"head", "-c", "1", NULL};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *s = NULL;
    char *big = calloc(1, BIG);

    (void)state;
    assert_non_null(big);
    assert_int_equal(cf_child_sink_new(argv, NULL, &s, &err), CF_OK);
    assert_int_equal(cf_sink_write(s, big, BIG, &err), CF_OK);
    assert_int_equal(cf_sink_write(s, big, BIG, &err), CF_OK);
    assert_int_equal(cf_sink_close(s, &err), CF_OK);
    cf_sink_free(s);
    free(big);
}

static void
test_sink_abort_kills(void **state)
{
    char pidfile[128], marker[128], script[512];
    const char *const argv[] = {"sh", "-c", script, NULL};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *s = NULL;
    struct stat sb;
    pid_t pid;

    (void)state;
    /* the marker would only appear if the shell saw a clean end of input */
    path_in_dir("pid", pidfile, sizeof(pidfile));
    path_in_dir("committed", marker, sizeof(marker));
    (void)snprintf(script, sizeof(script), "echo $$ >'%s'; cat >/dev/null; touch '%s'", pidfile,
                   marker);
    assert_int_equal(cf_child_sink_new(argv, NULL, &s, &err), CF_OK);
    assert_int_equal(cf_sink_write(s, "half a dump", 11, &err), CF_OK);
    pid = wait_pid_file(pidfile);
    assert_int_equal(kill(pid, 0), 0);
    cf_sink_abort(s);
    assert_gone(pid);
    cf_sink_free(s);
    assert_int_equal(stat(marker, &sb), -1);
    assert_int_equal(errno, ENOENT);
}

/* ---- cf_child_run ---- */

static void
test_run_capture(void **state)
{
    const char *const argv[] = {"printf", "%s|%s", "a b", "c", NULL};
    struct cf_error err = CF_ERROR_INIT;
    char *out = NULL;

    (void)state;
    assert_int_equal(cf_child_run(argv, NULL, &out, 1024, &err), CF_OK);
    assert_string_equal(out, "a b|c");
    free(out);
    /* out may be NULL: the exit status alone */
    assert_int_equal(cf_child_run(argv, NULL, NULL, 1024, &err), CF_OK);
}

/* A descriptor without O_CLOEXEC (a libcurl socket, say) does not reach a child. */
static void
test_run_closes_descriptors(void **state)
{
    struct cf_error err = CF_ERROR_INIT;
    char path[64], *out = NULL;
    int fd = open("/dev/null", O_RDONLY); /* deliberately inheritable */

    (void)state;
    assert_true(fd > 2);
    (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    {
        const char *const argv[] = {"sh", "-c",
                                    "if [ -e \"$0\" ]; then echo open; else echo "
                                    "closed; fi",
                                    path, NULL};

        assert_int_equal(cf_child_run(argv, NULL, &out, 1024, &err), CF_OK);
    }
    assert_string_equal(out, "closed\n");
    free(out);
    (void)close(fd);
}

static void
test_run_max(void **state)
{
    /* output beyond max is read and dropped, so the child never blocks */
    const char *const argv[] = {"sh", "-c", "yes | head -c 300000", NULL};
    struct cf_error err = CF_ERROR_INIT;
    char *out = NULL;

    (void)state;
    assert_int_equal(cf_child_run(argv, NULL, &out, 10, &err), CF_OK);
    assert_string_equal(out, "y\ny\ny\ny\ny\n");
    free(out);
    assert_int_equal(cf_child_run(argv, NULL, &out, 0, &err), CF_OK);
    assert_string_equal(out, "");
    free(out);
}

static void
test_run_failure(void **state)
{
    const char *const argv[] = {"sh", "-c", "echo 'initdb: error: directory exists' >&2; exit 4",
                                NULL};
    struct cf_error err = CF_ERROR_INIT;
    char *out = (char *)"untouched";

    (void)state;
    assert_int_equal(cf_child_run(argv, NULL, &out, 1024, &err), CF_ERR_CHILD);
    assert_string_equal(out, "untouched");
    assert_string_equal(err.msg, "sh failed with exit code 4");
    assert_string_equal(err.detail, "sh said: initdb: error: directory exists");
}

static void
test_run_environment(void **state)
{
    const char *const argv[] = {"env", NULL};
    const char *const extra[] = {"COFFRE_TEST_VAR=inner", "COFFRE_TEST_NEW=1", NULL};
    struct cf_error err = CF_ERROR_INIT;
    char *out = NULL;
    const char *first;

    (void)state;
    assert_int_equal(setenv("COFFRE_TEST_VAR", "outer", 1), 0);
    assert_int_equal(setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT", 1), 0);
    assert_int_equal(setenv("AWS_SECRET_ACCESS_KEY", "unit-secret", 1), 0);
    assert_int_equal(setenv("AWS_SESSION_TOKEN", "unit-token", 1), 0);
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", "/run/credentials/unit", 1), 0);
    assert_int_equal(setenv("PGPASSWORD", "unit-password", 1), 0);
    assert_int_equal(cf_child_run(argv, extra, &out, 1024 * 1024, &err), CF_OK);
    /* envp comes first, so getenv() in the child finds it before the inherited value */
    first = strstr(out, "COFFRE_TEST_VAR=");
    assert_non_null(first);
    assert_true(strncmp(first, "COFFRE_TEST_VAR=inner\n", 22) == 0);
    assert_non_null(strstr(out, "COFFRE_TEST_NEW=1\n"));
    /* secrets coffre may have read from its environment never reach a child */
    assert_non_null(strstr(out, "AWS_ACCESS_KEY_ID=AKIDUNIT\n"));
    assert_null(strstr(out, "AWS_SECRET_ACCESS_KEY"));
    assert_null(strstr(out, "unit-secret"));
    assert_null(strstr(out, "AWS_SESSION_TOKEN"));
    /* systemd's credentials and the libpq password: not for env (a tool, a hook) */
    assert_null(strstr(out, "CREDENTIALS_DIRECTORY"));
    assert_null(strstr(out, "unit-password"));
    free(out);
    (void)unsetenv("COFFRE_TEST_VAR");
    (void)unsetenv("CREDENTIALS_DIRECTORY");
    (void)unsetenv("PGPASSWORD");
    (void)unsetenv("AWS_ACCESS_KEY_ID");
    (void)unsetenv("AWS_SECRET_ACCESS_KEY");
    (void)unsetenv("AWS_SESSION_TOKEN");
}

/* Which program gets which variable (issue 12, finding 6). */
static void
test_env_filter(void **state)
{
    (void)state;
    /* the PostgreSQL clients need the password the operator gave coffre */
    assert_true(cf_child_env_passes("PGPASSWORD=x", "pg_dump"));
    assert_true(cf_child_env_passes("PGPASSWORD=x", "/usr/lib/postgresql/15/bin/pg_restore"));
    assert_true(cf_child_env_passes("PGPASSWORD=x", "pg_dumpall"));
    assert_true(cf_child_env_passes("PGPASSWORD=x", "psql"));
    /* a server, a hook, a tool: no */
    assert_false(cf_child_env_passes("PGPASSWORD=x", "postgres"));
    assert_false(cf_child_env_passes("PGPASSWORD=x", "/etc/coffre/switch.sh"));
    assert_false(cf_child_env_passes("PGPASSWORD=x", "pg_dump-wrapper"));
    assert_false(cf_child_env_passes("PGPASSWORD=x", NULL));
    /* never, whoever asks */
    assert_false(cf_child_env_passes("CREDENTIALS_DIRECTORY=/run/x", "pg_dump"));
    assert_false(cf_child_env_passes("AWS_SECRET_ACCESS_KEY=s", "pg_dump"));
    assert_false(cf_child_env_passes("AWS_SESSION_TOKEN=t", "psql"));
    /* everything else passes, prefixes included */
    assert_true(cf_child_env_passes("PGPASSWORDX=1", "postgres"));
    assert_true(cf_child_env_passes("PGHOST=/run/postgresql", "postgres"));
    assert_true(cf_child_env_passes("AWS_ACCESS_KEY_ID=AKID", "tar"));
}

static void
test_no_such_program(void **state)
{
    const char *const by_path[] = {"/nonexistent/coffre-no-such-program", NULL};
    const char *const by_name[] = {"coffre-no-such-program", NULL};
    struct cf_error err = CF_ERROR_INIT;
    struct cf_source *src = NULL;
    struct cf_sink *s = NULL;
    char *out = NULL;

    (void)state;
    assert_int_equal(cf_child_source_new(by_path, NULL, &src, &err), CF_ERR_CHILD);
    assert_null(src);
    assert_string_equal(err.msg, "could not start /nonexistent/coffre-no-such-program: "
                                 "No such file or directory");
    assert_int_equal(err.sys_errno, ENOENT);

    cf_error_clear(&err);
    assert_int_equal(cf_child_sink_new(by_name, NULL, &s, &err), CF_ERR_CHILD);
    assert_null(s);
    assert_string_equal(err.msg, "could not start coffre-no-such-program: "
                                 "No such file or directory");

    cf_error_clear(&err);
    assert_int_equal(cf_child_run(by_name, NULL, &out, 16, &err), CF_ERR_CHILD);
    assert_null(out);
    assert_string_equal(err.msg, "could not start coffre-no-such-program: "
                                 "No such file or directory");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_reads_stdout),
        cmocka_unit_test(test_source_exit_code),
        cmocka_unit_test(test_source_stderr_tail),
        cmocka_unit_test(test_source_signal),
        cmocka_unit_test(test_source_kill_and_free),
        cmocka_unit_test(test_sink_writes_stdin),
        cmocka_unit_test(test_sink_failing_child),
        cmocka_unit_test(test_sink_child_done_early),
        cmocka_unit_test(test_sink_abort_kills),
        cmocka_unit_test(test_run_capture),
        cmocka_unit_test(test_run_max),
        cmocka_unit_test(test_run_failure),
        cmocka_unit_test(test_run_environment),
        cmocka_unit_test(test_env_filter),
        cmocka_unit_test(test_run_closes_descriptors),
        cmocka_unit_test(test_no_such_program),
    };

    return cmocka_run_group_tests_name("child", tests, setup, teardown);
}
