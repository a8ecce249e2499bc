/*
 * cluster.h - a PostgreSQL server that coffre starts, follows and stops
 * itself: an initdb'd scratch cluster (drills, migrations) or a restored
 * PGDATA (restore --physical --start).
 *
 * It is reachable only through a unix socket that only the user running
 * coffre can use: listen_addresses = '', the socket in a 0700 directory
 * (socket file 0700 too), an hba_file that trusts local connections and an
 * empty ident_file, both written in the work directory.  Everything that
 * must win over the PGDATA's own postgresql.conf or postgresql.auto.conf
 * (port, sockets, hba_file, ident_file, logging to our log file, messages in
 * English so the log can be read) is passed on the postgres command line,
 * which beats configuration files.  A PGDATA without postgresql.conf (a
 * Debian cluster keeps it in /etc/postgresql) gets a minimal one from the
 * work directory (config_file); the source's /etc file is never used, since
 * its data_directory names the live cluster.
 *
 * The postmaster is a child of this process (its own session, so a ^C on
 * the terminal does not reach it), which is how coffre knows at once when
 * it dies and can always stop what it started, even when a signal cut
 * the start short.
 *
 * Work directory: created 0700 (or an existing empty one, made 0700):
 *   socket/          the unix socket (unless opts.socket_dir)
 *   postgres.log     the server's stdout and stderr
 *   pg_hba.conf, pg_ident.conf, postgresql.conf (only for a PGDATA without one)
 *   data/            the cluster initdb made (opts.pgdata NULL)
 *
 * Errors come back as values; codes: CF_ERR_USAGE (bad options, running as
 * root), CF_ERR_EXISTS (work directory not empty), CF_ERR_IO, CF_ERR_NOMEM,
 * CF_ERR_CHILD (initdb failed), CF_ERR_PG (the server did not start, stopped
 * during recovery, did not finish recovery in time, refused a connection),
 * CF_ERR_CANCELLED (SIGINT/SIGTERM/SIGHUP through common/cancel).
 */
#ifndef CF_CLUSTER_H
#define CF_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/error.h"

/* A unix socket path holds at most 107 bytes: "<dir>/.s.PGSQL.NNNNN". */
#define CF_CLUSTER_SOCKET_DIR_MAX 92

struct cf_cluster_opts {
    const char *bindir;      /* postgres.bindir or NULL: cf_pg_tool_path picks the tools */
    int pg_version_num;      /* picks the tools; 0: from PGDATA/PG_VERSION when adopting */
    const char *workdir;     /* absolute; must not exist (its parent must) or be empty */
    const char *pgdata;      /* NULL: initdb into <workdir>/data; else an existing PGDATA
                                (absolute), adopted: never removed */
    const char *socket_dir;  /* NULL: <workdir>/socket; else an existing directory, absolute,
                                at most CF_CLUSTER_SOCKET_DIR_MAX bytes, no ',' '"' '\' or
                                white space (unix_socket_directories is a list) */
    int port;                /* 0: one with no socket in the socket directory */
    const char *user;        /* the database user to connect as; NULL: the OS user running
                                coffre (initdb makes it the superuser) */
    const char *label;       /* names the server in messages; NULL: "scratch server" */
    int64_t start_timeout_s; /* cf_cluster_start gives up after this; 0: no limit */
    bool keep;               /* cf_cluster_free leaves the server running and every file in
                                place (restore --start: the operator takes it over) */
};

struct cf_cluster;

/*
 * Prepare the work directory and, when opts->pgdata is NULL, initdb a
 * cluster into it (UTF8, C locale, trust, no fsync: scratch only; the OS
 * user as superuser).  Nothing is started.  Strings of opts are copied.
 * Refuses to run as root (CF_ERR_USAGE).  On failure nothing is left behind
 * (keep or not) and *out is untouched.
 */
cf_err cf_cluster_new(const struct cf_cluster_opts *opts, struct cf_cluster **out,
                      struct cf_error *err);

/*
 * Start the postmaster and wait until it accepts connections or reports
 * that it is in recovery (what pg_ctl start -w waits for).  If it exits
 * instead: CF_ERR_PG "could not start the scratch server" with the last
 * FATAL/PANIC line of its log as detail (or "recovery ended before the
 * recovery target was reached"), the log named in the hint.  On
 * cancellation or timeout the server may be running: cf_cluster_free stops
 * it (unless keep).
 */
cf_err cf_cluster_start(struct cf_cluster *c, struct cf_error *err);

struct cf_recovery_state {
    bool in_recovery;            /* false: recovery has ended (or there was none) */
    char replay_lsn[32];         /* pg_last_wal_replay_lsn(); "" when none was replayed */
    int64_t last_commit_time;    /* pg_last_xact_replay_timestamp(), epoch s; 0: unknown */
    char last_commit_text[64];   /* the same in UTC, "2026-11-22 04:50:00.123456+00"; "" */
    unsigned timeline;           /* current timeline (in recovery: of the last restartpoint) */
};

/*
 * Poll the server (pg_is_in_recovery(), pg_last_wal_replay_lsn(),
 * pg_last_xact_replay_timestamp(), the timeline) until recovery has ended,
 * and fill *state from its last answer.  timeout_s 0: no limit.  If the
 * postmaster exits: CF_ERR_PG "recovery ended before the recovery target
 * was reached" when PostgreSQL says so, else "the scratch server stopped
 * during recovery", quoting its log.  A timeout is CF_ERR_PG too.  Honours
 * cf_cancel_check(); the server is left running on every failure but its
 * death (cf_cluster_free stops it unless keep).
 */
cf_err cf_cluster_wait_recovery(struct cf_cluster *c, int64_t timeout_s,
                                struct cf_recovery_state *state, struct cf_error *err);

/* A connection to dbname (NULL: postgres) as opts.user; *out is the caller's (PQfinish). */
cf_err cf_cluster_connect(const struct cf_cluster *c, const char *dbname, PGconn **out,
                          struct cf_error *err);

/* "host=<socket dir> port=N dbname=postgres user=U" (borrowed, valid until free). */
const char *cf_cluster_conninfo(const struct cf_cluster *c);
/* Borrowed, valid until free. */
const char *cf_cluster_socket_dir(const struct cf_cluster *c);
const char *cf_cluster_pgdata(const struct cf_cluster *c);
const char *cf_cluster_log(const struct cf_cluster *c);
const char *cf_cluster_workdir(const struct cf_cluster *c);
int cf_cluster_port(const struct cf_cluster *c);
bool cf_cluster_is_running(const struct cf_cluster *c);

/*
 * Stop the server: fast shutdown, then immediate after 60 s (or at once
 * when a signal arrived); it never leaves the server running.  CF_OK when
 * it was not running.
 */
cf_err cf_cluster_stop(struct cf_cluster *c, struct cf_error *err);

/* NULL-safe.  Unless keep: stop (immediate) if running, then remove the work
 * directory (its contents only if it existed before), which holds data/ when
 * initdb made it; an adopted PGDATA is never removed. */
void cf_cluster_free(struct cf_cluster *c);

#endif
