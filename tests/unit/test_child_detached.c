/*
 * test_child_detached.c - cf_child_spawn_detached: the child runs in a
 * session of its own, is not our child (nobody has to reap it), reads
 * /dev/null, keeps only the descriptor it is given (and so the flock on it,
 * as walspool's claims need), inherits the environment; a program that
 * cannot be started is an error, not a silent exit 127.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fsutil.h"
#include "stream/child.h"

static char dir[] = "/tmp/cf-detached-XXXXXX";

static int
setup(void **state)
{
    (void)state;
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    cf_remove_tree(dir, false);
    return 0;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    (void)nanosleep(&ts, NULL);
}

/* Wait (up to 10 s) for path to exist; its first line into buf. */
static void
wait_file(const char *path, char *buf, size_t size)
{
    FILE *f = NULL;

    for (int i = 0; i < 1000 && (f = fopen(path, "r")) == NULL; i++)
        sleep_ms(10);
    assert_non_null(f);
    assert_non_null(fgets(buf, (int)size, f));
    (void)fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

static void
test_detached(void **state)
{
    char lock[128], out[128], script[1024], line[512], want[512];
    int keep, other, probe;
    pid_t pid = -1;
    struct cf_error err = CF_ERROR_INIT;

    (void)state;
    (void)snprintf(lock, sizeof(lock), "%s/claim", dir);
    (void)snprintf(out, sizeof(out), "%s/out", dir);
    keep = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    other = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(keep >= 0 && other >= 0);
    assert_int_equal(flock(keep, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(setenv("CF_DETACHED_TEST", "inherited", 1), 0);
    /* reports, then holds the claim a little before exiting */
    (void)snprintf(script, sizeof(script),
                   "if read -r x; then in=data; else in=eof; fi; "
                   "k=no; [ -e /proc/$$/fd/%d ] && k=yes; o=no; [ -e /proc/$$/fd/%d ] && o=yes; "
                   "sid=$(cut -d' ' -f6 /proc/$$/stat); "
                   "echo \"$$ $sid $in $k $o $CF_DETACHED_TEST\" >%s.tmp && mv %s.tmp %s; "
                   "sleep 1",
                   keep, other, out, out, out);
    {
        const char *argv[] = {"sh", "-c", script, NULL};

        assert_int_equal(cf_child_spawn_detached("/bin/sh", argv, keep, &pid, &err), CF_OK);
    }
    assert_true(pid > 0);
    /* not our child: already reparented, nothing to reap */
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    (void)close(keep); /* the child holds the claim now */
    probe = open(lock, O_RDONLY | O_CLOEXEC);
    assert_true(probe >= 0);

    wait_file(out, line, sizeof(line));
    (void)snprintf(want, sizeof(want), "%ld ", (long)pid);
    assert_int_equal(strncmp(line, want, strlen(want)), 0); /* the pid returned is the program's */
    {
        long sid = strtol(line + strlen(want), NULL, 10);

        assert_true(sid > 0 && sid != (long)getsid(0)); /* a session of its own */
    }
    assert_non_null(strstr(line, " eof yes no inherited"));
    /* the claim lasts as long as the child, then goes with it */
    assert_int_equal(flock(probe, LOCK_SH | LOCK_NB), -1);
    for (int i = 0; i < 1000 && flock(probe, LOCK_SH | LOCK_NB) != 0; i++)
        sleep_ms(10);
    assert_int_equal(flock(probe, LOCK_SH | LOCK_NB), 0);
    (void)close(probe);
    (void)close(other);
}

static void
test_cannot_start(void **state)
{
    const char *argv[] = {"coffre-none", NULL};
    struct cf_error err = CF_ERROR_INIT;
    pid_t pid = 42;

    (void)state;
    assert_int_equal(cf_child_spawn_detached("/nonexistent/coffre-none", argv, -1, &pid, &err),
                     CF_ERR_CHILD);
    assert_string_equal(err.msg, "could not start coffre-none: No such file or directory");
    assert_int_equal(pid, 42); /* set on success only */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detached),
        cmocka_unit_test(test_cannot_start),
    };

    return cmocka_run_group_tests_name("child_detached", tests, setup, teardown);
}
