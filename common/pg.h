/*
 * pg.h - libpq helpers shared by backup and restore.
 *
 * Connection strings are libpq conninfo; passwords come from .pgpass or
 * PGPASSFILE, never from the configuration or the command line, so no
 * conninfo coffre handles (or passes to pg_dump/pg_restore in argv)
 * carries a secret.  Messages name the server by its redacted conninfo.
 */
#ifndef CF_PG_H
#define CF_PG_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "common/error.h"

/*
 * One connection, every setting explicit.  conninfo is the base; the other
 * members, when set, replace what it says, except connect_timeout, which
 * applies only if neither conninfo nor PGCONNECT_TIMEOUT sets one (0: libpq's
 * default, no limit).  application_name NULL: conninfo's, else "coffre".
 * A replication connection refuses a conninfo holding a password.
 * CF_ERR_PG names the database (or says "replication connection"), with
 * libpq's reason as detail and a hint.
 */
struct cf_pg_target {
    const char *conninfo;
    const char *dbname;
    const char *host, *port;        /* e.g. a restored server on its own socket */
    const char *application_name;
    int connect_timeout;            /* seconds */
    bool replication;               /* replication=true: a walsender */
};
cf_err cf_pg_connect_to(const struct cf_pg_target *t, PGconn **out, struct cf_error *err);

/* Connect with conninfo, replacing its dbname when dbname != NULL. */
cf_err cf_pg_connect(const char *conninfo, const char *dbname, PGconn **out,
                     struct cf_error *err);
/*
 * A physical replication connection (replication=true) with conninfo, as
 * application_name (NULL: conninfo's, else "coffre").  Unless conninfo or PGCONNECT_TIMEOUT
 * says otherwise, connecting gives up after 10 s: a silent network would
 * otherwise block for minutes.  Refuses a conninfo holding a password.
 */
cf_err cf_pg_connect_replication(const char *conninfo, const char *application_name,
                                 PGconn **out, struct cf_error *err);
/* conninfo with dbname replaced, as a conninfo string for a child's -d
 * (malloc'd).  CF_ERR_CONFIG if conninfo holds a password. */
cf_err cf_pg_conninfo_with_db(const char *conninfo, const char *dbname, char **out,
                              struct cf_error *err);
/* The dbname a conninfo names (malloc'd; NULL if none). */
char *cf_pg_conninfo_dbname(const char *conninfo);
/* CF_ERR_USAGE if conninfo is unparsable or carries a password; what names it. */
cf_err cf_pg_check_conninfo(const char *conninfo, const char *what, struct cf_error *err);

/* Run sql (no parameters, or nparams text params); CF_ERR_PG on failure. */
cf_err cf_pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                  PGresult **out, struct cf_error *err);
/* Same, discarding the result. */
cf_err cf_pg_command(PGconn *conn, const char *sql, struct cf_error *err);
/*
 * A replication command (IDENTIFY_SYSTEM, READ_REPLICATION_SLOT, ...) on a
 * replication connection, through the simple query protocol (the only one a
 * walsender takes), expecting status want (PGRES_TUPLES_OK, PGRES_COMMAND_OK,
 * PGRES_COPY_BOTH).  CF_ERR_PG "replication command VERB failed", the
 * server's reason as detail.  *out (NULL: discarded) on success.
 */
cf_err cf_pg_replication_command(PGconn *conn, const char *cmd, ExecStatusType want,
                                 PGresult **out, struct cf_error *err);
/* The first line of the server's (res's, else conn's) last message as DETAIL. */
void cf_pg_error_detail(PGconn *conn, const PGresult *res, struct cf_error *err);

/* "/usr/lib/postgresql/15/bin/pg_dump" for the server's major version when
 * it exists, else bindir/tool, else tool (PATH).  Writes into buf. */
void cf_pg_tool_path(const char *bindir, int server_version_num, const char *tool, char *buf,
                     size_t size);

#endif
