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

#include <libpq-fe.h>

#include "common/error.h"

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

/* "/usr/lib/postgresql/15/bin/pg_dump" for the server's major version when
 * it exists, else bindir/tool, else tool (PATH).  Writes into buf. */
void cf_pg_tool_path(const char *bindir, int server_version_num, const char *tool, char *buf,
                     size_t size);

#endif
