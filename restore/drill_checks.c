/*
 * drill_checks.c - the checks a drill runs on a restored database (see
 * drill_int.h): row counts and sequences against what the backup recorded
 * from its own snapshot, large objects, invalid indexes, pg_amcheck, and the
 * operator's SQL checks.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"
#include "restore/drill_int.h"
#include "stream/child.h"

/* ---- the operator's checks ------------------------------------------------- */

static const char *
after_directive(const char *line, const char *directive)
{
    size_t n = strlen(directive);

    while (*line == ' ' || *line == '\t')
        line++;
    if (strncmp(line, "--", 2) != 0)
        return NULL;
    line += 2;
    while (*line == ' ' || *line == '\t')
        line++;
    if (strncmp(line, directive, n) != 0)
        return NULL;
    line += n;
    while (*line == ' ' || *line == '\t')
        line++;
    return line;
}

static void
trim_copy(char *dst, size_t size, const char *src, size_t len)
{
    while (len > 0 && isspace((unsigned char)src[len - 1]))
        len--;
    (void)snprintf(dst, size, "%.*s", (int)len, src);
}

static cf_err
add_sql(struct cf_drill_sql **v, size_t *n, const char *name, const char *database,
        const char *query, size_t len, struct cf_error *err)
{
    struct cf_drill_sql *grown = realloc(*v, (*n + 1) * sizeof(**v)), *s;

    if (grown == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    *v = grown;
    s = &grown[*n];
    memset(s, 0, sizeof(*s));
    if ((s->query = strndup(query, len)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (name[0] != '\0')
        (void)snprintf(s->name, sizeof(s->name), "%s", name);
    else
        (void)snprintf(s->name, sizeof(s->name), "sql %zu", *n + 1);
    (void)snprintf(s->database, sizeof(s->database), "%s", database);
    (*n)++;
    return CF_OK;
}

cf_err
cf_drill_sql_parse(const char *what, const char *text, struct cf_drill_sql **out, size_t *n,
                   struct cf_error *err)
{
    char name[128] = "", database[64] = "";
    const char *stmt = NULL, *p = text;
    struct cf_drill_sql *v = NULL;
    size_t count = 0;
    int lineno = 0, stmt_line = 0;

    while (*p != '\0') {
        const char *eol = strchr(p, '\n'), *arg;
        size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
        char line[1024];

        lineno++;
        trim_copy(line, sizeof(line), p, len);
        if (stmt == NULL && (arg = after_directive(line, "name:")) != NULL) {
            (void)snprintf(name, sizeof(name), "%s", arg);
        } else if (stmt == NULL && (arg = after_directive(line, "database:")) != NULL) {
            (void)snprintf(database, sizeof(database), "%s", arg);
        } else if (stmt == NULL && (line[strspn(line, " \t")] == '\0' ||
                                    after_directive(line, "") != NULL)) {
            /* blank line or another comment */
        } else {
            if (stmt == NULL) {
                stmt = p;
                stmt_line = lineno;
            }
            if (line[0] != '\0' && line[strlen(line) - 1] == ';') {
                if (add_sql(&v, &count, name, database, stmt, (size_t)(p - stmt) + len,
                            err) != CF_OK) {
                    cf_drill_sql_free(v, count);
                    return err->code;
                }
                stmt = NULL;
                name[0] = '\0';
            }
        }
        p += len + (eol != NULL);
    }
    if (stmt != NULL) {
        cf_drill_sql_free(v, count);
        cf_error_setf(err, CF_ERR_CONFIG, "%s:%d: check does not end with \";\"", what,
                      stmt_line);
        cf_error_detail(err, "Each check is one SQL query ending with \";\" at the end of a "
                             "line, returning one true or false.");
        return CF_ERR_CONFIG;
    }
    *out = v;
    *n = count;
    return CF_OK;
}

void
cf_drill_sql_free(struct cf_drill_sql *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].query);
    free(v);
}

void
cf_drill_check_sql(const struct cf_drill *d, struct cf_drill_scenario_result *sr,
                   char *(*conninfo_of)(void *arg, const char *database), void *arg)
{
    for (size_t i = 0; i < d->n_sql; i++) {
        const struct cf_drill_sql *q = &d->sql[i];
        char name[160], *conninfo = conninfo_of(arg, q->database);
        PGconn *conn = NULL;
        PGresult *res = NULL;
        struct cf_error e = CF_ERROR_INIT;

        (void)snprintf(name, sizeof(name), "sql: %s", q->name);
        if (conninfo == NULL) {
            cf_drill_check(sr, name, CF_CHECK_SKIP, "database \"%s\" is not restored by this "
                           "scenario", q->database[0] ? q->database : "(default)");
            continue;
        }
        if (cf_pg_connect(conninfo, NULL, &conn, &e) != CF_OK ||
            cf_pg_exec(conn, q->query, 0, NULL, &res, &e) != CF_OK)
            cf_drill_check(sr, name, CF_CHECK_FAIL, "%s", e.msg);
        else if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQftype(res, 0) != 16 /* bool */)
            cf_drill_check(sr, name, CF_CHECK_FAIL, "the query must return one boolean, not %d "
                           "row(s) of %d column(s)", PQntuples(res), PQnfields(res));
        else
            cf_drill_check(sr, name,
                           strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? CF_CHECK_PASS
                                                                   : CF_CHECK_FAIL,
                           "returned %s", PQgetisnull(res, 0, 0) ? "null"
                                          : strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? "true"
                                                                                     : "false");
        PQclear(res);
        PQfinish(conn);
        free(conninfo);
    }
}

/* ---- content ------------------------------------------------------------------- */

/* count(*) FROM ONLY table: -1 and why when it cannot be counted. */
static int64_t
count_rows(PGconn *conn, const char *table, char *why, size_t size)
{
    char sql[600];
    PGresult *res = NULL;
    struct cf_error e = CF_ERROR_INIT;
    int64_t rows = -1;

    /* the name is the backup's quote_ident form: it goes into the SQL as it is */
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM ONLY %s", table);
    if (cf_pg_exec(conn, sql, 0, NULL, &res, &e) == CF_OK)
        rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        (void)snprintf(why, size, "%s", e.msg);
    PQclear(res);
    return rows;
}

void
cf_drill_check_rows(struct cf_drill_scenario_result *sr, PGconn *conn, const char *label,
                    const struct cf_manifest_object *o, const char *only_table)
{
    size_t matched = 0;

    if (o->n_tables == 0 && only_table == NULL) {
        cf_drill_check(sr, "rows", CF_CHECK_SKIP, "backup recorded no row count for database "
                       "\"%s\" ([backup] row_counts = false, or no table)", label);
        return;
    }
    for (size_t i = 0; i < o->n_tables; i++) {
        const struct cf_table_count *t = &o->tables[i];
        char name[160], why[256] = "";
        int64_t rows;

        if (only_table != NULL && strcmp(t->name, only_table) != 0)
            continue;
        matched++;
        (void)snprintf(name, sizeof(name), "rows %s.%s", label, t->name);
        rows = count_rows(conn, t->name, why, sizeof(why));
        if (rows < 0)
            cf_drill_check(sr, name, CF_CHECK_FAIL, "the restored table cannot be counted: %s",
                           why);
        else
            cf_drill_check(sr, name, rows == t->rows ? CF_CHECK_PASS : CF_CHECK_FAIL,
                           "%lld rows restored, %lld recorded at backup time", (long long)rows,
                           (long long)t->rows);
    }
    if (only_table != NULL && matched == 0)
        cf_drill_check(sr, "rows", CF_CHECK_FAIL, "the backup recorded no row count for table "
                       "%s", only_table);
}

void
cf_drill_check_content(struct cf_drill_scenario_result *sr, PGconn *conn, const char *label,
                       const struct cf_manifest_object *o)
{
    static const char *seq_sql =
        "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences";
    char name[160];
    PGresult *res = NULL;
    struct cf_error e = CF_ERROR_INIT;
    size_t missing = 0;
    const char *first = NULL;

    if (!o->has_content) {
        cf_drill_check(sr, "sequences", CF_CHECK_SKIP, "the backup of \"%s\" predates the "
                       "record of sequences and large objects", label);
        return;
    }
    (void)snprintf(name, sizeof(name), "sequences %s", label);
    if (cf_pg_exec(conn, seq_sql, 0, NULL, &res, &e) != CF_OK) {
        cf_drill_check(sr, name, CF_CHECK_FAIL, "%s", e.msg);
    } else {
        for (size_t i = 0; i < o->n_sequences; i++) {
            bool found = false;

            for (int r = 0; r < PQntuples(res) && !found; r++)
                found = strcmp(PQgetvalue(res, r, 0), o->sequences[i]) == 0;
            if (!found && missing++ == 0)
                first = o->sequences[i];
        }
        cf_drill_check(sr, name, missing == 0 ? CF_CHECK_PASS : CF_CHECK_FAIL,
                       missing == 0 ? "%zu sequence(s) present" : "%zu of %zu missing, e.g. %s",
                       missing == 0 ? o->n_sequences : missing, o->n_sequences,
                       first != NULL ? first : "");
    }
    PQclear(res);
    res = NULL;
    cf_error_clear(&e);
    (void)snprintf(name, sizeof(name), "large objects %s", label);
    if (cf_pg_exec(conn, "SELECT count(*) FROM pg_largeobject_metadata", 0, NULL, &res, &e) !=
        CF_OK) {
        cf_drill_check(sr, name, CF_CHECK_FAIL, "%s", e.msg);
    } else {
        long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

        cf_drill_check(sr, name, n == o->large_objects ? CF_CHECK_PASS : CF_CHECK_FAIL,
                       "%lld restored, %lld recorded at backup time", n,
                       (long long)o->large_objects);
    }
    PQclear(res);
}

/* ---- structure ------------------------------------------------------------------ */

void
cf_drill_check_indexes(struct cf_drill_scenario_result *sr, PGconn *conn, const char *label)
{
    static const char *sql =
        "SELECT count(*), min(indexrelid::regclass::text) FROM pg_index WHERE NOT indisvalid";
    char name[160];
    PGresult *res = NULL;
    struct cf_error e = CF_ERROR_INIT;

    (void)snprintf(name, sizeof(name), "valid indexes %s", label);
    if (cf_pg_exec(conn, sql, 0, NULL, &res, &e) != CF_OK)
        cf_drill_check(sr, name, CF_CHECK_FAIL, "%s", e.msg);
    else if (strcmp(PQgetvalue(res, 0, 0), "0") == 0)
        cf_drill_check(sr, name, CF_CHECK_PASS, "no invalid index");
    else
        cf_drill_check(sr, name, CF_CHECK_FAIL, "%s invalid index(es), e.g. %s",
                       PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    PQclear(res);
}

void
cf_drill_check_amcheck(const struct cf_drill *d, struct cf_drill_scenario_result *sr,
                       const char *conninfo, const char *label, int pg_version_num)
{
    char tool[512], name[160], tail[300], *out = NULL;
    const char *argv[] = {tool, "--install-missing", "--heapallindexed", "--no-password",
                          conninfo, NULL};
    struct cf_error e = CF_ERROR_INIT;
    double t0 = cf_drill_now();
    int code = 0;

    cf_pg_tool_path(d->o->pg->bindir, pg_version_num, "pg_amcheck", tool, sizeof(tool));
    (void)snprintf(name, sizeof(name), "amcheck %s", label);
    if (cf_child_run_status(argv, NULL, &out, (size_t)64 * 1024, &code, tail, sizeof(tail),
                            &e) != CF_OK)
        cf_drill_check(sr, name, CF_CHECK_FAIL, "%s", e.msg);
    else if (code == 0)
        cf_drill_check(sr, name, CF_CHECK_PASS, "heap and B-tree indexes (heapallindexed) "
                       "without corruption");
    else if (strstr(tail, "permission denied to create extension") != NULL)
        /* a staging server's role may not install amcheck: say so, it proves nothing */
        cf_drill_check(sr, name, CF_CHECK_SKIP, "the role may not create extension amcheck "
                       "(install it in the staging server's template1, or drill in a scratch "
                       "server)");
    else
        /* pg_amcheck reports corruption on its standard output, other errors on stderr */
        cf_drill_check(sr, name, CF_CHECK_FAIL, "pg_amcheck exit code %d: %.*s", code,
                       out != NULL && out[0] != '\0' ? (int)strcspn(out, "\n") : 300,
                       out != NULL && out[0] != '\0' ? out : tail);
    if (sr->n_checks > 0)
        sr->checks[sr->n_checks - 1].seconds = cf_drill_now() - t0;
    free(out);
}
