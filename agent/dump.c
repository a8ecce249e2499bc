/*
 * dump.c - one database through pg_dump, with row counts from the same
 * snapshot.
 *
 * We open a REPEATABLE READ transaction, export its snapshot, and start
 * pg_dump --snapshot with it, so the dump and our row counts see exactly
 * the same data.  The counting query is sent asynchronously before the dump
 * is pumped, so the server counts while pg_dump reads, and its answer is
 * collected once pg_dump's output has been pumped to its end but before the
 * storage commits the object (cf_repo_put_hooked): counts are what drills
 * trust, so a dump whose counts failed never becomes visible.
 */
#include "agent/dump.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cancel.h"
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

/* The counting of one database: built before pg_dump starts, collected before the commit. */
struct counts {
    PGconn *conn;                  /* borrowed: the snapshot's session */
    const char *database;
    struct cf_manifest_object *o;  /* filled on success only */
    char *sql;                     /* NULL: nothing to count */
    int n_tables;
    double t0;
};

static cf_err count_failed(struct cf_error *err, cf_err code, const char *database,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "could not count rows in database "x"" with a one-sentence detail. */
static cf_err
count_failed(struct cf_error *err, cf_err code, const char *database, const char *fmt, ...)
{
    char detail[400];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    cf_error_setf(err, code, "could not count rows in database \"%s\"", database);
    cf_error_detail(err, "%s", detail);
    return err->code;
}

/* First line of a libpq message, for a detail. */
static const char *
first_line(const char *msg, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%.*s", (int)strcspn(msg, "\n"), msg);
    return buf;
}

/*
 * The SQL that counts every table of the dump in one statement, built by the
 * server (format's %L and %I quote), so no table can drop out of it and its
 * size needs no client-side arithmetic.
 */
static cf_err
build_count_sql(struct counts *c, const char *schema, struct cf_error *err)
{
    static const char *list_sql =
        "SELECT count(*), string_agg(format('SELECT %L, count(*) FROM ONLY %s', name, name), "
        "' UNION ALL ' ORDER BY name) FROM ("
        "SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname !~ '^pg_(toast|temp)' AND ($1::text IS NULL OR n.nspname = $1) "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
        "AND d.objid = c.oid AND d.deptype = 'e')) AS tables";
    const char *params[1] = {schema};
    struct cf_error e = CF_ERROR_INIT;
    PGresult *res = NULL;
    char *end = NULL;
    long n;

    if (cf_pg_exec(c->conn, list_sql, 1, params, &res, &e) != CF_OK)
        return count_failed(err, CF_ERR_PG, c->database, "Listing the tables failed: %s.",
                            e.msg);
    n = strtol(PQgetvalue(res, 0, 0), &end, 10);
    if (PQntuples(res) != 1 || *end != '\0' || n < 0 || n > 100000000) {
        PQclear(res);
        return count_failed(err, CF_ERR_PG, c->database, "The list of tables is not a count.");
    }
    c->n_tables = (int)n;
    if (n > 0 && (c->sql = strdup(PQgetvalue(res, 0, 1))) == NULL) {
        PQclear(res);
        return count_failed(err, CF_ERR_NOMEM, c->database,
                            "Out of memory for the count query of %ld tables.", n);
    }
    PQclear(res);
    return CF_OK;
}

static void
cancel_query(PGconn *conn)
{
    PGcancel *cancel = PQgetCancel(conn);
    char buf[256];

    if (cancel != NULL)
        (void)PQcancel(cancel, buf, (int)sizeof(buf));
    PQfreeCancel(cancel);
}

/* Wait for the count query's answer; a signal cancels it. */
static cf_err
wait_for_counts(struct counts *c, struct cf_error *err)
{
    char line[256];

    while (PQisBusy(c->conn)) {
        struct pollfd pfd = {PQsocket(c->conn), POLLIN, 0};
        int r;

        if (cf_cancel_check(err) != CF_OK) {
            cancel_query(c->conn);
            return err->code;
        }
        r = pfd.fd < 0 ? 1 : poll(&pfd, 1, 500);
        if (r < 0 && errno != EINTR)
            return count_failed(err, CF_ERR_PG, c->database,
                                "Waiting for the count query failed: %s.", strerror(errno));
        if (r > 0 && !PQconsumeInput(c->conn))
            return count_failed(err, CF_ERR_PG, c->database, "The connection was lost: %s.",
                                first_line(PQerrorMessage(c->conn), line, sizeof(line)));
    }
    return CF_OK;
}

/* One answer of the count query into a new array; on failure nothing is kept. */
static cf_err
take_counts(struct counts *c, PGresult *res, struct cf_table_count **out, struct cf_error *err)
{
    const char *why;
    int n = PQntuples(res);
    struct cf_table_count *t;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        why = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        return count_failed(err, CF_ERR_PG, c->database, "The count query failed: %s.",
                            why != NULL ? why : PQresStatus(PQresultStatus(res)));
    }
    if (n != c->n_tables)
        return count_failed(err, CF_ERR_PG, c->database,
                            "The count query returned %d rows for %d tables.", n, c->n_tables);
    if ((t = calloc((size_t)n + 1, sizeof(*t))) == NULL)
        return count_failed(err, CF_ERR_NOMEM, c->database,
                            "Out of memory for the counts of %d tables.", n);
    for (int i = 0; i < n; i++) {
        const char *v = PQgetvalue(res, i, 1);
        char *end = NULL;

        errno = 0;
        t[i].rows = strtoll(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || t[i].rows < 0) {
            (void)count_failed(err, CF_ERR_PG, c->database, "The count of table %s is not a number "
                         "(\"%s\").", PQgetvalue(res, i, 0), v);
        } else if ((t[i].name = strdup(PQgetvalue(res, i, 0))) == NULL) {
            (void)count_failed(err, CF_ERR_NOMEM, c->database,
                         "Out of memory for the counts of %d tables.", n);
        }
        if (err->code != CF_OK) {
            for (int k = 0; k < i; k++)
                free(t[k].name);
            free(t);
            return err->code;
        }
    }
    *out = t;
    return CF_OK;
}

/* The pre-commit check of the dump: every count, or the object is not stored. */
static cf_err
collect_counts(void *arg, struct cf_error *err)
{
    struct counts *c = arg;
    struct cf_table_count *tables = NULL;
    PGresult *res;
    int answers = 0;

    if (c->sql == NULL)
        return CF_OK;
    if (wait_for_counts(c, err) != CF_OK)
        return err->code;
    /* drain every result so the connection is clean, keeping the first error */
    while ((res = PQgetResult(c->conn)) != NULL) {
        if (err->code == CF_OK && answers++ == 0)
            (void)take_counts(c, res, &tables, err);
        PQclear(res);
    }
    if (err->code == CF_OK && answers != 1)
        (void)count_failed(err, CF_ERR_PG, c->database, "The count query returned %d answers.",
                     answers);
    if (err->code != CF_OK) {
        for (int i = 0; tables != NULL && i < c->n_tables; i++)
            free(tables[i].name);
        free(tables);
        return err->code;
    }
    c->o->tables = tables;
    c->o->n_tables = (size_t)c->n_tables;
    c->o->count_seconds = now_seconds() - c->t0;
    return CF_OK;
}

/*
 * What a drill checks beside the row counts, from the dump's snapshot: the
 * sequences the dump holds and its large objects.  A schema dump (managed
 * formula) carries no large object (pg_dump --schema leaves them out): if
 * the tenant's role owns any, the backup fails rather than lose them.
 */
static cf_err
record_content(PGconn *conn, const struct cf_dump_job *job, struct cf_manifest_object *o,
               struct cf_error *err)
{
    static const char *seq_sql =
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' "
        "AND c.relpersistence <> 't' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname !~ '^pg_(toast|temp)' AND ($1::text IS NULL OR n.nspname = $1) "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
        "AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1";
    static const char *lo_sql =
        "SELECT count(*) FROM pg_largeobject_metadata WHERE $1::text IS NULL "
        "OR lomowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)";
    const char *params[1] = {job->schema};
    PGresult *res = NULL;
    cf_err rc;

    if ((rc = cf_pg_exec(conn, seq_sql, 1, params, &res, err)) != CF_OK)
        return rc;
    o->sequences = calloc((size_t)PQntuples(res) + 1, sizeof(*o->sequences));
    for (int i = 0; o->sequences != NULL && i < PQntuples(res); i++) {
        if ((o->sequences[i] = strdup(PQgetvalue(res, i, 0))) == NULL)
            break;
        o->n_sequences = (size_t)i + 1;
    }
    if (o->sequences == NULL || o->n_sequences != (size_t)PQntuples(res)) {
        PQclear(res);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    PQclear(res);
    if ((rc = cf_pg_exec(conn, lo_sql, 1, params, &res, err)) != CF_OK)
        return rc;
    o->large_objects = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (job->schema != NULL && o->large_objects > 0) {
        cf_error_setf(err, CF_ERR_CONFIG, "the tenant's role owns %lld large object(s), which a "
                      "backup of schema \"%s\" cannot carry", (long long)o->large_objects,
                      job->schema);
        cf_error_detail(err, "pg_dump --schema leaves large objects out: restoring such a backup "
                             "would lose them without a word.");
        cf_error_hint(err, "Store that content in a bytea column of the schema, or protect the "
                           "tenant with formula = onprem (a whole database).");
        return CF_ERR_CONFIG;
    }
    if (job->schema != NULL)
        o->large_objects = 0; /* what the dump carries */
    o->has_content = true;
    return CF_OK;
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
    struct counts counts = {NULL, job->database, o, NULL, 0, 0.0};
    char snapshot[128], line[256];
    cf_err rc;

    if ((rc = cf_pg_connect(job->conninfo, job->database, &conn, err)) != CF_OK)
        goto out;
    if ((rc = cf_pg_command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", err)) !=
            CF_OK ||
        (rc = cf_pg_exec(conn, "SELECT pg_export_snapshot()", 0, NULL, &res, err)) != CF_OK)
        goto out;
    (void)snprintf(snapshot, sizeof(snapshot), "%s", PQgetvalue(res, 0, 0));
    counts.conn = conn;
    if ((rc = record_content(conn, job, o, err)) != CF_OK ||
        (job->row_counts && (rc = build_count_sql(&counts, job->schema, err)) != CF_OK))
        goto out;
    if ((rc = start_pg_dump(job, snapshot, PQserverVersion(conn), &src, err)) != CF_OK)
        goto out;
    counts.t0 = now_seconds();
    if (counts.sql != NULL && !PQsendQuery(conn, counts.sql)) {
        rc = count_failed(err, CF_ERR_PG, job->database, "The count query could not be sent: "
                          "%s.", first_line(PQerrorMessage(conn), line, sizeof(line)));
        goto out;
    }
    rc = cf_repo_put_hooked(job->repo, job->backup_id, job->object_name, CF_OBJ_DUMP, src,
                            collect_counts, &counts, &sizes, err);
    if (rc != CF_OK) {
        cf_error_context(err, "while dumping database \"%s\"", job->database);
        goto out;
    }
    o->plain = sizes.plain;
    o->compressed = sizes.compressed;
    o->stored = sizes.stored;
    cf_hex_encode(sizes.sha256, CF_SHA256_BYTES, o->sha256);
out:
    cf_source_free(src);
    PQclear(res);
    PQfinish(conn);
    free(counts.sql);
    return rc;
}
