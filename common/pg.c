/*
 * pg.c - libpq helpers (see pg.h).
 */
#include "common/pg.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* First line of a libpq message, without the trailing newline. */
static void
first_line(const char *msg, char *buf, size_t size)
{
    size_t n = strcspn(msg, "\n");

    if (n >= size)
        n = size - 1;
    memcpy(buf, msg, n);
    buf[n] = '\0';
}

cf_err
cf_pg_check_conninfo(const char *conninfo, const char *what, struct cf_error *err)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    int has_password = 0;

    if (opts == NULL) {
        cf_error_setf(err, CF_ERR_USAGE, "invalid connection string in %s", what);
        if (perr != NULL) {
            char line[256];

            first_line(perr, line, sizeof(line));
            cf_error_detail(err, "%s.", line);
        }
        PQfreemem(perr);
        return CF_ERR_USAGE;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if ((strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0) &&
            o->val != NULL)
            has_password = 1; /* either would reach the argv of pg_dump or pg_restore */
    PQconninfoFree(opts);
    if (has_password) {
        cf_error_setf(err, CF_ERR_USAGE, "%s must not contain a password", what);
        cf_error_hint(err, "Put the password in ~/.pgpass or in the file named by PGPASSFILE.");
        return CF_ERR_USAGE;
    }
    return CF_OK;
}

/*
 * The hint for an authentication failure, from libpq's message: what a new
 * operator meets first on Debian (issue 14) is peer authentication refusing
 * root, and a ~/.pgpass line whose host does not match the conninfo's socket
 * directory.  False when the message is not one of these.
 */
static bool
auth_hint(const char *msg, PGconn *conn, bool replication, struct cf_error *err)
{
    const struct passwd *pw = getpwuid(geteuid());
    const char *os = pw != NULL ? pw->pw_name : "?";
    const char *role = PQuser(conn) ? PQuser(conn) : "?";
    const char *host = PQhost(conn) ? PQhost(conn) : "localhost";
    const char *port = PQport(conn) ? PQport(conn) : "5432";

    if (strstr(msg, "Peer authentication failed") != NULL) {
        cf_error_hint(err,
                      "pg_hba.conf has \"peer\" for this connection: the OS user (%s) must be "
                      "the role (%s). Run coffre as that OS user (runuser -u %s -- coffre ...), "
                      "map it in pg_ident.conf, or use a pg_hba.conf line with a password "
                      "method and a ~/.pgpass line for %s:%s:*:%s:PASSWORD.",
                      os, role, role, host, port, role);
        return true;
    }
    if (strstr(msg, "no pg_hba.conf entry") != NULL) {
        cf_error_hint(err,
                      "Add a line for role %s to pg_hba.conf (on Debian "
                      "/etc/postgresql/<version>/<cluster>/pg_hba.conf)%s, then reload the "
                      "server (SELECT pg_reload_conf()).",
                      role, replication ? " with \"replication\" as its database" : "");
        return true;
    }
    if (strstr(msg, "password authentication failed") != NULL ||
        strstr(msg, "no password supplied") != NULL) {
        cf_error_hint(err,
                      "coffre reads passwords from ~/.pgpass of the OS user it runs as (%s; or "
                      "the file PGPASSFILE names), mode 0600. Its host field must be the "
                      "conninfo's host as written, a socket directory included: %s:%s:*:%s:"
                      "PASSWORD.",
                      os, host, port, role);
        return true;
    }
    if (strstr(msg, "does not exist") != NULL && strstr(msg, "role") != NULL) {
        cf_error_hint(err,
                      "Create the role (CREATE ROLE %s LOGIN), with the rights coffre's "
                      "commands need (docs/configuration.md, [postgres]); or fix the user= "
                      "of the conninfo.",
                      role);
        return true;
    }
    return false;
}

/* What a failed connection says: message, detail (libpq's first line), hint. */
static cf_err
connect_error(const struct cf_pg_target *t, PGconn *conn, struct cf_error *err)
{
    char line[256];

    first_line(PQerrorMessage(conn), line, sizeof(line));
    if (t->replication) {
        cf_error_setf(err, CF_ERR_PG, "could not open a replication connection");
        if (!auth_hint(PQerrorMessage(conn), conn, true, err))
            cf_error_hint(err, "Check postgres.conninfo, that the role has the REPLICATION "
                               "attribute, and that pg_hba.conf has a \"replication\" line "
                               "for it.");
    } else {
        cf_error_setf(err, CF_ERR_PG, "could not connect to database \"%s\"",
                      t->dbname ? t->dbname : (PQdb(conn) ? PQdb(conn) : "?"));
        if (!auth_hint(PQerrorMessage(conn), conn, false, err))
            cf_error_hint(err,
                          "Check postgres.conninfo (or --target) and that the server is running.");
    }
    cf_error_detail(err, "%s", line);
    return CF_ERR_PG;
}

cf_err
cf_pg_connect_to(const struct cf_pg_target *t, PGconn **out, struct cf_error *err)
{
    /* PQconnectdbParams: a later keyword wins over an earlier one, and the
     * conninfo expands where "dbname" stands.  So connect_timeout before it
     * (conninfo's own wins), the explicit settings after it. */
    const char *keys[9], *vals[9];
    char timeout[16];
    int k = 0;
    PGconn *conn;

    if (t->replication && cf_pg_check_conninfo(t->conninfo, "postgres.conninfo", err) != CF_OK)
        return err->code;
    if (t->connect_timeout > 0 && getenv("PGCONNECT_TIMEOUT") == NULL) {
        (void)snprintf(timeout, sizeof(timeout), "%d", t->connect_timeout);
        keys[k] = "connect_timeout";
        vals[k++] = timeout;
    }
    keys[k] = "dbname";
    vals[k++] = t->conninfo;
    keys[k] = t->application_name != NULL ? "application_name" : "fallback_application_name";
    vals[k++] = t->application_name != NULL ? t->application_name : "coffre";
    if (t->dbname != NULL) {
        keys[k] = "dbname";
        vals[k++] = t->dbname;
    }
    if (t->host != NULL) {
        keys[k] = "host";
        vals[k++] = t->host;
    }
    if (t->port != NULL) {
        keys[k] = "port";
        vals[k++] = t->port;
    }
    if (t->replication) {
        keys[k] = "replication";
        vals[k++] = "true";
    }
    keys[k] = vals[k] = NULL;
    if ((conn = PQconnectdbParams(keys, vals, 1)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        (void)connect_error(t, conn, err);
        PQfinish(conn);
        return CF_ERR_PG;
    }
    *out = conn;
    return CF_OK;
}

cf_err
cf_pg_connect_replication(const char *conninfo, const char *application_name, PGconn **out,
                          struct cf_error *err)
{
    struct cf_pg_target t = {.conninfo = conninfo, .application_name = application_name,
                             .connect_timeout = 10, .replication = true};

    return cf_pg_connect_to(&t, out, err);
}

cf_err
cf_pg_connect(const char *conninfo, const char *dbname, PGconn **out, struct cf_error *err)
{
    struct cf_pg_target t = {.conninfo = conninfo, .dbname = dbname};

    return cf_pg_connect_to(&t, out, err);
}

/* Append key='value' with libpq quoting to buf (a growing string). */
static int
append_kv(char **buf, size_t *len, const char *key, const char *val)
{
    size_t need = strlen(key) + 2 * strlen(val) + 5;
    char *nb = realloc(*buf, *len + need + 1);
    char *p;

    if (nb == NULL)
        return -1;
    *buf = nb;
    p = nb + *len;
    if (*len > 0)
        *p++ = ' ';
    p += sprintf(p, "%s='", key);  /* NOLINT: bounded by need */
    for (const char *v = val; *v; v++) {
        if (*v == '\'' || *v == '\\')
            *p++ = '\\';
        *p++ = *v;
    }
    *p++ = '\'';
    *p = '\0';
    *len = (size_t)(p - nb);
    return 0;
}

cf_err
cf_pg_conninfo_with_db(const char *conninfo, const char *dbname, char **out, struct cf_error *err)
{
    PQconninfoOption *opts;
    char *buf = NULL;
    size_t len = 0;
    int failed = 0;

    if (cf_pg_check_conninfo(conninfo, "the connection string", err) != CF_OK)
        return err->code;
    opts = PQconninfoParse(conninfo, NULL);
    if (opts == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    for (PQconninfoOption *o = opts; o->keyword != NULL && !failed; o++) {
        const char *v = o->val;

        if (strcmp(o->keyword, "dbname") == 0 && dbname != NULL)
            v = dbname;
        if (v != NULL && append_kv(&buf, &len, o->keyword, v) != 0)
            failed = 1;
    }
    if (!failed && dbname != NULL && strstr(conninfo, "dbname") == NULL && buf == NULL)
        failed = append_kv(&buf, &len, "dbname", dbname);
    PQconninfoFree(opts);
    if (failed || buf == NULL) {
        free(buf);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    *out = buf;
    return CF_OK;
}

char *
cf_pg_conninfo_dbname(const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    char *db = NULL;

    if (opts == NULL)
        return NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val != NULL && db == NULL)
            db = strdup(o->val);
    PQconninfoFree(opts);
    return db;
}

cf_err
cf_pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, PGresult **out,
           struct cf_error *err)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char line[256];

        first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), line, sizeof(line));
        PQclear(res);
        cf_error_setf(err, CF_ERR_PG, "query failed on database \"%s\": %s", PQdb(conn), line);
        return CF_ERR_PG;
    }
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    return CF_OK;
}

void
cf_pg_error_detail(PGconn *conn, const PGresult *res, struct cf_error *err)
{
    const char *m = res != NULL ? PQresultErrorMessage(res) : NULL;
    char line[256];

    if (m == NULL || m[0] == '\0')
        m = PQerrorMessage(conn);
    first_line(m, line, sizeof(line));
    cf_error_detail(err, "%s", line);
}

cf_err
cf_pg_replication_command(PGconn *conn, const char *cmd, ExecStatusType want, PGresult **out,
                          struct cf_error *err)
{
    PGresult *res = PQexec(conn, cmd); /* a walsender takes the simple query protocol only */

    if (PQresultStatus(res) != want) {
        cf_error_setf(err, CF_ERR_PG, "replication command %.*s failed", (int)strcspn(cmd, " "),
                      cmd);
        cf_pg_error_detail(conn, res, err);
        PQclear(res);
        return CF_ERR_PG;
    }
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    return CF_OK;
}

cf_err
cf_pg_command(PGconn *conn, const char *sql, struct cf_error *err)
{
    return cf_pg_exec(conn, sql, 0, NULL, NULL, err);
}

void
cf_pg_tool_path(const char *bindir, int server_version_num, const char *tool, char *buf,
                size_t size)
{
    if (bindir != NULL) {
        (void)snprintf(buf, size, "%s/%s", bindir, tool);
        return;
    }
    (void)snprintf(buf, size, "/usr/lib/postgresql/%d/bin/%s", server_version_num / 10000, tool);
    if (access(buf, X_OK) == 0)
        return;
    (void)snprintf(buf, size, "%s", tool);
}
