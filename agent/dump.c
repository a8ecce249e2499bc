/*
 * dump.c - one database through pg_dump, with row counts from the same
 * snapshot.
 *
 * We open a REPEATABLE READ transaction, export its snapshot, and start
 * pg_dump --snapshot with it, so the dump and our row counts see exactly
 * the same data.  The counting query is sent asynchronously before the dump
 * is pumped and collected after, so the server counts while pg_dump reads.
 */
#include "agent/dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/pg.h"
#include "stream/child.h"
#include "stream/hash.h"

static double
now_seconds(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The SQL that counts every table of the dump in one statement. */
static cf_err
build_count_sql(PGconn *conn, const char *schema, char **out, struct cf_error *err)
{
    static const char *list_sql =
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname !~ '^pg_(toast|temp)' AND ($1::text IS NULL OR n.nspname = $1) "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
        "AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1";
    const char *params[1] = {schema};
    PGresult *res = NULL;
    size_t cap = 64, len = 0;
    char *sql;

    cf_err rc = cf_pg_exec(conn, list_sql, 1, params, &res, err);

    if (rc != CF_OK)
        return rc;
    for (int i = 0; i < PQntuples(res); i++)
        cap += 2 * strlen(PQgetvalue(res, i, 0)) + 64;
    sql = malloc(cap);
    if (sql == NULL) {
        PQclear(res);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    sql[0] = '\0';
    for (int i = 0; i < PQntuples(res); i++) {
        const char *t = PQgetvalue(res, i, 0);
        char *lit = PQescapeLiteral(conn, t, strlen(t));

        if (lit == NULL)
            continue;
        len += (size_t)snprintf(sql + len, cap - len, "%sSELECT %s, count(*) FROM ONLY %s",
                                i ? " UNION ALL " : "", lit, t);
        PQfreemem(lit);
    }
    PQclear(res);
    *out = sql;
    return CF_OK;
}

static cf_err
collect_counts(PGconn *conn, struct cf_manifest_object *o, struct cf_error *err)
{
    PGresult *res;
    cf_err rc = CF_OK;

    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            if (rc == CF_OK) {
                cf_error_setf(err, CF_ERR_PG, "could not count rows in database \"%s\"",
                             PQdb(conn));
                cf_error_detail(err, "%s", PQresultErrorMessage(res));
                rc = CF_ERR_PG;
            }
        } else if (rc == CF_OK) {
            int n = PQntuples(res);

            o->tables = calloc((size_t)n + 1, sizeof(*o->tables));
            for (int i = 0; o->tables != NULL && i < n; i++) {
                o->tables[i].name = strdup(PQgetvalue(res, i, 0));
                o->tables[i].rows = strtoll(PQgetvalue(res, i, 1), NULL, 10);
                o->n_tables = (size_t)i + 1;
            }
        }
        PQclear(res);
    }
    return rc;
}

/* Start pg_dump on the exported snapshot. */
static cf_err
start_pg_dump(const struct cf_dump_job *job, const char *snapshot, int server_version,
              struct cf_source **out, struct cf_error *err)
{
    char tool[512], snap_arg[256], schema_arg[256];
    char *conn = NULL;
    const char *argv[12];
    int a = 0;
    cf_err rc;

    if (cf_pg_conninfo_with_db(job->conninfo, job->database, &conn, err) != CF_OK)
        return err->code;
    cf_pg_tool_path(job->bindir, server_version, "pg_dump", tool, sizeof(tool));
    (void)snprintf(snap_arg, sizeof(snap_arg), "--snapshot=%s", snapshot);
    argv[a++] = tool;
    argv[a++] = "--format=custom";
    argv[a++] = "--compress=0";     /* zstd does it better, after hashing */
    argv[a++] = "--no-password";
    argv[a++] = snap_arg;
    if (job->schema != NULL) {
        /* pg_dump -n takes a pattern: quote the name so it matches exactly */
        size_t o = (size_t)snprintf(schema_arg, sizeof(schema_arg), "--schema=\"");

        for (const char *p = job->schema; *p && o + 3 < sizeof(schema_arg); p++) {
            if (*p == '"')
                schema_arg[o++] = '"';
            schema_arg[o++] = *p;
        }
        schema_arg[o++] = '"';
        schema_arg[o] = '\0';
        argv[a++] = schema_arg;
    }
    argv[a++] = "--dbname";
    argv[a++] = conn;
    argv[a] = NULL;
    rc = cf_child_source_new(argv, NULL, out, err);
    free(conn);
    return rc;
}

cf_err
cf_dump_database(const struct cf_dump_job *job, struct cf_manifest_object *o,
                 struct cf_error *err)
{
    PGconn *conn = NULL;
    PGresult *res = NULL;
    struct cf_source *src = NULL;
    struct cf_backup_sizes sizes;
    char *count_sql = NULL;
    char snapshot[128];
    double t0;
    cf_err rc;

    if ((rc = cf_pg_connect(job->conninfo, job->database, &conn, err)) != CF_OK)
        goto out;
    if ((rc = cf_pg_command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", err)) !=
            CF_OK ||
        (rc = cf_pg_exec(conn, "SELECT pg_export_snapshot()", 0, NULL, &res, err)) != CF_OK)
        goto out;
    (void)snprintf(snapshot, sizeof(snapshot), "%s", PQgetvalue(res, 0, 0));
    if (!job->row_counts)
        count_sql = strdup("");
    else if ((rc = build_count_sql(conn, job->schema, &count_sql, err)) != CF_OK)
        goto out;
    if (count_sql == NULL) {
        rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = start_pg_dump(job, snapshot, PQserverVersion(conn), &src, err)) != CF_OK)
        goto out;
    t0 = now_seconds();
    if (count_sql[0] != '\0' && !PQsendQuery(conn, count_sql)) {
        rc = cf_error_set(err, CF_ERR_PG, "could not count rows in database \"%s\": %s",
                          job->database, PQerrorMessage(conn));
        goto out;
    }
    rc = cf_repo_put(job->repo, job->backup_id, job->object_name, CF_OBJ_DUMP, src, &sizes, err);
    if (rc != CF_OK) {
        cf_error_context(err, "while dumping database \"%s\"", job->database);
        goto out;
    }
    if (count_sql[0] != '\0' && (rc = collect_counts(conn, o, err)) != CF_OK) {
        /* the object is stored but will not be in the manifest: remove it */
        char key[CF_STORAGE_KEY_MAX + 1];
        struct cf_error ignored = CF_ERROR_INIT;

        if (cf_repo_key(job->repo, job->backup_id, job->object_name, key, sizeof(key),
                        &ignored) == CF_OK)
            (void)cf_storage_remove(job->repo->st, key, NULL, &ignored);
        goto out;
    }
    o->count_seconds = now_seconds() - t0;
    o->plain = sizes.plain;
    o->compressed = sizes.compressed;
    o->stored = sizes.stored;
    cf_hex_encode(sizes.sha256, CF_SHA256_BYTES, o->sha256);
out:
    cf_source_free(src);
    PQclear(res);
    PQfinish(conn);
    free(count_sql);
    return rc;
}
