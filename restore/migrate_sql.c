/*
 * migrate_sql.c - the migration's sessions and SQL helpers: one formatter
 * that quotes identifiers and literals through libpq, never by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"
#include "restore/migrate_int.h"

cf_err
cf_mig_connect(const char *conninfo, const char *dbname, PGconn **out, struct cf_error *err)
{
    static const char *setup =
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
        "SET extra_float_digits = 3; SET bytea_output = 'hex'; "
        "SET search_path = pg_catalog; SET statement_timeout = 0; "
        "SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0; "
        "SET default_transaction_read_only = off";

    if (cf_pg_connect(conninfo, dbname, out, err) != CF_OK)
        return err->code;
    if (cf_mig_execf(*out, NULL, err, setup) != CF_OK) {
        PQfinish(*out);
        *out = NULL;
        return err->code;
    }
    return CF_OK;
}

/* fmt with %I, %L and %s expanded from ap (all const char *); NULL on a libpq failure. */
static char *
expand(PGconn *conn, const char *fmt, va_list ap)
{
    size_t cap = strlen(fmt) + 256, len = 0;
    char *out = malloc(cap);

    if (out == NULL)
        return NULL;
    for (const char *p = fmt; *p != '\0'; p++) {
        const char *piece = p;
        char *quoted = NULL;
        size_t n = 1;

        if (p[0] == '%' && (p[1] == 'I' || p[1] == 'L' || p[1] == 's')) {
            const char *arg = va_arg(ap, const char *);

            if (p[1] == 's') {
                piece = arg;
            } else {
                quoted = p[1] == 'I' ? PQescapeIdentifier(conn, arg, strlen(arg))
                                     : PQescapeLiteral(conn, arg, strlen(arg));
                if (quoted == NULL) {
                    free(out);
                    return NULL;
                }
                piece = quoted;
            }
            n = strlen(piece);
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            p++;
        }
        if (len + n + 1 > cap) {
            char *bigger;

            cap = (len + n + 1) * 2;
            bigger = realloc(out, cap);
            if (bigger == NULL) {
                free(out);
                PQfreemem(quoted);
                return NULL;
            }
            out = bigger;
        }
        memcpy(out + len, piece, n);
        len += n;
        PQfreemem(quoted);
    }
    out[len] = '\0';
    return out;
}

static cf_err
vexec(PGconn *conn, PGresult **out, struct cf_error *err, const char *fmt, va_list ap)
{
    char *sql = expand(conn, fmt, ap);
    cf_err rc;

    if (sql == NULL) {
        cf_error_setf(err, CF_ERR_PG, "could not quote a name for the server");
        cf_pg_error_detail(conn, NULL, err);
        return CF_ERR_PG;
    }
    /* the simple query protocol: several statements may form one transaction */
    *out = PQexec(conn, sql);
    free(sql);
    rc = CF_OK;
    if (*out == NULL ||
        (PQresultStatus(*out) != PGRES_COMMAND_OK && PQresultStatus(*out) != PGRES_TUPLES_OK)) {
        cf_error_setf(err, CF_ERR_PG, "query failed on database \"%s\"", PQdb(conn));
        cf_pg_error_detail(conn, *out, err);
        PQclear(*out);
        *out = NULL;
        rc = CF_ERR_PG;
    }
    return rc;
}

cf_err
cf_mig_execf(PGconn *conn, PGresult **out, struct cf_error *err, const char *fmt, ...)
{
    va_list ap;
    PGresult *res = NULL;
    cf_err rc;

    va_start(ap, fmt);
    rc = vexec(conn, &res, err, fmt, ap);
    va_end(ap);
    if (out != NULL && rc == CF_OK)
        *out = res;
    else
        PQclear(res);
    return rc;
}

cf_err
cf_mig_value(PGconn *conn, char **out, struct cf_error *err, const char *fmt, ...)
{
    va_list ap;
    PGresult *res = NULL;
    cf_err rc;

    *out = NULL;
    va_start(ap, fmt);
    rc = vexec(conn, &res, err, fmt, ap);
    va_end(ap);
    if (rc == CF_OK && PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0)) {
        *out = strdup(PQgetvalue(res, 0, 0));
        if (*out == NULL)
            rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    PQclear(res);
    return rc;
}

cf_err
cf_mig_extensions(PGconn *conn, const char *schema, PGresult **out, struct cf_error *err)
{
    /* the extensions in the schema, and those owning an object that the schema's relations,
     * columns, functions, types, defaults or constraints depend on */
    return cf_mig_execf(
        conn, out, err,
        "WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = %L), "
        "objs AS (SELECT 'pg_class'::regclass AS cl, c.oid FROM pg_class c, n "
        "  WHERE c.relnamespace = n.oid "
        "UNION ALL SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p, n "
        "  WHERE p.pronamespace = n.oid "
        "UNION ALL SELECT 'pg_type'::regclass, t.oid FROM pg_type t, n "
        "  WHERE t.typnamespace = n.oid "
        "UNION ALL SELECT 'pg_attrdef'::regclass, d.oid FROM pg_attrdef d "
        "  JOIN pg_class c ON c.oid = d.adrelid, n WHERE c.relnamespace = n.oid "
        "UNION ALL SELECT 'pg_constraint'::regclass, k.oid FROM pg_constraint k, n "
        "  WHERE k.connamespace = n.oid "
        "UNION ALL SELECT 'pg_rewrite'::regclass, w.oid FROM pg_rewrite w "
        "  JOIN pg_class c ON c.oid = w.ev_class, n WHERE c.relnamespace = n.oid "
        "UNION ALL SELECT 'pg_trigger'::regclass, g.oid FROM pg_trigger g "
        "  JOIN pg_class c ON c.oid = g.tgrelid, n WHERE c.relnamespace = n.oid), "
        "refs AS (SELECT DISTINCT d.refclassid, d.refobjid FROM pg_depend d "
        "  JOIN objs o ON d.classid = o.cl AND d.objid = o.oid) "
        "SELECT e.extname, e.extversion, x.nspname FROM pg_extension e "
        "JOIN pg_namespace x ON x.oid = e.extnamespace "
        "WHERE e.extnamespace IN (SELECT oid FROM n) OR e.oid IN ("
        "  SELECT m.refobjid FROM pg_depend m JOIN refs r ON m.classid = r.refclassid "
        "  AND m.objid = r.refobjid WHERE m.deptype = 'e' "
        "  AND m.refclassid = 'pg_extension'::regclass) "
        "ORDER BY 1",
        schema);
}
