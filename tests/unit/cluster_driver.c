/*
 * cluster_driver.c - drives restore/cluster.c for tests/integration/test_83_cluster.sh.
 * Built into build/tests/cluster_driver; not a test_* binary, so tests/run.sh
 * does not run it as a unit test.
 *
 *   cluster_driver [--pgdata DIR] [--socket-dir D] [--port N] [--bindir D] [--user U]
 *                  [--keep] [--wait] [--timeout S] [--start-timeout S]
 *                  [--sql SQL]... [--no-stop] WORKDIR
 *
 * new -> start -> (--wait: wait_recovery) -> each --sql (first cell printed)
 * -> stop (unless --no-stop) -> free.  Prints "conninfo: ...", "started",
 * "recovery: ...", "sql: ...", "stopped" on stdout as it goes; an error as
 * coffre prints it, and exits with coffre's exit status for it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/cancel.h"
#include "common/error.h"
#include "common/log.h"
#include "restore/cluster.h"

#define MAX_SQL 8

struct args {
    struct cf_cluster_opts o;
    bool wait, no_stop;
    long timeout;
    const char *sql[MAX_SQL];
    int n_sql;
};

static int
parse(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"pgdata", required_argument, NULL, 'D'}, {"socket-dir", required_argument, NULL, 'k'},
        {"port", required_argument, NULL, 'p'},   {"bindir", required_argument, NULL, 'b'},
        {"user", required_argument, NULL, 'U'},   {"keep", no_argument, NULL, 'K'},
        {"wait", no_argument, NULL, 'w'},         {"timeout", required_argument, NULL, 't'},
        {"start-timeout", required_argument, NULL, 'T'},
        {"sql", required_argument, NULL, 'c'},    {"no-stop", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    int ch;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'D': a->o.pgdata = optarg; break;
        case 'k': a->o.socket_dir = optarg; break;
        case 'p': a->o.port = (int)strtol(optarg, NULL, 10); break;
        case 'b': a->o.bindir = optarg; break;
        case 'U': a->o.user = optarg; break;
        case 'K': a->o.keep = true; break;
        case 'w': a->wait = true; break;
        case 't': a->timeout = strtol(optarg, NULL, 10); break;
        case 'T': a->o.start_timeout_s = strtol(optarg, NULL, 10); break;
        case 'c':
            if (a->n_sql == MAX_SQL)
                return -1;
            a->sql[a->n_sql++] = optarg;
            break;
        case 'n': a->no_stop = true; break;
        default: return -1;
        }
    }
    if (optind != argc - 1)
        return -1;
    a->o.workdir = argv[optind];
    return 0;
}

static cf_err
run_sql(struct cf_cluster *c, const char *sql, struct cf_error *err)
{
    PGconn *conn = NULL;
    PGresult *res;

    if (cf_cluster_connect(c, NULL, &conn, err) != CF_OK)
        return err->code;
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        cf_error_setf(err, CF_ERR_PG, "query failed: %s", PQresultErrorMessage(res));
    } else {
        (void)printf("sql: %s\n", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
        (void)fflush(stdout);
    }
    PQclear(res);
    PQfinish(conn);
    return err->code;
}

static cf_err
drive(struct args *a, struct cf_error *err)
{
    struct cf_cluster *c = NULL;
    struct cf_recovery_state st;

    if (cf_cluster_new(&a->o, &c, err) != CF_OK)
        return err->code;
    (void)printf("conninfo: %s\n", cf_cluster_conninfo(c));
    (void)fflush(stdout);
    if (cf_cluster_start(c, err) != CF_OK)
        goto out;
    (void)printf("started\n");
    (void)fflush(stdout);
    if (a->wait) {
        if (cf_cluster_wait_recovery(c, a->timeout, &st, err) != CF_OK)
            goto out;
        (void)printf("recovery: in_recovery=%d lsn=%s commit=%lld (%s) timeline=%u\n",
                     st.in_recovery, st.replay_lsn, (long long)st.last_commit_time,
                     st.last_commit_text, st.timeline);
        (void)fflush(stdout);
    }
    for (int i = 0; i < a->n_sql; i++)
        if (run_sql(c, a->sql[i], err) != CF_OK)
            goto out;
    if (!a->no_stop && cf_cluster_stop(c, err) == CF_OK) {
        (void)printf("stopped\n");
        (void)fflush(stdout);
    }
out:
    cf_cluster_free(c);
    return err->code;
}

int
main(int argc, char **argv)
{
    struct cf_error err = CF_ERROR_INIT;
    struct args a;

    memset(&a, 0, sizeof(a));
    if (parse(argc, argv, &a) != 0) {
        (void)fprintf(stderr, "usage: cluster_driver [--pgdata DIR] [--socket-dir D] [--port N] "
                              "[--bindir D] [--user U] [--keep] [--wait] [--timeout S] "
                              "[--start-timeout S] [--sql SQL]... [--no-stop] WORKDIR\n");
        return 2;
    }
    cf_cancel_install();
    if (drive(&a, &err) != CF_OK) {
        cf_log_cf_error(&err);
        return cf_error_exit_status(err.code);
    }
    return 0;
}
