/*
 * physical_start.c - `restore --physical --start`: start the restored
 * server with pg_ctl and follow recovery until it ends (see physical_int.h).
 *
 * The server runs as the user running coffre (never root).  coffre follows
 * recovery over the socket given by --socket-dir/--port (else what
 * postgres.conninfo says), polling pg_is_in_recovery().  If the postmaster
 * stops instead, its log says why; "recovery ended before configured
 * recovery target was reached" is reported as such.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/cancel.h"
#include "common/log.h"
#include "common/pg.h"
#include "restore/physical_int.h"
#include "stream/child.h"

#define NOT_REACHED "recovery ended before configured recovery target was reached"

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
            (!needle && (strstr(line, "FATAL:") || strstr(line, "PANIC:")))) {
            line[strcspn(line, "\n")] = '\0';
            (void)snprintf(buf, size, "%.*s", (int)(size - 1), line);
            found = true;
        }
    }
    (void)fclose(f);
    return found;
}

static cf_err
server_stopped(const char *log, struct cf_error *err)
{
    char line[400];

    if (log_line(log, NOT_REACHED, line, sizeof(line))) {
        cf_error_setf(err, CF_ERR_PG, "recovery ended before the recovery target was reached");
        cf_error_detail(err, "PostgreSQL: %s", line);
        cf_error_hint(err, "The repository holds no WAL up to the target: check \"coffre verify "
                           "--wal\", or choose an earlier target.  The server is stopped; see %s.",
                      log);
        return CF_ERR_PG;
    }
    cf_error_setf(err, CF_ERR_PG, "the restored server stopped during recovery");
    if (log_line(log, NULL, line, sizeof(line)))
        cf_error_detail(err, "PostgreSQL: %s", line);
    cf_error_hint(err, "See the server log %s.", log);
    return CF_ERR_PG;
}

static bool
postmaster_alive(const char *pgdata)
{
    char path[4096], line[32] = "";
    long pid = 0;
    FILE *f;

    (void)snprintf(path, sizeof(path), "%s/postmaster.pid", pgdata);
    if ((f = fopen(path, "re")) == NULL)
        return false;
    if (fgets(line, sizeof(line), f) != NULL)
        pid = strtol(line, NULL, 10);
    (void)fclose(f);
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static cf_err
run_pg_ctl(const struct cf_config *cfg, const struct cf_phys_opts *o, const char *log,
           struct cf_error *err)
{
    char tool[512], extra[1024] = "", *out = NULL;
    const char *argv[12];
    int a = 0;
    cf_err rc;

    cf_pg_tool_path(cfg->pg.bindir, o->pg_version_num, "pg_ctl", tool, sizeof(tool));
    if (o->port != NULL && strspn(o->port, "0123456789") != strlen(o->port))
        return cf_error_set(err, CF_ERR_USAGE, "invalid --port \"%s\"", o->port);
    if (o->socket_dir != NULL && (o->socket_dir[0] != '/' || strpbrk(o->socket_dir, " '\"\\$`")))
        return cf_error_set(err, CF_ERR_USAGE, "--socket-dir must be an absolute path without "
                            "spaces or quotes");
    (void)snprintf(extra, sizeof(extra), "%s%s%s%s", o->port ? "-p " : "", o->port ? o->port : "",
                   o->socket_dir ? " -k " : "", o->socket_dir ? o->socket_dir : "");
    argv[a++] = tool;
    argv[a++] = "-D";
    argv[a++] = o->pgdata;
    argv[a++] = "-w";
    argv[a++] = "-t";
    argv[a++] = "3600";
    argv[a++] = "-l";
    argv[a++] = log;
    if (extra[0] != '\0') {
        argv[a++] = "-o";
        argv[a++] = extra;
    }
    argv[a++] = "start";
    argv[a] = NULL;
    cf_log_info("starting the restored server: %s -D %s start", tool, o->pgdata);
    rc = cf_child_run(argv, NULL, &out, (size_t)64 * 1024, err);
    free(out);
    return rc;
}

/* One look at the server: *done when recovery is over (result printed). */
static cf_err
poll_once(const struct cf_config *cfg, const struct cf_phys_opts *o, bool *done,
          struct cf_error *err)
{
    const char *keys[] = {"dbname", "fallback_application_name", NULL, NULL, NULL};
    const char *vals[] = {cfg->pg.conninfo, "coffre", NULL, NULL, NULL};
    PGconn *conn;
    PGresult *res = NULL;
    int k = 2;

    if (o->socket_dir != NULL) {
        keys[k] = "host";
        vals[k++] = o->socket_dir;
    }
    if (o->port != NULL) {
        keys[k] = "port";
        vals[k++] = o->port;
    }
    *done = false;
    conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        return CF_OK; /* not up yet (or stopping): the caller watches the postmaster */
    }
    if (cf_pg_exec(conn, "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(), "
                         "pg_last_xact_replay_timestamp(), (SELECT timeline_id FROM "
                         "pg_control_checkpoint())", 0, NULL, &res, err) != CF_OK) {
        PQfinish(conn);
        cf_error_clear(err);
        return CF_OK;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "f") == 0) {
        *done = true;
        cf_log_info("recovery finished");
        (void)printf("recovery finished: replayed up to LSN %s, last transaction committed at "
                     "%s\n", PQgetisnull(res, 0, 1) ? "-" : PQgetvalue(res, 0, 1),
                     PQgetisnull(res, 0, 2) ? "-" : PQgetvalue(res, 0, 2));
        (void)fflush(stdout);
    }
    PQclear(res);
    PQfinish(conn);
    return CF_OK;
}

cf_err
cf_phys_start(const struct cf_config *cfg, const struct cf_phys_opts *o, struct cf_error *err)
{
    char log[4200];
    bool done = false;

    (void)snprintf(log, sizeof(log), "%s/coffre-start.log", o->pgdata);
    if (run_pg_ctl(cfg, o, log, err) != CF_OK) {
        if (!postmaster_alive(o->pgdata)) {
            cf_error_clear(err);
            return server_stopped(log, err);
        }
        return err->code;
    }
    for (;;) {
        if (poll_once(cfg, o, &done, err) != CF_OK || done)
            return err->code;
        if (!postmaster_alive(o->pgdata))
            return server_stopped(log, err);
        if (cf_cancel_check(err) != CF_OK) {
            cf_error_hint(err, "The restored server keeps running; stop it with pg_ctl -D %s "
                               "stop.", o->pgdata);
            return err->code;
        }
        (void)usleep(500 * 1000);
    }
}
