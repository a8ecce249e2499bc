/*
 * cluster_run.c - running the server of a struct cf_cluster (see cluster.h):
 * spawn, wait until it is up, follow recovery, connect, stop, and read its
 * log when it dies.
 *
 * The postmaster is spawned directly (posix_spawn, own session) rather than
 * through pg_ctl: its pid is ours from the first instant, so a signal that
 * cuts the start short can still stop it, waitpid() says when it dies, and
 * its options go into argv without a shell.  It reports readiness the way
 * pg_ctl -w reads it: the status line of postmaster.pid.
 */
#include "restore/cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/log.h"
#include "restore/cluster_int.h"
#include "stream/child.h"

#define NOT_REACHED "recovery ended before configured recovery target was reached"
#define STOP_FAST_S 60
#define STOP_IMMEDIATE_S 10
#define CONNECT_REFUSALS 5 /* polls in a row where the server answers pings but refuses us */

static double
now_s(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    (void)nanosleep(&ts, NULL); /* a signal ends it early: callers check cf_cancel */
}

/* ---------------------------------------------------------------- the log */

/* Lines our own pings and polls cause, never the reason a server died. */
static bool
is_noise(const char *line)
{
    return strstr(line, "the database system is ") != NULL ||
           strstr(line, "terminating connection due to administrator command") != NULL;
}

/* The last line of the log holding needle (or a FATAL/PANIC line when needle is NULL). */
static bool
log_line(const char *log, const char *needle, char *buf, size_t size)
{
    FILE *f = fopen(log, "re");
    char line[1024];
    bool found = false;

    if (f == NULL)
        return false;
    while (fgets(line, sizeof(line), f) != NULL) {
        if ((needle && strstr(line, needle)) ||
            (!needle && (strstr(line, "FATAL:") || strstr(line, "PANIC:")) && !is_noise(line))) {
            line[strcspn(line, "\n")] = '\0';
            (void)snprintf(buf, size, "%.*s", (int)(size - 1), line);
            found = true;
        }
    }
    (void)fclose(f);
    return found;
}

/* The postmaster exited (status from waitpid): say why, from its log. */
static cf_err
server_exited(const struct cf_cluster *c, bool during_start, int status, struct cf_error *err)
{
    char line[400];

    if (log_line(c->log, NOT_REACHED, line, sizeof(line))) {
        cf_error_setf(err, CF_ERR_PG, "recovery ended before the recovery target was reached");
        cf_error_detail(err, "PostgreSQL: %s", line);
        cf_error_hint(err, "The repository holds no WAL up to the target: check \"coffre verify "
                           "--wal\", or choose an earlier target.  The server is stopped; see %s.",
                      c->log);
        return CF_ERR_PG;
    }
    if (during_start)
        cf_error_setf(err, CF_ERR_PG, "could not start the %s", c->label);
    else
        cf_error_setf(err, CF_ERR_PG, "the %s stopped during recovery", c->label);
    if (log_line(c->log, NULL, line, sizeof(line)))
        cf_error_detail(err, "PostgreSQL: %s", line);
    else if (WIFEXITED(status))
        cf_error_detail(err, "The postmaster exited with code %d.", WEXITSTATUS(status));
    else
        cf_error_detail(err, "The postmaster was terminated by signal %d.", WTERMSIG(status));
    if (!during_start && c->keep) /* the operator's server (--start): its files are whole */
        cf_error_hint(err,
                      "See the server log %s.  The data directory is restored: once the cause "
                      "is fixed, pg_ctl -D %s start resumes the recovery.",
                      c->log, c->pgdata);
    else
        cf_error_hint(err, "See the server log %s.", c->log);
    return CF_ERR_PG;
}

/* ---------------------------------------------------------------- running */

/* true when the postmaster has exited (reaped; *status set). */
static bool
has_exited(struct cf_cluster *c, int *status)
{
    pid_t r;

    if (c->pid <= 0)
        return true;
    do
        r = waitpid(c->pid, status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    if (r < 0)
        *status = 0; /* reaped by someone else: gone all the same */
    c->pid = -1;
    return true;
}

#define SERVER_SETTINGS 16

struct server_argv {
    const char *argv[3 + 2 * SERVER_SETTINGS + 1];
    char set[SERVER_SETTINGS][PATH_MAX + 32];
    int n, n_set;
};

static void add_setting(struct server_argv *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_setting(struct server_argv *v, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(v->set[v->n_set], sizeof(v->set[0]), fmt, ap);
    va_end(ap);
    v->argv[v->n++] = "-c";
    v->argv[v->n++] = v->set[v->n_set++];
}

/* The settings that must beat the PGDATA's own files go on the command line. */
static void
server_argv(const struct cf_cluster *c, struct server_argv *v)
{
    v->n = v->n_set = 0;
    v->argv[v->n++] = c->postgres;
    v->argv[v->n++] = "-D";
    v->argv[v->n++] = c->pgdata;
    add_setting(v, "data_directory=%s", c->pgdata); /* a restored file may name the source's */
    add_setting(v, "port=%d", c->port);
    add_setting(v, "listen_addresses=");
    add_setting(v, "unix_socket_directories=%s", c->sockdir);
    add_setting(v, "unix_socket_permissions=0700");
    add_setting(v, "unix_socket_group=");
    add_setting(v, "hba_file=%s", c->hba);
    add_setting(v, "ident_file=%s", c->ident);
    if (c->conf[0] != '\0')
        add_setting(v, "config_file=%s", c->conf);
    add_setting(v, "external_pid_file=");    /* never the source's (/run/postgresql/...) */
    add_setting(v, "logging_collector=off"); /* everything into our log, which we read */
    add_setting(v, "log_destination=stderr");
    add_setting(v, "lc_messages=C");         /* the messages we look for are in English */
    add_setting(v, "ssl=off");               /* no TCP; the source's key files may be absent */
    v->argv[v->n] = NULL;
}

static cf_err
spawn_server(struct cf_cluster *c, struct cf_error *err)
{
    static const int reset[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1,
                                SIGUSR2};
    struct server_argv *v = malloc(sizeof(*v));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t mask, defaults;
    char **env;
    int fd, rc;

    if (v == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    server_argv(c, v);
    if ((fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
        free(v);
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open \"%s\"", c->log);
    }
    if ((env = cf_child_env(NULL, "postgres")) == NULL) {
        (void)close(fd);
        free(v);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    /* coffre's handlers and ignored SIGPIPE must not leak into the server */
    (void)sigemptyset(&mask);
    (void)sigemptyset(&defaults);
    for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
        (void)sigaddset(&defaults, reset[i]);
    (void)posix_spawn_file_actions_init(&fa);
    (void)posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    (void)posix_spawn_file_actions_adddup2(&fa, fd, 1);
    (void)posix_spawn_file_actions_adddup2(&fa, fd, 2);
    (void)posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* none of our fds, sockets, locks */
    (void)posix_spawnattr_init(&at);
    (void)posix_spawnattr_setsigmask(&at, &mask);
    (void)posix_spawnattr_setsigdefault(&at, &defaults);
    /* own session: a ^C meant for coffre must not reach the server */
    (void)posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawnp(&c->pid, c->postgres, &fa, &at, (char *const *)v->argv, env);
    (void)posix_spawnattr_destroy(&at);
    (void)posix_spawn_file_actions_destroy(&fa);
    (void)close(fd);
    free(env);
    free(v);
    if (rc != 0) {
        c->pid = -1;
        return cf_error_set_errno(err, CF_ERR_PG, rc, "could not start the %s: %s", c->label,
                                  c->postgres);
    }
    return CF_OK;
}

/* The postmaster's status line says it accepts connections, or is in recovery. */
static bool
is_up(const struct cf_cluster *c)
{
    char path[PATH_MAX + 32], text[2048];
    const char *p = text;
    ssize_t n;
    int fd;

    (void)snprintf(path, sizeof(path), "%s/postmaster.pid", c->pgdata);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return false;
    n = read(fd, text, sizeof(text) - 1);
    (void)close(fd);
    text[n > 0 ? n : 0] = '\0';
    if (strtol(text, NULL, 10) != (long)c->pid)
        return false; /* not written by our postmaster yet */
    for (int line = 1; line < 8 && p != NULL; line++)
        if ((p = strchr(p, '\n')) != NULL)
            p++;
    return p != NULL && (strncmp(p, "ready", 5) == 0 || strncmp(p, "standby", 7) == 0);
}

cf_err
cf_cluster_start(struct cf_cluster *c, struct cf_error *err)
{
    double t0 = now_s();
    int status = 0;

    if (c == NULL)
        return cf_error_set(err, CF_ERR_INTERNAL, "no cluster to start");
    if (c->pid > 0)
        return cf_error_set(err, CF_ERR_INTERNAL, "the %s is already running", c->label);
    cf_log_info("starting the %s: socket %s, port %d, log %s", c->label, c->sockdir, c->port,
                c->log);
    if (spawn_server(c, err) != CF_OK)
        return err->code;
    for (;;) {
        if (has_exited(c, &status))
            return server_exited(c, true, status, err);
        if (is_up(c))
            return CF_OK;
        if (cf_cancel_check(err) != CF_OK)
            return err->code;
        if (c->start_timeout_s > 0 && now_s() - t0 >= (double)c->start_timeout_s) {
            cf_error_setf(err, CF_ERR_PG, "the %s did not start within %lld s", c->label,
                          (long long)c->start_timeout_s);
            cf_error_hint(err, "See the server log %s.", c->log);
            return CF_ERR_PG;
        }
        nap_ms(100);
    }
}

/* ---------------------------------------------------------------- connections */

static PGconn *
connect_to(const struct cf_cluster *c, const char *dbname)
{
    const char *keys[] = {"host", "port", "user", "dbname", "fallback_application_name",
                          "connect_timeout", NULL};
    const char *vals[] = {c->sockdir, c->port_text, c->user, dbname ? dbname : "postgres",
                          "coffre", "10", NULL};

    return PQconnectdbParams(keys, vals, 0);
}

static const char *
first_line(const char *msg, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%.*s", (int)strcspn(msg, "\n"), msg);
    return buf;
}

cf_err
cf_cluster_connect(const struct cf_cluster *c, const char *dbname, PGconn **out,
                   struct cf_error *err)
{
    PGconn *conn;
    char line[256];

    if (c == NULL || c->pid <= 0)
        return cf_error_set(err, CF_ERR_PG, "the %s is not running", c ? c->label : "server");
    if ((conn = connect_to(c, dbname)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        cf_error_setf(err, CF_ERR_PG, "could not connect to the %s", c->label);
        cf_error_detail(err, "%s", first_line(PQerrorMessage(conn), line, sizeof(line)));
        cf_error_hint(err, "See the server log %s.", c->log);
        PQfinish(conn);
        return CF_ERR_PG;
    }
    *out = conn;
    return CF_OK;
}

/* ---------------------------------------------------------------- recovery */

/* One statement, so every value comes from the same moment of the server. */
static const char recovery_sql[] =
    "WITH r AS MATERIALIZED (SELECT pg_is_in_recovery() AS rec) "
    "SELECT rec, pg_last_wal_replay_lsn(), "
    "floor(extract(epoch FROM pg_last_xact_replay_timestamp()))::bigint, "
    "to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD HH24:MI:SS.US\"+00\"'), "
    "CASE WHEN rec THEN (SELECT timeline_id FROM pg_control_checkpoint())::bigint "
    "ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint END "
    "FROM r";

struct poller {
    PGconn *conn;
    int refusals;      /* the server answers pings but refuses our connection */
    char why[256];
    struct cf_recovery_state last;
    bool has_answer;
};

/* One look: p->last is the server's answer when it gave one. */
static void
poll_once(const struct cf_cluster *c, struct poller *p)
{
    const char *keys[] = {"host", "port", "user", "dbname", NULL};
    const char *vals[] = {c->sockdir, c->port_text, c->user, "postgres", NULL};
    PGresult *res;

    if (p->conn == NULL) {
        if (PQpingParams(keys, vals, 0) != PQPING_OK)
            return; /* starting, in recovery before consistency, or stopping */
        p->conn = connect_to(c, NULL);
        if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK) {
            first_line(p->conn ? PQerrorMessage(p->conn) : "out of memory", p->why,
                       sizeof(p->why));
            PQfinish(p->conn);
            p->conn = NULL;
            p->refusals++;
            return;
        }
        p->refusals = 0;
    }
    res = PQexec(p->conn, recovery_sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        PQclear(res);       /* e.g. promotion under way: look again */
        PQfinish(p->conn);
        p->conn = NULL;
        return;
    }
    memset(&p->last, 0, sizeof(p->last));
    p->last.in_recovery = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    (void)snprintf(p->last.replay_lsn, sizeof(p->last.replay_lsn), "%s", PQgetvalue(res, 0, 1));
    p->last.last_commit_time = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    (void)snprintf(p->last.last_commit_text, sizeof(p->last.last_commit_text), "%s",
                   PQgetvalue(res, 0, 3));
    p->last.timeline = (unsigned)strtoul(PQgetvalue(res, 0, 4), NULL, 10);
    p->has_answer = true;
    PQclear(res);
}

cf_err
cf_cluster_wait_recovery(struct cf_cluster *c, int64_t timeout_s, struct cf_recovery_state *state,
                         struct cf_error *err)
{
    struct poller p;
    double t0 = now_s();
    int status = 0;
    cf_err rc = CF_OK;

    if (c == NULL || c->pid <= 0)
        return cf_error_set(err, CF_ERR_PG, "the %s is not running", c ? c->label : "server");
    memset(&p, 0, sizeof(p));
    for (;;) {
        if ((rc = cf_cancel_check(err)) != CF_OK)
            break;
        if (has_exited(c, &status)) {
            rc = server_exited(c, false, status, err);
            break;
        }
        poll_once(c, &p);
        if (p.has_answer && !p.last.in_recovery) {
            *state = p.last;
            break;
        }
        if (p.refusals >= CONNECT_REFUSALS) {
            cf_error_setf(err, CF_ERR_PG, "could not connect to the %s", c->label);
            cf_error_detail(err, "%s", p.why);
            cf_error_hint(err, "coffre connects as database user \"%s\" over %s.", c->user,
                          c->sockdir);
            rc = CF_ERR_PG;
            break;
        }
        if (timeout_s > 0 && now_s() - t0 >= (double)timeout_s) {
            cf_error_setf(err, CF_ERR_PG, "recovery did not end within %lld s",
                          (long long)timeout_s);
            if (p.has_answer && p.last.replay_lsn[0] != '\0')
                cf_error_detail(err, "The %s had replayed WAL up to %s.", c->label,
                                p.last.replay_lsn);
            cf_error_hint(err, "See the server log %s.", c->log);
            rc = CF_ERR_PG;
            break;
        }
        nap_ms(500);
    }
    PQfinish(p.conn);
    return rc;
}

/* ---------------------------------------------------------------- stopping */

/* Send sig and wait up to seconds for the postmaster to exit (a signal to
 * coffre ends the wait early when watch_cancel). */
static bool
signal_and_wait(struct cf_cluster *c, int sig, int seconds, bool watch_cancel)
{
    double until = now_s() + seconds;
    int status;

    if (c->pid <= 0)
        return true;
    (void)kill(c->pid, sig);
    while (now_s() < until) {
        if (has_exited(c, &status))
            return true;
        if (watch_cancel && cf_cancel_requested())
            return false;
        nap_ms(50);
    }
    return has_exited(c, &status);
}

void
cf_cluster_stop_now(struct cf_cluster *c)
{
    if (c->pid <= 0 || signal_and_wait(c, SIGQUIT, STOP_IMMEDIATE_S, false))
        return;
    (void)kill(c->pid, SIGKILL);
    while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    c->pid = -1;
}

cf_err
cf_cluster_stop(struct cf_cluster *c, struct cf_error *err)
{
    (void)err; /* stopping cannot fail: it ends with SIGKILL if it must */
    if (c == NULL || c->pid <= 0)
        return CF_OK;
    cf_log_info("stopping the %s", c->label);
    /* SIGINT is PostgreSQL's fast shutdown, SIGQUIT its immediate one */
    if (!cf_cancel_requested() && signal_and_wait(c, SIGINT, STOP_FAST_S, true))
        return CF_OK;
    cf_cluster_stop_now(c);
    return CF_OK;
}

