/*
 * child.h - child processes: pg_dump and pg_restore as pipeline ends, and
 * detached background children.
 *
 * A child source reads a child's stdout (pg_dump -Fc); at end of data it
 * waits for the child and fails unless it exited 0.  A child sink writes to
 * a child's stdin (pg_restore); close() closes the pipe and waits, abort()
 * kills the child.  The child's stderr goes to an anonymous memory file
 * whose last lines are quoted in the error, so a failing pg_dump says why.
 *
 * argv is passed as is: callers must never put secrets in it.  envp adds
 * variables to the inherited environment (NULL: none).  A detached child
 * (cf_child_spawn_detached) runs on its own, nobody reading or waiting.
 */
#ifndef CF_CHILD_H
#define CF_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

#include "stream/sink.h"

/*
 * Whether the environment entry "NAME=value" reaches a child running
 * program (a path or a name): S3 secrets and $CREDENTIALS_DIRECTORY (where
 * systemd put coffre's PIN and keys) never do; PGPASSWORD only reaches the
 * PostgreSQL clients (pg_dump, pg_dumpall, pg_restore, psql), not a server,
 * a hook or a tool (issue 12, finding 6).  Detached children are coffre
 * itself and inherit everything.
 */
bool cf_child_env_passes(const char *entry, const char *program);
/* The environment for a child running program: envp first (NULL: none), then
 * what of ours cf_child_env_passes lets through; a NULL-terminated array of
 * borrowed pointers, freed with free(); NULL when out of memory. */
char **cf_child_env(const char *const envp[], const char *program);

cf_err cf_child_source_new(const char *const argv[], const char *const envp[],
                           struct cf_source **out, struct cf_error *err);
cf_err cf_child_sink_new(const char *const argv[], const char *const envp[],
                         struct cf_sink **out, struct cf_error *err);

/* The pid of a child source (tests kill it to simulate failures). */
pid_t cf_child_source_pid(const struct cf_source *src);
/* Kill and reap a child source early (after another failure). */
void cf_child_source_kill(struct cf_source *src);

/*
 * Start path (argv[0] is only its name) detached from this process: in a
 * new session, so that a signal to our process group (PostgreSQL stopping
 * its archiver) does not reach it; reparented to init by a double fork, so
 * that it outlives us and nobody has to wait for it; stdin from /dev/null,
 * stdout and stderr ours.  The environment is inherited unchanged: the one
 * user is coffre starting itself (async wal-push, wal-get read-ahead),
 * which needs the same credentials.  keep_fd (-1: none) stays open across
 * exec (walspool's claim lock); every other descriptor is close-on-exec.
 * Returns once the program is running (its pid in *pid if not NULL);
 * CF_ERR_CHILD if fork or exec failed.
 */
cf_err cf_child_spawn_detached(const char *path, const char *const argv[], int keep_fd, pid_t *pid,
                               struct cf_error *err);

/* Run a command to completion with stdin from /dev/null and stdout captured
 * (up to max bytes); CF_ERR_CHILD on a non-zero exit, quoting stderr. */
cf_err cf_child_run(const char *const argv[], const char *const envp[], char **out, size_t max,
                    struct cf_error *err);

/* The same, output discarded, for a program that may start others (a hook, a
 * script): it leads its own process group, and a stop (signal, error) ends
 * the whole group, not only the program. */
cf_err cf_child_run_group(const char *const argv[], const char *const envp[],
                          struct cf_error *err);

/*
 * The same for a program whose exit code is an answer (pg_amcheck: 2 means
 * corruption found): CF_OK once it ran to its end, whatever its exit code
 * (*exit_code; 128 + N when signal N ended it), with its stdout in *out and,
 * when it did not exit 0, the end of its stderr in tail.  Failing to start
 * it, or to read it, is an error as above.
 */
cf_err cf_child_run_status(const char *const argv[], const char *const envp[], char **out,
                           size_t max, int *exit_code, char *tail, size_t tail_size,
                           struct cf_error *err);

#endif
