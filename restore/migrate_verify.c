/*
 * migrate_verify.c - proving the destination equal to the frozen source:
 * per table a row count and a content hash computed by both servers at
 * once, then sequences, definitions, extensions, ownership and grants, and
 * large objects.  Names of the source schema are rewritten to the
 * destination's before comparing (the schema map).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pg.h"
#include "restore/migrate_int.h"

void
cf_mig_check(struct cf_migrate_result *res, const char *name, bool ok, const char *fmt, ...)
{
    struct cf_migrate_check *c;
    va_list ap;

    if (res->n_checks == res->cap_checks) {
        size_t cap = res->cap_checks ? res->cap_checks * 2 : 32;
        struct cf_migrate_check *bigger = realloc(res->checks, cap * sizeof(*bigger));

        if (bigger == NULL)
            return;
        res->checks = bigger;
        res->cap_checks = cap;
    }
    c = &res->checks[res->n_checks++];
    (void)snprintf(c->name, sizeof(c->name), "%s", name);
    c->ok = ok;
    va_start(ap, fmt);
    (void)vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
    va_end(ap);
    if (!ok && res->mismatch[0] == '\0')
        (void)snprintf(res->mismatch, sizeof(res->mismatch), "%s: %s", c->name, c->detail);
}

/* s with every "<from>." replaced by "<to>." (identifiers as quote_ident writes them). */
static char *
rename_schema(PGconn *conn, const char *s, const char *from, const char *to)
{
    char *qf = PQescapeIdentifier(conn, from, strlen(from));
    char *qt = PQescapeIdentifier(conn, to, strlen(to));
    /* quote_ident leaves simple lower-case names bare: compare both spellings */
    const char *pats[2] = {from, qf}, *reps[2] = {to, qt};
    char *cur = strdup(s);

    for (int k = 0; k < 2 && cur != NULL && qf != NULL && qt != NULL; k++) {
        size_t fl = strlen(pats[k]), tl = strlen(reps[k]), n = 0;
        char *out, *o;
        const char *p;

        if (k == 1 && strcmp(qf, from) == 0)
            break;
        for (p = cur; (p = strstr(p, pats[k])) != NULL; p += fl)
            n++;
        out = malloc(strlen(cur) + n * (tl + 1) + 1);
        if (out == NULL) {
            free(cur);
            cur = NULL;
            break;
        }
        o = out;
        for (p = cur; *p != '\0';) {
            bool word_start = p == cur || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
                                            (p[-1] >= '0' && p[-1] <= '9') || p[-1] == '"');

            if (word_start && strncmp(p, pats[k], fl) == 0 && p[fl] == '.') {
                memcpy(o, reps[k], tl);
                o += tl;
                p += fl;
            } else {
                *o++ = *p++;
            }
        }
        *o = '\0';
        free(cur);
        cur = out;
    }
    PQfreemem(qf);
    PQfreemem(qt);
    return cur;
}

/* Send the same query (formatted per side) to both servers, then collect both results. */
static cf_err
both(PGconn *src, PGconn *dst, const char *sql_src, const char *sql_dst, PGresult **a, PGresult **b,
     struct cf_error *err)
{
    PGresult *r;

    *a = *b = NULL;
    if (!PQsendQuery(src, sql_src) || !PQsendQuery(dst, sql_dst)) {
        cf_error_setf(err, CF_ERR_PG, "could not send a verification query");
        cf_pg_error_detail(PQstatus(src) == CONNECTION_OK ? dst : src, NULL, err);
        return CF_ERR_PG;
    }
    while ((r = PQgetResult(src)) != NULL) {
        if (*a == NULL)
            *a = r;
        else
            PQclear(r);
    }
    while ((r = PQgetResult(dst)) != NULL) {
        if (*b == NULL)
            *b = r;
        else
            PQclear(r);
    }
    if (*a == NULL || PQresultStatus(*a) != PGRES_TUPLES_OK || *b == NULL ||
        PQresultStatus(*b) != PGRES_TUPLES_OK) {
        bool src_failed = *a == NULL || PQresultStatus(*a) != PGRES_TUPLES_OK;

        cf_error_setf(err, CF_ERR_PG, "a verification query failed on the %s",
                      src_failed ? "source" : "destination");
        cf_pg_error_detail(src_failed ? src : dst, src_failed ? *a : *b, err);
        PQclear(*a);
        PQclear(*b);
        *a = *b = NULL;
        return CF_ERR_PG;
    }
    return CF_OK;
}

/* The hash query of one table, with its key order. */
static char *
table_sql(PGconn *conn, const char *schema, const char *table, const char *order)
{
    char *qs = PQescapeIdentifier(conn, schema, strlen(schema));
    char *qt = PQescapeIdentifier(conn, table, strlen(table));
    char *sql = NULL;
    size_t n;

    if (qs != NULL && qt != NULL) {
        n = strlen(qs) + strlen(qt) + strlen(order) + 256;
        sql = malloc(n);
        if (sql != NULL && order[0] != '\0')
            (void)snprintf(sql, n,
                           "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' "
                           "ORDER BY %s)), '') FROM ONLY %s.%s t",
                           order, qs, qt);
        else if (sql != NULL)
            (void)snprintf(sql, n,
                           "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), "
                           "'') FROM (SELECT md5(t::text) AS h FROM ONLY %s.%s t) x",
                           qs, qt);
    }
    PQfreemem(qs);
    PQfreemem(qt);
    return sql;
}

static cf_err
verify_tables(PGconn *src, PGconn *dst, const struct cf_mig_tenant *t,
              struct cf_migrate_result *res, struct cf_error *err)
{
    PGresult *list = NULL;
    char *names = NULL;
    cf_err rc;

    /* every table with its primary key's columns (quoted, in key order) as an ORDER BY */
    rc = cf_mig_execf(
        src, &list, err,
        "SELECT c.relname, coalesce((SELECT string_agg('t.' || quote_ident(a.attname), "
        "', ' ORDER BY k.ord) FROM pg_constraint p, unnest(p.conkey) WITH ORDINALITY "
        "k(att, ord) JOIN pg_attribute a ON a.attnum = k.att "
        "WHERE p.conrelid = c.oid AND p.contype = 'p' AND a.attrelid = c.oid), '') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %L AND c.relkind = 'r' ORDER BY 1",
        t->src_schema);
    if (rc != CF_OK)
        return rc;
    (void)cf_mig_value(dst, &names, err,
                       "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c "
                       "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %L "
                       "AND c.relkind = 'r'",
                       t->dst_schema);
    if (err->code != CF_OK) {
        PQclear(list);
        return err->code;
    }
    {
        /* the same set of tables on both sides */
        size_t len = 0;
        char *want = malloc((size_t)PQntuples(list) * 65 + 1);

        if (want == NULL) {
            PQclear(list);
            free(names);
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        }
        want[0] = '\0';
        for (int i = 0; i < PQntuples(list); i++)
            len += (size_t)snprintf(want + len, (size_t)PQntuples(list) * 65 + 1 - len, "%s%s",
                                    i ? "," : "", PQgetvalue(list, i, 0));
        cf_mig_check(res, "tables", strcmp(want, names ? names : "") == 0,
                     "%d tables at the source%s", PQntuples(list),
                     strcmp(want, names ? names : "") == 0 ? ", the same at the destination"
                                                           : "; the destination's differ");
        free(want);
        free(names);
    }
    for (int i = 0; i < PQntuples(list) && rc == CF_OK; i++) {
        const char *table = PQgetvalue(list, i, 0), *order = PQgetvalue(list, i, 1);
        char *qa = table_sql(src, t->src_schema, table, order);
        char *qb = table_sql(dst, t->dst_schema, table, order);
        PGresult *a = NULL, *b = NULL;
        char name[128];

        (void)snprintf(name, sizeof(name), "rows %s.%s", t->dst_schema, table);
        if (qa == NULL || qb == NULL)
            rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        else if ((rc = both(src, dst, qa, qb, &a, &b, err)) == CF_OK) {
            bool same = strcmp(PQgetvalue(a, 0, 0), PQgetvalue(b, 0, 0)) == 0 &&
                        strcmp(PQgetvalue(a, 0, 1), PQgetvalue(b, 0, 1)) == 0;

            if (same)
                cf_mig_check(res, name, true, "%s rows, content %s%s", PQgetvalue(a, 0, 0),
                             PQgetvalue(a, 0, 1), order[0] ? "" : " (rows sorted by content)");
            else
                cf_mig_check(res, name, false,
                             "source %s rows (content %s), destination %s rows (content %s)",
                             PQgetvalue(a, 0, 0), PQgetvalue(a, 0, 1), PQgetvalue(b, 0, 0),
                             PQgetvalue(b, 0, 1));
        } else {
            cf_error_context(err, "table %s.%s", t->src_schema, table);
        }
        PQclear(a);
        PQclear(b);
        free(qa);
        free(qb);
    }
    PQclear(list);
    return rc;
}

/*
 * One text per side from the same catalog query (one line per object, sorted),
 * the source's rewritten with the schema map; a check named name.
 */
static cf_err
compare_lines(PGconn *src, PGconn *dst, const struct cf_mig_tenant *t,
              struct cf_migrate_result *res, const char *name, const char *query,
              struct cf_error *err)
{
    char *a = NULL, *b = NULL, *mapped = NULL;
    cf_err rc;

    if ((rc = cf_mig_value(src, &a, err, query, t->src_schema)) != CF_OK ||
        (rc = cf_mig_value(dst, &b, err, query, t->dst_schema)) != CF_OK)
        goto out;
    mapped = strcmp(t->src_schema, t->dst_schema) != 0
                 ? rename_schema(src, a ? a : "", t->src_schema, t->dst_schema)
                 : strdup(a ? a : "");
    if (mapped == NULL) {
        rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (strcmp(mapped, b ? b : "") == 0) {
        size_t lines = 0;

        for (const char *p = mapped; *p; p++)
            lines += *p == '\n';
        cf_mig_check(res, name, true, "%zu identical", mapped[0] ? lines + 1 : 0);
    } else {
        /* the first differing line of each side */
        const char *x = mapped, *y = b ? b : "";
        int lx, ly;

        while (*x && *y) {
            const char *ex = strchr(x, '\n'), *ey = strchr(y, '\n');
            size_t nx = ex ? (size_t)(ex - x) : strlen(x), ny = ey ? (size_t)(ey - y) : strlen(y);

            if (nx != ny || strncmp(x, y, nx) != 0)
                break;
            x += nx + (ex != NULL);
            y += ny + (ey != NULL);
        }
        lx = (int)(strchr(x, '\n') ? strchr(x, '\n') - x : (long)strlen(x));
        ly = (int)(strchr(y, '\n') ? strchr(y, '\n') - y : (long)strlen(y));
        cf_mig_check(res, name, false, "source has \"%.*s\", destination has \"%.*s\"",
                     lx > 200 ? 200 : lx, x, ly > 200 ? 200 : ly, y);
    }
out:
    free(a);
    free(b);
    free(mapped);
    return rc;
}

static const char sequences_sql[] =
    "SELECT string_agg(s.relname || ' ' || coalesce(q.last_value::text, 'unset'), E'\\n' "
    "ORDER BY s.relname) FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace "
    "JOIN pg_sequences q ON q.schemaname = n.nspname AND q.sequencename = s.relname "
    "WHERE n.nspname = %L AND s.relkind = 'S'";

static const char definitions_sql[] =
    "WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = %L) "
    "SELECT string_agg(line, E'\\n' ORDER BY line) FROM ("
    "SELECT 'view ' || c.relname || ': ' || pg_get_viewdef(c.oid) AS line FROM pg_class c, n "
    "  WHERE c.relnamespace = n.oid AND c.relkind IN ('v', 'm') "
    /* a function's body and settings are text, copied as they are (a schema map does not
     * rewrite them): compared by hash, outside the renaming */
    "UNION ALL SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) "
    "  || '): returns ' || pg_get_function_result(p.oid) || ' language ' || l.lanname || ' ' || "
    "  p.provolatile::text || p.proisstrict::text || p.prosecdef::text || ' body ' || "
    "  md5(coalesce(p.prosrc, '') || coalesce(p.probin, '') || coalesce(p.proconfig::text, '')) "
    "  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang, n WHERE p.pronamespace = n.oid "
    "  AND p.prokind IN ('f', 'p') AND NOT EXISTS (SELECT 1 FROM pg_depend x "
    "  WHERE x.classid = 'pg_proc'::regclass AND x.objid = p.oid AND x.deptype = 'e') "
    "UNION ALL SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(c.oid) FROM pg_class c, n "
    "  WHERE c.relnamespace = n.oid AND c.relkind IN ('i', 'I') "
    "UNION ALL SELECT 'constraint ' || r.relname || '.' || k.conname || ': ' || "
    "  pg_get_constraintdef(k.oid) FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid, n "
    "  WHERE r.relnamespace = n.oid "
    "UNION ALL SELECT 'trigger ' || r.relname || '.' || g.tgname || ': ' || "
    "pg_get_triggerdef(g.oid) "
    "  FROM pg_trigger g JOIN pg_class r ON r.oid = g.tgrelid, n WHERE r.relnamespace = n.oid "
    "  AND NOT g.tgisinternal "
    "UNION ALL SELECT 'column ' || c.relname || '.' || a.attname || ': ' || "
    "  format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' "
    "  END || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') FROM pg_attribute a "
    "  JOIN pg_class c ON c.oid = a.attrelid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid "
    "  AND d.adnum = a.attnum, n WHERE c.relnamespace = n.oid AND a.attnum > 0 "
    "  AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) x";

static const char grants_sql[] =
    "WITH n AS (SELECT oid, nspname, nspowner, nspacl FROM pg_namespace WHERE nspname = %L) "
    "SELECT string_agg(line, E'\\n' ORDER BY line) FROM ("
    "SELECT 'schema owner ' || nspowner::regrole::text || ' acl ' || coalesce(nspacl::text, '') "
    "  AS line FROM n "
    "UNION ALL SELECT 'relation ' || c.relname || ' owner ' || c.relowner::regrole::text || "
    "  ' acl ' || coalesce(c.relacl::text, '') FROM pg_class c, n WHERE c.relnamespace = n.oid "
    "  AND c.relkind NOT IN ('i', 'I', 'c', 't') AND NOT EXISTS (SELECT 1 FROM pg_depend x "
    "  WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid AND x.deptype = 'e') "
    "UNION ALL SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) "
    "  || ') owner ' || p.proowner::regrole::text || ' acl ' || coalesce(p.proacl::text, '') "
    "  FROM pg_proc p, n WHERE p.pronamespace = n.oid AND NOT EXISTS (SELECT 1 FROM pg_depend x "
    "  WHERE x.classid = 'pg_proc'::regclass AND x.objid = p.oid AND x.deptype = 'e')) x";

/* Each extension the source's tenant uses exists at the destination in the same version. */
static cf_err
verify_extensions(PGconn *src, PGconn *dst, const struct cf_mig_tenant *t,
                  struct cf_migrate_result *res, struct cf_error *err)
{
    PGresult *a = NULL;
    size_t n = 0;
    cf_err rc;

    if ((rc = cf_mig_extensions(src, t->src_schema, &a, err)) != CF_OK)
        return rc;
    for (int i = 0; i < PQntuples(a); i++) {
        char *v = NULL;

        if ((rc = cf_mig_value(dst, &v, err,
                               "SELECT extversion FROM pg_extension "
                               "WHERE extname = %L",
                               PQgetvalue(a, i, 0))) != CF_OK)
            break;
        if (v == NULL || strcmp(v, PQgetvalue(a, i, 1)) != 0) {
            cf_mig_check(res, "extensions", false, "%s %s at the source, %s at the destination",
                         PQgetvalue(a, i, 0), PQgetvalue(a, i, 1), v ? v : "missing");
            free(v);
            PQclear(a);
            return CF_OK;
        }
        free(v);
        n++;
    }
    if (rc == CF_OK)
        cf_mig_check(res, "extensions", true, "%zu used by the tenant, same versions", n);
    PQclear(a);
    return rc;
}

static cf_err
verify_large_objects(PGconn *src, PGconn *dst, const struct cf_mig_tenant *t,
                     struct cf_migrate_result *res, struct cf_error *err)
{
    static const char *q = "SELECT count(*) FROM pg_largeobject_metadata WHERE lomowner = "
                           "(SELECT oid FROM pg_roles WHERE rolname = %L)";
    char *a = NULL, *b = NULL;
    cf_err rc;

    if ((rc = cf_mig_value(src, &a, err, q, t->role)) == CF_OK &&
        (rc = cf_mig_value(dst, &b, err, q, t->role)) == CF_OK)
        cf_mig_check(res, "large objects", a && b && strcmp(a, b) == 0,
                     "%s owned by \"%s\" at the source, %s at the destination", a ? a : "?",
                     t->role, b ? b : "?");
    free(a);
    free(b);
    return rc;
}

static double
now_s(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

cf_err
cf_mig_verify(const struct cf_mig_tenant *t, struct cf_migrate_result *res, struct cf_error *err)
{
    PGconn *src = NULL, *dst = NULL;
    double t0 = now_s();
    cf_err rc;

    res->n_checks = 0;
    res->mismatch[0] = '\0';
    if ((rc = cf_mig_connect(t->src_conninfo, NULL, &src, err)) != CF_OK)
        cf_error_context(err, "verification: the source");
    else if ((rc = cf_mig_connect(t->dst_conninfo, NULL, &dst, err)) != CF_OK)
        cf_error_context(err, "verification: the destination");
    /* one snapshot per side: the source is frozen, the destination only ours */
    if (rc == CF_OK &&
        ((rc = cf_pg_command(src, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err)) !=
             CF_OK ||
         (rc = cf_pg_command(dst, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err)) !=
             CF_OK))
        cf_error_context(err, "verification");
    if (rc == CF_OK)
        rc = verify_tables(src, dst, t, res, err);
    if (rc == CF_OK)
        rc = compare_lines(src, dst, t, res, "sequences", sequences_sql, err);
    if (rc == CF_OK)
        rc = compare_lines(src, dst, t, res, "definitions", definitions_sql, err);
    if (rc == CF_OK)
        rc = compare_lines(src, dst, t, res, "ownership and grants", grants_sql, err);
    if (rc == CF_OK)
        rc = verify_extensions(src, dst, t, res, err);
    if (rc == CF_OK)
        rc = verify_large_objects(src, dst, t, res, err);
    PQfinish(src);
    PQfinish(dst);
    res->verify_s = now_s() - t0;
    if (rc != CF_OK)
        return rc;
    if (res->mismatch[0] != '\0') {
        cf_error_setf(err, CF_ERR_CHECK, "the destination differs from the source: %s",
                      res->mismatch);
        cf_error_hint(err, "Nothing was switched: roll back with coffre migrate rollback "
                           "(the source becomes writable again), find the cause, then run "
                           "again.");
        return CF_ERR_CHECK;
    }
    return CF_OK;
}
