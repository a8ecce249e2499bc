/*
 * child.c - child processes as pipeline ends (see child.h).
 */
#include "stream/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cancel.h"

extern char **environ;

#define CHILD_PIPE_BYTES (1024 * 1024)

struct child {
    pid_t pid;
    int fd;          /* our end of the pipe */
    int errfd;       /* memfd holding the child's stderr */
    char name[64];   /* basename of argv[0] */
    bool any_exit;   /* cf_child_run_status: an exit code is an answer, not a failure */
    int exit_code;   /* with any_exit: its exit code, or 128 + the signal that ended it */
    bool group;      /* it leads its own process group: a stop reaches what it started */
};

bool
cf_child_env_passes(const char *entry, const char *program)
{
    static const char *const never[] = {
        "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "CREDENTIALS_DIRECTORY="};
    static const char *const clients[] = {"pg_dump", "pg_dumpall", "pg_restore", "psql"};
    const char *base = program != NULL ? strrchr(program, '/') : NULL;

    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        if (strncmp(entry, never[i], strlen(never[i])) == 0)
            return false;
    if (strncmp(entry, "PGPASSWORD=", 11) != 0)
        return true;
    base = base != NULL ? base + 1 : program;
    for (size_t i = 0; base != NULL && i < sizeof(clients) / sizeof(clients[0]); i++)
        if (strcmp(base, clients[i]) == 0)
            return true;
    return false;
}

/* Build environ + extra into a new NULL-terminated array (pointers borrowed). */
char **
cf_child_env(const char *const envp[], const char *program)
{
    size_t n = 0, m = 0;
    char **env;

    while (environ[n] != NULL)
        n++;
    while (envp != NULL && envp[m] != NULL)
        m++;
    env = calloc(n + m + 1, sizeof(*env));
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < m; i++)
        env[i] = (char *)envp[i];
    /* extras first: getenv() returns the first match; secrets coffre may have
     * read from the environment never reach a child that has no use for them */
    for (size_t i = 0, k = m; i < n; i++)
        if (cf_child_env_passes(environ[i], program))
            env[k++] = environ[i];
    return env;
}

static cf_err
spawn(const char *const argv[], const char *const envp[], int want_stdout, struct child *c,
      struct cf_error *err)
{
    posix_spawn_file_actions_t fa;
    int p[2] = {-1, -1};
    char **env = cf_child_env(envp, argv[0]);
    const char *base = strrchr(argv[0], '/');
    int rc;

    (void)snprintf(c->name, sizeof(c->name), "%s", base ? base + 1 : argv[0]);
    c->pid = -1;
    c->fd = -1;
    c->errfd = memfd_create("coffre-child-stderr", MFD_CLOEXEC);
    if (env == NULL || c->errfd < 0 || pipe2(p, O_CLOEXEC) != 0) {
        rc = errno;
        free(env);
        if (c->errfd >= 0)
            (void)close(c->errfd);
        return cf_error_set_errno(err, CF_ERR_CHILD, rc, "could not start %s", c->name);
    }
    /* 1 MiB pipes (the default is 64 KiB): fewer wake-ups of each side when
     * pg_dump and the pipeline take turns on two cores; best effort */
    (void)fcntl(p[0], F_SETPIPE_SZ, CHILD_PIPE_BYTES);
    posix_spawn_file_actions_init(&fa);
    if (want_stdout) {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    } else {
        posix_spawn_file_actions_adddup2(&fa, p[0], 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&fa, c->errfd, 2);
    /* nothing else this process holds reaches the child: libcurl's sockets and
     * libpq's connections are not close-on-exec (issue 12, finding 7) */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (c->group) {
        posix_spawnattr_t at;

        posix_spawnattr_init(&at);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&at, 0);
        rc = posix_spawnp(&c->pid, argv[0], &fa, &at, (char *const *)argv, env);
        posix_spawnattr_destroy(&at);
    } else {
        rc = posix_spawnp(&c->pid, argv[0], &fa, NULL, (char *const *)argv, env);
    }
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    (void)close(want_stdout ? p[1] : p[0]);
    c->fd = want_stdout ? p[0] : p[1];
    if (rc != 0) {
        (void)close(c->fd);
        (void)close(c->errfd);
        c->fd = c->errfd = -1;
        c->pid = -1;
        return cf_error_set_errno(err, CF_ERR_CHILD, rc, "could not start %s", argv[0]);
    }
    return CF_OK;
}

/*
 * What the child said, on one line, for a DETAIL: from its last line holding
 * "error:" (pg_dump and pg_restore put the cause there and the failed command
 * after it), else its last bytes.
 */
static void
stderr_tail(struct child *c, char *buf, size_t size)
{
    char text[8192];
    off_t end = lseek(c->errfd, 0, SEEK_END);
    off_t start = end > (off_t)sizeof(text) - 1 ? end - (off_t)sizeof(text) + 1 : 0;
    ssize_t n = pread(c->errfd, text, sizeof(text) - 1, start);
    const char *from = NULL, *e;

    text[n > 0 ? n : 0] = '\0';
    for (const char *p = text; (e = strstr(p, "error:")) != NULL; p = e + 1) {
        const char *line = e;

        while (line > text && line[-1] != '\n')
            line--;
        from = line;
    }
    if (from == NULL)
        from = text;
    if (from == text && strstr(text, "error:") == NULL && strlen(text) > size - 1)
        from = text + strlen(text) - (size - 1);
    (void)snprintf(buf, size, "%s", from);
    for (size_t i = strlen(buf); i > 0 && (buf[i - 1] == '\n' || buf[i - 1] == ' '); i--)
        buf[i - 1] = '\0';
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

/* Reap the child; CF_ERR_CHILD unless it exited 0. */
static cf_err
reap(struct child *c, struct cf_error *err)
{
    char tail[400];
    int status = 0;
    pid_t r;

    if (c->pid < 0)
        return CF_OK;
    do
        r = waitpid(c->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    c->pid = -1;
    if (r < 0)
        return cf_error_set_errno(err, CF_ERR_CHILD, errno, "could not wait for %s", c->name);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return CF_OK;
    if (c->any_exit) {
        c->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return CF_OK;
    }
    stderr_tail(c, tail, sizeof(tail));
    if (WIFEXITED(status))
        cf_error_setf(err, CF_ERR_CHILD, "%s failed with exit code %d", c->name,
                     WEXITSTATUS(status));
    else
        cf_error_setf(err, CF_ERR_CHILD, "%s was terminated by signal %d", c->name,
                     WTERMSIG(status));
    if (tail[0] != '\0')
        cf_error_detail(err, "%s said: %s", c->name, tail);
    return CF_ERR_CHILD;
}

/* Signal first, close after: a child reading our pipe must never see a clean
 * end of input (pg_restore would commit what it has). */
static void
child_kill(struct child *c)
{
    if (c->pid > 0) {
        (void)kill(c->group ? -c->pid : c->pid, SIGTERM);
        (void)waitpid(c->pid, NULL, 0);
        c->pid = -1;
    }
    if (c->fd >= 0)
        (void)close(c->fd);
    c->fd = -1;
}

static void
child_release(struct child *c)
{
    child_kill(c);
    if (c->errfd >= 0)
        (void)close(c->errfd);
    c->errfd = -1;
}

/* ---- source ---- */

struct child_source {
    struct cf_source base;
    struct child c;
};

static cf_err
cs_read(struct cf_source *src, void *buf, size_t cap, size_t *n, struct cf_error *err)
{
    struct child_source *cs = (struct child_source *)src;

    for (;;) {
        ssize_t r = read(cs->c.fd, buf, cap);

        if (r < 0 && errno == EINTR && !cf_cancel_requested())
            continue;
        if (r < 0 && errno == EINTR)
            return cf_cancel_check(err);
        if (r < 0)
            return cf_error_set_errno(err, CF_ERR_CHILD, errno, "could not read from %s",
                                      cs->c.name);
        *n = (size_t)r;
        if (r == 0)
            return reap(&cs->c, err);  /* end of data counts only if the child succeeded */
        return CF_OK;
    }
}

static void
cs_free(struct cf_source *src)
{
    struct child_source *cs = (struct child_source *)src;

    child_release(&cs->c);
    free(cs);
}

static const struct cf_source_ops cs_ops = {"child", cs_read, cs_free};

static cf_err
source_new(const char *const argv[], const char *const envp[], bool group, struct cf_source **out,
           struct cf_error *err)
{
    struct child_source *cs = calloc(1, sizeof(*cs));
    cf_err rc;

    if (cs == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    cs->base.ops = &cs_ops;
    cs->c.group = group;
    if ((rc = spawn(argv, envp, 1, &cs->c, err)) != CF_OK) {
        free(cs);
        return rc;
    }
    *out = &cs->base;
    return CF_OK;
}

cf_err
cf_child_source_new(const char *const argv[], const char *const envp[], struct cf_source **out,
                    struct cf_error *err)
{
    return source_new(argv, envp, false, out, err);
}

pid_t
cf_child_source_pid(const struct cf_source *src)
{
    return ((const struct child_source *)src)->c.pid;
}

void
cf_child_source_kill(struct cf_source *src)
{
    child_kill(&((struct child_source *)src)->c);
}

/* ---- sink ---- */

struct child_sink {
    struct cf_sink base;
    struct child c;
    int is_done;     /* the child exited 0 before reading everything */
};

static cf_err
ck_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct child_sink *ck = (struct child_sink *)s;
    const unsigned char *p = data;

    while (len > 0 && !ck->is_done) {
        ssize_t w = write(ck->c.fd, p, len);

        if (w < 0 && errno == EINTR && !cf_cancel_requested())
            continue;
        if (w < 0 && errno == EINTR)
            return cf_cancel_check(err);
        if (w < 0 && errno == EPIPE) {
            /* The child quit early.  A failure is reported with its stderr; a
             * success (pg_restore -t has all it needs) lets the rest of the
             * stream be drained, so upstream stages still verify every byte. */
            (void)close(ck->c.fd);
            ck->c.fd = -1;
            if (reap(&ck->c, err) != CF_OK)
                return err->code;
            ck->is_done = 1;
            return CF_OK;
        }
        if (w < 0)
            return cf_error_set_errno(err, CF_ERR_CHILD, errno, "could not write to %s",
                                      ck->c.name);
        p += w;
        len -= (size_t)w;
    }
    return CF_OK;
}

static cf_err
ck_close(struct cf_sink *s, struct cf_error *err)
{
    struct child_sink *ck = (struct child_sink *)s;

    if (ck->is_done)
        return CF_OK;
    (void)close(ck->c.fd);
    ck->c.fd = -1;
    return reap(&ck->c, err);
}

static void
ck_abort(struct cf_sink *s)
{
    child_kill(&((struct child_sink *)s)->c);
}

static void
ck_free(struct cf_sink *s)
{
    struct child_sink *ck = (struct child_sink *)s;

    child_release(&ck->c);
    free(ck);
}

static const struct cf_sink_ops ck_ops = {
    "child", CF_STAGE_TERMINAL, ck_write, ck_close, ck_abort, ck_free,
};

cf_err
cf_child_sink_new(const char *const argv[], const char *const envp[], struct cf_sink **out,
                  struct cf_error *err)
{
    struct child_sink *ck = calloc(1, sizeof(*ck));

    if (ck == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    ck->base.ops = &ck_ops;
    /* a child that exits early must not kill us with SIGPIPE */
    (void)signal(SIGPIPE, SIG_IGN);
    if (spawn(argv, envp, 0, &ck->c, err) != CF_OK) {
        free(ck);
        return err->code;
    }
    *out = &ck->base;
    return CF_OK;
}

/* Run to the end, capturing stdout (at most max bytes); any_exit: see cf_child_run_status. */
static cf_err
run_capture(const char *const argv[], const char *const envp[], bool any_exit, bool group,
            char **out,
            size_t max, int *exit_code, char *tail, size_t tail_size, struct cf_error *err)
{
    struct child_source *cs = NULL;
    struct cf_source *src = NULL;
    char *buf = malloc(max + 1);
    size_t len = 0, n = 0;
    cf_err rc;

    if (buf == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = source_new(argv, envp, group, &src, err);
    cs = (struct child_source *)src;
    if (rc == CF_OK)
        cs->c.any_exit = any_exit;
    while (rc == CF_OK) {
        char scratch[4096];
        size_t room = max - len;

        rc = cf_source_read(src, room > 0 ? buf + len : scratch, room > 0 ? room : sizeof(scratch),
                            &n, err);
        if (rc != CF_OK || n == 0)
            break;
        if (room > 0)
            len += n;
    }
    if (rc == CF_OK && exit_code != NULL) {
        *exit_code = cs->c.exit_code;
        if (cs->c.exit_code != 0 && tail != NULL)
            stderr_tail(&cs->c, tail, tail_size);
    }
    cf_source_free(src);
    if (rc != CF_OK) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    if (out != NULL)
        *out = buf;
    else
        free(buf);
    return CF_OK;
}

cf_err
cf_child_run(const char *const argv[], const char *const envp[], char **out, size_t max,
             struct cf_error *err)
{
    return run_capture(argv, envp, false, false, out, max, NULL, NULL, 0, err);
}

cf_err
cf_child_run_group(const char *const argv[], const char *const envp[], struct cf_error *err)
{
    return run_capture(argv, envp, false, true, NULL, 0, NULL, NULL, 0, err);
}

cf_err
cf_child_run_status(const char *const argv[], const char *const envp[], char **out, size_t max,
                    int *exit_code, char *tail, size_t tail_size, struct cf_error *err)
{
    if (tail != NULL && tail_size > 0)
        tail[0] = '\0';
    return run_capture(argv, envp, true, false, out, max, exit_code, tail, tail_size, err);
}

/* ---- detached children ---------------------------------------------------- */

/*
 * Between fork and exec only async-signal-safe calls.  What the forked
 * processes report goes through a close-on-exec pipe as ints: the
 * intermediate writes the grandchild's pid (> 0) or -errno of its failed
 * fork; the grandchild writes -errno if exec fails; an exec that succeeds
 * closes the pipe, so end of file means "started".
 */
static void
report(int fd, int v)
{
    ssize_t n = write(fd, &v, sizeof(v));

    (void)n;
}

_Noreturn static void
detached_child(const char *path, const char *const argv[], int keep_fd, int null, int fd)
{
    pid_t g;

    (void)setsid(); /* no signal to our process group or session reaches it */
    if (dup2(null, STDIN_FILENO) < 0 ||
        (null == STDIN_FILENO && fcntl(STDIN_FILENO, F_SETFD, 0) != 0) ||
        (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) != 0)) {
        report(fd, -errno);
        _exit(1);
    }
    if ((g = fork()) != 0) {
        report(fd, g > 0 ? (int)g : -errno);
        _exit(0); /* the grandchild is reparented to init, which reaps it */
    }
    execv(path, (char *const *)argv);
    report(fd, -errno);
    _exit(127);
}

cf_err
cf_child_spawn_detached(const char *path, const char *const argv[], int keep_fd, pid_t *pid,
                        struct cf_error *err)
{
    int p[2] = {-1, -1}, null = open("/dev/null", O_RDWR | O_CLOEXEC), v, e = 0, status;
    pid_t started = -1, mid;
    ssize_t n;

    if (null < 0 || pipe2(p, O_CLOEXEC) != 0) {
        e = errno;
        if (null >= 0)
            (void)close(null);
        return cf_error_set_errno(err, CF_ERR_CHILD, e, "could not start %s", argv[0]);
    }
    (void)fflush(NULL); /* nothing buffered is written twice */
    if ((mid = fork()) == 0)
        detached_child(path, argv, keep_fd, null, p[1]);
    e = errno;
    (void)close(p[1]);
    (void)close(null);
    if (mid < 0) {
        (void)close(p[0]);
        return cf_error_set_errno(err, CF_ERR_CHILD, e, "could not start %s", argv[0]);
    }
    while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
        ;
    e = 0;
    while ((n = read(p[0], &v, sizeof(v))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(v)) {
            e = n < 0 ? errno : EIO;
            break;
        }
        if (v > 0)
            started = (pid_t)v;
        else if (e == 0)
            e = -v;
    }
    (void)close(p[0]);
    if (e != 0 || started < 0)
        return cf_error_set_errno(err, CF_ERR_CHILD, e != 0 ? e : ECHILD, "could not start %s",
                                  argv[0]);
    if (pid != NULL)
        *pid = started;
    return CF_OK;
}
