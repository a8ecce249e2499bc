/*
 * physical_start.c - `restore --physical --start`: start the restored
 * server and follow recovery until it ends (see physical_int.h).
 *
 * The server runs through restore/cluster.c, as the user running coffre
 * (never root), listening only on a unix socket: --socket-dir/--port when
 * given, else a socket directory in its work directory "<DIR>.coffre" and a
 * free port.  So coffre only ever probes the restored server, never the one
 * postgres.conninfo names (on the production host, that is production).
 * The cluster is kept: after recovery the server goes on running for the
 * operator, with its log and settings files in the work directory.  If the
 * postmaster stops instead, its log says why; "recovery ended before
 * configured recovery target was reached" is reported as such.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/fsutil.h"
#include "common/inject.h"
#include "common/log.h"
#include "restore/cluster.h"
#include "restore/physical_int.h"

/* "<DIR>.coffre", DIR made absolute and without trailing slashes. */
static cf_err
start_workdir(const char *pgdata, char *buf, size_t size, struct cf_error *err)
{
    char cwd[PATH_MAX] = "";
    size_t len = strlen(pgdata);
    int n;

    while (len > 1 && pgdata[len - 1] == '/')
        len--;
    if (pgdata[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not get the current directory");
    n = snprintf(buf, size, "%s%s%.*s.coffre", cwd, cwd[0] ? "/" : "", (int)len, pgdata);
    if (n < 0 || (size_t)n >= size)
        return cf_error_set(err, CF_ERR_USAGE, "--pgdata is too long");
    return CF_OK;
}

cf_err
cf_phys_start_check(const struct cf_phys_opts *o, struct cf_error *err)
{
    char workdir[PATH_MAX];

    if (start_workdir(o->pgdata, workdir, sizeof(workdir), err) != CF_OK)
        return err->code;
    if (cf_dir_state(workdir) < 0 && errno == ENOTEMPTY) {
        cf_error_setf(err, CF_ERR_EXISTS, "directory \"%s\" exists and is not empty", workdir);
        cf_error_detail(err, "--start keeps the restored server's log and settings there.");
        cf_error_hint(err, "It is left by an earlier \"restore --physical --start\" into the same "
                           "directory: remove it once that server is stopped.");
        return CF_ERR_EXISTS;
    }
    if (o->socket_dir == NULL && strlen(workdir) + strlen("/socket") > CF_CLUSTER_SOCKET_DIR_MAX) {
        cf_error_setf(err, CF_ERR_USAGE, "socket directory \"%s/socket\" would be too long",
                      workdir);
        cf_error_hint(err, "Give a shorter --socket-dir (at most %d bytes).",
                      CF_CLUSTER_SOCKET_DIR_MAX);
        return CF_ERR_USAGE;
    }
    return CF_OK;
}

/* The role postgres.conninfo names (malloc'd), NULL for libpq's default. */
static char *
conninfo_user(const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    char *user = NULL;

    for (PQconninfoOption *p = opts; p != NULL && p->keyword != NULL; p++) {
        if (strcmp(p->keyword, "user") == 0) {
            if (p->val != NULL && p->val[0] != '\0')
                user = strdup(p->val);
            break;
        }
    }
    PQconninfoFree(opts);
    return user;
}

static cf_err
check_options(const struct cf_phys_opts *o, int *port, struct cf_error *err)
{
    long p = 0;

    if (o->port != NULL) {
        char *end = NULL;

        p = strtol(o->port, &end, 10);
        if (o->port[0] == '\0' || *end != '\0' || p < 1 || p > 65535)
            return cf_error_set(err, CF_ERR_USAGE, "invalid --port \"%s\"", o->port);
    }
    if (o->socket_dir != NULL && (o->socket_dir[0] != '/' || strpbrk(o->socket_dir, " '\"\\$`,")))
        return cf_error_set(err, CF_ERR_USAGE, "--socket-dir must be an absolute path without "
                            "spaces, commas or quotes");
    *port = (int)p;
    return CF_OK;
}

static void
fill_result(const struct cf_cluster *c, struct cf_phys_start_result *res)
{
    (void)snprintf(res->conninfo, sizeof(res->conninfo), "%s", cf_cluster_conninfo(c));
    (void)snprintf(res->socket_dir, sizeof(res->socket_dir), "%s", cf_cluster_socket_dir(c));
    (void)snprintf(res->workdir, sizeof(res->workdir), "%s", cf_cluster_workdir(c));
    (void)snprintf(res->log, sizeof(res->log), "%s", cf_cluster_log(c));
    res->port = cf_cluster_port(c);
}

cf_err
cf_phys_start(const struct cf_phys_opts *o, struct cf_phys_start_result *res,
              struct cf_error *err)
{
    struct cf_cluster_opts co;
    struct cf_cluster *c = NULL;
    struct cf_recovery_state st;
    char workdir[PATH_MAX], *user = NULL;
    int port = 0;

    if (check_options(o, &port, err) != CF_OK ||
        start_workdir(o->pgdata, workdir, sizeof(workdir), err) != CF_OK)
        return err->code;
    user = conninfo_user(o->conninfo);
    memset(&co, 0, sizeof(co));
    co.bindir = o->bindir;
    co.pg_version_num = o->pg_version_num;
    co.workdir = workdir;
    co.pgdata = o->pgdata;
    co.socket_dir = o->socket_dir;
    co.port = port;
    co.user = user;       /* the backup role: it exists in the restored cluster */
    co.label = "restored server";
    co.keep = true;       /* --start: the operator takes the server over */
    if (cf_cluster_new(&co, &c, err) == CF_OK && cf_cluster_start(c, err) == CF_OK) {
        CF_INJECT("restore-server-started"); /* the restored server running, in recovery */
        if (cf_cluster_wait_recovery(c, 0, &st, err) == CF_OK) {
            cf_log_info("recovery finished");
            res->recovery = st;
            fill_result(c, res);
        }
    }
    if (err->code != CF_OK && cf_cluster_is_running(c))
        cf_error_hint(err, "The restored server keeps running; stop it with pg_ctl -D %s stop.",
                      o->pgdata);
    cf_cluster_free(c);
    free(user);
    return err->code;
}
