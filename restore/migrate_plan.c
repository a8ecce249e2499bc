/*
 * migrate_plan.c - `coffre migrate plan`: read-only findings on both sides,
 * each ok, warning or blocking with a hint, and the predicted freeze time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/manifest.h"
#include "common/pg.h"
#include "restore/migrate_int.h"

void
cf_mig_find(struct cf_migrate_plan *p, const char *name, enum cf_finding_level level,
            const char *hint, const char *fmt, ...)
{
    struct cf_migrate_finding *f;
    va_list ap;

    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct cf_migrate_finding *bigger = realloc(p->findings, cap * sizeof(*bigger));

        if (bigger == NULL)
            return;
        p->findings = bigger;
        p->cap = cap;
    }
    f = &p->findings[p->n++];
    memset(f, 0, sizeof(*f));
    (void)snprintf(f->name, sizeof(f->name), "%s", name);
    f->level = level;
    (void)snprintf(f->hint, sizeof(f->hint), "%s", hint ? hint : "");
    va_start(ap, fmt);
    (void)vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
    va_end(ap);
    if (level == CF_FINDING_BLOCKING)
        p->blocking++;
    else if (level == CF_FINDING_WARNING)
        p->warnings++;
}

/* Rows of res, column col, joined with ", " into buf. */
static void
join_column(PGresult *res, int col, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < PQntuples(res) && len + 1 < size; i++) {
        int n = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", PQgetvalue(res, i, col));

        if (n < 0)
            break;
        len += (size_t)n < size - len ? (size_t)n : size - len - 1;
    }
}

static const char *
bool_text(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? "f" : PQgetvalue(res, row, col);
}

/* The tenant at the source: schema, owner, size, tables. */
static cf_err
plan_tenant(PGconn *src, const struct cf_mig_tenant *t, struct cf_migrate_plan *p,
            struct cf_error *err)
{
    PGresult *res = NULL;
    char list[600];

    if (cf_mig_execf(src, &res, err,
                     "SELECT n.nspowner::regrole::text, "
                     "(SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                     " WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'm', 'p')), "
                     "(SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid "
                     " AND c.relkind IN ('r', 'p')) "
                     "FROM pg_namespace n WHERE n.nspname = %L",
                     t->src_schema) != CF_OK)
        return err->code;
    if (PQntuples(res) == 0) {
        cf_mig_find(p, "tenant", CF_FINDING_BLOCKING,
                    "Name the tenant's schema with --schema (or [postgres] schema).",
                    "schema \"%s\" does not exist in database \"%s\" at the source", t->src_schema,
                    t->src_db);
        PQclear(res);
        return CF_OK;
    }
    (void)snprintf(p->role, sizeof(p->role), "%s", PQgetvalue(res, 0, 0));
    p->tenant_bytes = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    p->tables = strtoul(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    cf_mig_find(p, "tenant", CF_FINDING_OK, NULL,
                "schema \"%s\" of database \"%s\", owned by role \"%s\": %zu tables, %llu MiB "
                "on disk",
                t->src_schema, t->src_db, p->role, p->tables,
                (unsigned long long)(p->tenant_bytes >> 20));
    if (cf_mig_execf(src, &res, err,
                     "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n "
                     "ON n.oid = c.relnamespace WHERE n.nspname = %L AND c.relkind IN ('r', 'p') "
                     "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid "
                     "AND k.contype = 'p') ORDER BY 1",
                     t->src_schema) != CF_OK)
        return err->code;
    p->tables_without_pk = (size_t)PQntuples(res);
    join_column(res, 0, list, sizeof(list));
    if (p->tables_without_pk > 0)
        cf_mig_find(p, "tables without a primary key", CF_FINDING_WARNING,
                    "Verification sorts these tables' rows by their content, which costs a "
                    "sort per table; a primary key makes it an index scan.",
                    "%zu: %s", p->tables_without_pk, list);
    else
        cf_mig_find(p, "tables without a primary key", CF_FINDING_OK, NULL, "none");
    PQclear(res);
    if (cf_mig_execf(src, &res, err,
                     "SELECT count(*) FROM pg_largeobject_metadata WHERE lomowner = "
                     "(SELECT oid FROM pg_roles WHERE rolname = %L)",
                     p->role) != CF_OK)
        return err->code;
    if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
        cf_mig_find(p, "large objects", CF_FINDING_BLOCKING,
                    "Large objects belong to the database, not to a schema: move them into a "
                    "bytea column first (docs/migration.md).",
                    "role \"%s\" owns %s large objects", p->role, PQgetvalue(res, 0, 0));
    else
        cf_mig_find(p, "large objects", CF_FINDING_OK, NULL, "none owned by the tenant");
    PQclear(res);
    return CF_OK;
}

static cf_err
plan_versions(PGconn *src, PGconn *dst, struct cf_migrate_plan *p)
{
    p->source_version = PQserverVersion(src);
    p->dest_version = PQserverVersion(dst);
    if (p->dest_version / 10000 < p->source_version / 10000)
        cf_mig_find(p, "server versions", CF_FINDING_BLOCKING,
                    "Migrate to a destination of the same or a newer major version.",
                    "source %s, destination %s: a dump cannot go to an older major version",
                    PQparameterStatus(src, "server_version"),
                    PQparameterStatus(dst, "server_version"));
    else
        cf_mig_find(p, "server versions", CF_FINDING_OK, NULL,
                    "source %s, destination %s; pg_dump and pg_restore of major %d",
                    PQparameterStatus(src, "server_version"),
                    PQparameterStatus(dst, "server_version"), p->source_version / 10000);
    return CF_OK;
}

/* What the role coffre connects as may do on each side. */
static cf_err
plan_rights(PGconn *src, PGconn *dst, const struct cf_mig_tenant *t, struct cf_migrate_plan *p,
            bool dst_role_exists, struct cf_error *err)
{
    PGresult *res = NULL;
    bool ok;

    if (p->role[0] == '\0')
        return CF_OK;
    if (cf_mig_execf(src, &res, err,
                     "SELECT r.rolsuper OR r.rolcreaterole, pg_has_role(current_user, %L, "
                     "'MEMBER'), r.rolsuper OR pg_has_role(current_user, 'pg_signal_backend', "
                     "'MEMBER'), r.rolsuper OR d.datdba = r.oid, current_user "
                     "FROM pg_roles r, pg_database d WHERE r.rolname = current_user "
                     "AND d.datname = current_database()",
                     p->role) != CF_OK)
        return err->code;
    if (t->src_formula == CF_FORMULA_MANAGED)
        ok = bool_text(res, 0, 0)[0] == 't' && bool_text(res, 0, 1)[0] == 't';
    else
        ok = bool_text(res, 0, 3)[0] == 't' && bool_text(res, 0, 2)[0] == 't';
    if (ok)
        cf_mig_find(p, "rights at the source", CF_FINDING_OK, NULL,
                    "role \"%s\" can freeze the tenant and read its schema", PQgetvalue(res, 0, 4));
    else
        cf_mig_find(p, "rights at the source", CF_FINDING_BLOCKING,
                    t->src_formula == CF_FORMULA_MANAGED
                        ? "Connect as the platform role: CREATEROLE (to set the tenant NOLOGIN) "
                          "and a member of the tenant's role (to dump it and end its sessions)."
                        : "Connect as the database owner or a superuser, member of "
                          "pg_signal_backend (to set the database read-only and end sessions).",
                    "role \"%s\" cannot freeze the tenant's writes", PQgetvalue(res, 0, 4));
    PQclear(res);
    if (cf_mig_execf(dst, &res, err,
                     "SELECT r.rolsuper OR r.rolcreatedb, r.rolsuper OR r.rolcreaterole, "
                     "has_database_privilege(current_database(), 'CREATE'), current_user, "
                     "r.rolsuper OR EXISTS (SELECT 1 FROM pg_roles t WHERE t.rolname = %L "
                     "AND pg_has_role(current_user, t.oid, 'MEMBER')) "
                     "FROM pg_roles r WHERE r.rolname = current_user",
                     p->role) != CF_OK)
        return err->code;
    if (t->dst_formula == CF_FORMULA_ONPREM) {
        ok = bool_text(res, 0, 0)[0] == 't' && (dst_role_exists || bool_text(res, 0, 1)[0] == 't');
        if (ok)
            cf_mig_find(p, "rights at the destination", CF_FINDING_OK, NULL,
                        "role \"%s\" can create database \"%s\"%s", PQgetvalue(res, 0, 3),
                        t->dst_db, dst_role_exists ? "" : " and the tenant's role");
        else
            cf_mig_find(p, "rights at the destination", CF_FINDING_BLOCKING,
                        "Connect to the destination as a role with CREATEDB and CREATEROLE.",
                        "role \"%s\" cannot create the tenant's database%s", PQgetvalue(res, 0, 3),
                        dst_role_exists ? "" : " or role");
    } else {
        ok = bool_text(res, 0, 2)[0] == 't' &&
             (dst_role_exists ? bool_text(res, 0, 4)[0] == 't' : bool_text(res, 0, 1)[0] == 't');
        if (ok)
            cf_mig_find(p, "rights at the destination", CF_FINDING_OK, NULL,
                        "role \"%s\" can create schema \"%s\" in \"%s\"%s", PQgetvalue(res, 0, 3),
                        t->dst_schema, t->dst_db, dst_role_exists ? "" : " and the tenant's role");
        else
            cf_mig_find(p, "rights at the destination", CF_FINDING_BLOCKING,
                        "Connect as the platform role: CREATE on the shared database, CREATEROLE, "
                        "and a member of the tenant's role.",
                        "role \"%s\" cannot create the tenant's schema in \"%s\"",
                        PQgetvalue(res, 0, 3), t->dst_db);
    }
    PQclear(res);
    return CF_OK;
}

static cf_err
plan_extensions(PGconn *src, PGconn *dst, const struct cf_mig_tenant *t, struct cf_migrate_plan *p,
                struct cf_error *err)
{
    PGresult *res = NULL, *av = NULL;
    char missing[600] = "", have[600] = "", inside[300] = "";
    size_t lm = 0, lh = 0, li = 0;

    if (cf_mig_extensions(src, t->src_schema, &res, err) != CF_OK)
        return err->code;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0), *version = PQgetvalue(res, i, 1);
        bool available = false;

        if (strcmp(PQgetvalue(res, i, 2), t->src_schema) == 0 && li < sizeof(inside) - 1)
            li += (size_t)snprintf(inside + li, sizeof(inside) - li, "%s%s", li ? ", " : "", name);
        if (cf_mig_execf(dst, &av, err,
                         "SELECT 1 FROM pg_available_extension_versions WHERE name = %L "
                         "AND version = %L",
                         name, version) != CF_OK) {
            PQclear(res);
            return err->code;
        }
        available = PQntuples(av) > 0;
        PQclear(av);
        if (!available && lm < sizeof(missing) - 1)
            lm += (size_t)snprintf(missing + lm, sizeof(missing) - lm, "%s%s %s", lm ? ", " : "",
                                   name, version);
        else if (available && lh < sizeof(have) - 1)
            lh += (size_t)snprintf(have + lh, sizeof(have) - lh, "%s%s %s", lh ? ", " : "", name,
                                   version);
    }
    PQclear(res);
    if (lm > 0)
        cf_mig_find(p, "extensions", CF_FINDING_BLOCKING,
                    "Install the extension's package (the same version) on the destination "
                    "server, then plan again.",
                    "not available at the destination: %s", missing);
    else if (li > 0)
        cf_mig_find(p, "extensions", CF_FINDING_BLOCKING,
                    "Move the extension out of the tenant's schema (ALTER EXTENSION ... SET "
                    "SCHEMA public): a schema dump does not carry extensions.",
                    "installed inside the tenant's schema: %s", inside);
    else
        cf_mig_find(p, "extensions", CF_FINDING_OK, NULL, "%s",
                    lh > 0 ? have : "the tenant uses none");
    return CF_OK;
}

static cf_err
plan_encoding(PGconn *src, PGconn *dst, const struct cf_mig_tenant *t, struct cf_migrate_plan *p,
              struct cf_error *err)
{
    static const char *q = "SELECT pg_encoding_to_char(encoding), datcollate, datctype "
                           "FROM pg_database WHERE datname = %L";
    PGresult *a = NULL, *b = NULL;
    cf_err rc;

    if ((rc = cf_mig_execf(src, &a, err, q, t->src_db)) != CF_OK)
        return rc;
    if (t->dst_formula == CF_FORMULA_ONPREM) {
        cf_mig_find(p, "encoding and collations", CF_FINDING_OK, NULL,
                    "database \"%s\" is created with the source's %s, LC_COLLATE %s, LC_CTYPE %s",
                    t->dst_db, PQgetvalue(a, 0, 0), PQgetvalue(a, 0, 1), PQgetvalue(a, 0, 2));
    } else if ((rc = cf_mig_execf(dst, &b, err, q, t->dst_db)) == CF_OK && PQntuples(b) > 0) {
        if (strcmp(PQgetvalue(a, 0, 0), PQgetvalue(b, 0, 0)) != 0)
            cf_mig_find(p, "encoding and collations", CF_FINDING_BLOCKING,
                        "Choose a shared database with the tenant's encoding.",
                        "source %s, destination %s", PQgetvalue(a, 0, 0), PQgetvalue(b, 0, 0));
        else if (strcmp(PQgetvalue(a, 0, 1), PQgetvalue(b, 0, 1)) != 0 ||
                 strcmp(PQgetvalue(a, 0, 2), PQgetvalue(b, 0, 2)) != 0)
            cf_mig_find(p, "encoding and collations", CF_FINDING_WARNING,
                        "Text sorts differently at the destination: check ORDER BY results and "
                        "rebuild indexes on text if needed.",
                        "collation %s/%s at the source, %s/%s at the destination",
                        PQgetvalue(a, 0, 1), PQgetvalue(a, 0, 2), PQgetvalue(b, 0, 1),
                        PQgetvalue(b, 0, 2));
        else
            cf_mig_find(p, "encoding and collations", CF_FINDING_OK, NULL, "%s, %s on both sides",
                        PQgetvalue(a, 0, 0), PQgetvalue(a, 0, 1));
    }
    PQclear(a);
    PQclear(b);
    return rc;
}

/* Role and database settings; what a schema rename leaves naming the old schema. */
static cf_err
plan_settings(PGconn *src, const struct cf_mig_tenant *t, struct cf_migrate_plan *p,
              struct cf_error *err)
{
    PGresult *res = NULL;
    char list[600];

    if (p->role[0] == '\0')
        return CF_OK;
    if (cf_mig_execf(src, &res, err,
                     "SELECT coalesce('in database ' || d.datname || ': ', '') || "
                     "array_to_string(s.setconfig, ', ') FROM pg_db_role_setting s "
                     "LEFT JOIN pg_database d ON d.oid = s.setdatabase "
                     "WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = %L) "
                     "AND (s.setdatabase = 0 OR d.datname = current_database()) ORDER BY 1",
                     p->role) != CF_OK)
        return err->code;
    join_column(res, 0, list, sizeof(list));
    cf_mig_find(p, "role settings", CF_FINDING_OK, NULL, "%s%s",
                PQntuples(res) ? "copied to the destination: " : "none", list);
    PQclear(res);
    if (t->src_formula == CF_FORMULA_ONPREM) {
        if (cf_mig_execf(src, &res, err,
                         "SELECT array_to_string(setconfig, ', ') FROM pg_db_role_setting "
                         "WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database "
                         "WHERE datname = current_database())") != CF_OK)
            return err->code;
        join_column(res, 0, list, sizeof(list));
        if (PQntuples(res) > 0 && t->dst_formula == CF_FORMULA_MANAGED)
            cf_mig_find(p, "database settings", CF_FINDING_WARNING,
                        "A shared database keeps its own settings: set what the tenant needs on "
                        "its role after the migration (ALTER ROLE ... SET).",
                        "not carried into the shared database: %s", list);
        else if (PQntuples(res) > 0)
            cf_mig_find(p, "database settings", CF_FINDING_OK, NULL,
                        "copied to the destination: %s", list);
        PQclear(res);
    }
    if (strcmp(t->src_schema, t->dst_schema) == 0)
        return CF_OK;
    if (cf_mig_execf(src, &res, err,
                     "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
                     "ON n.oid = p.pronamespace WHERE n.nspname = %L AND (p.prosrc LIKE "
                     "'%%' || %L || '%%' OR array_to_string(p.proconfig, ',') LIKE '%%' || %L "
                     "|| '%%') ORDER BY 1",
                     t->src_schema, t->src_schema, t->src_schema) != CF_OK)
        return err->code;
    join_column(res, 0, list, sizeof(list));
    if (PQntuples(res) > 0)
        cf_mig_find(p, "schema rename", CF_FINDING_WARNING,
                    "A rename changes the catalog, not function bodies: edit these functions "
                    "after the migration (views and role search_path are renamed by coffre).",
                    "functions whose body or settings name \"%s\": %s", t->src_schema, list);
    else
        cf_mig_find(p, "schema rename", CF_FINDING_OK, NULL,
                    "\"%s\" becomes \"%s\"; no function body names the old schema", t->src_schema,
                    t->dst_schema);
    PQclear(res);
    return CF_OK;
}

/* Objects outside the schema (and outside extensions) that the tenant's objects use. */
static cf_err
plan_outside(PGconn *src, const struct cf_mig_tenant *t, struct cf_migrate_plan *p,
             struct cf_error *err)
{
    PGresult *res = NULL;
    char list[600];

    if (cf_mig_execf(
            src, &res, err,
            "WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = %L), "
            "objs AS (SELECT 'pg_class'::regclass AS cl, c.oid FROM pg_class c, n "
            "  WHERE c.relnamespace = n.oid "
            "UNION ALL SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p, n "
            "  WHERE p.pronamespace = n.oid "
            "UNION ALL SELECT 'pg_type'::regclass, y.oid FROM pg_type y, n "
            "  WHERE y.typnamespace = n.oid "
            "UNION ALL SELECT 'pg_rewrite'::regclass, w.oid FROM pg_rewrite w "
            "  JOIN pg_class c ON c.oid = w.ev_class, n WHERE c.relnamespace = n.oid "
            "UNION ALL SELECT 'pg_attrdef'::regclass, d.oid FROM pg_attrdef d "
            "  JOIN pg_class c ON c.oid = d.adrelid, n WHERE c.relnamespace = n.oid), "
            "refs AS (SELECT DISTINCT d.refclassid, d.refobjid FROM pg_depend d "
            "  JOIN objs o ON d.classid = o.cl AND d.objid = o.oid WHERE d.deptype = 'n' "
            "  AND NOT EXISTS (SELECT 1 FROM pg_depend m WHERE m.classid = d.refclassid "
            "  AND m.objid = d.refobjid AND m.deptype = 'e')) "
            "SELECT DISTINCT CASE r.refclassid WHEN 'pg_class'::regclass THEN 'relation ' || "
            "  r.refobjid::regclass::text WHEN 'pg_proc'::regclass THEN 'function ' || "
            "  r.refobjid::regprocedure::text ELSE 'type ' || format_type(r.refobjid, NULL) END "
            "FROM refs r LEFT JOIN pg_class c ON r.refclassid = 'pg_class'::regclass "
            "  AND c.oid = r.refobjid "
            "LEFT JOIN pg_proc p ON r.refclassid = 'pg_proc'::regclass AND p.oid = r.refobjid "
            "LEFT JOIN pg_type y ON r.refclassid = 'pg_type'::regclass AND y.oid = r.refobjid "
            "WHERE coalesce(c.relnamespace, p.pronamespace, y.typnamespace) NOT IN "
            "  (SELECT oid FROM n UNION ALL SELECT 'pg_catalog'::regnamespace "
            "   UNION ALL SELECT 'information_schema'::regnamespace) ORDER BY 1",
            t->src_schema) != CF_OK)
        return err->code;
    join_column(res, 0, list, sizeof(list));
    if (PQntuples(res) > 0)
        cf_mig_find(p, "objects outside the schema", CF_FINDING_BLOCKING,
                    "The tenant's dump does not carry them and the restore would fail: move them "
                    "into the tenant's schema, or create them at the destination first.",
                    "%s", list);
    else
        cf_mig_find(p, "objects outside the schema", CF_FINDING_OK, NULL,
                    "the tenant uses nothing outside its schema but extensions and the catalog");
    PQclear(res);
    return CF_OK;
}

/* The destination database (onprem) or schema (managed) must not exist yet. */
static cf_err
plan_destination(PGconn *dst, const struct cf_mig_tenant *t, struct cf_migrate_plan *p,
                 bool *role_exists, struct cf_error *err)
{
    char *v = NULL;
    cf_err rc;

    *role_exists = false;
    if (p->role[0] != '\0') {
        if ((rc = cf_mig_value(dst, &v, err, "SELECT 1 FROM pg_roles WHERE rolname = %L",
                               p->role)) != CF_OK)
            return rc;
        *role_exists = v != NULL;
        free(v);
        v = NULL;
    }
    if (t->dst_formula == CF_FORMULA_ONPREM) {
        if ((rc = cf_mig_value(dst, &v, err, "SELECT 1 FROM pg_database WHERE datname = %L",
                               t->dst_db)) != CF_OK)
            return rc;
        if (v != NULL)
            cf_mig_find(p, "destination", CF_FINDING_BLOCKING,
                        "Name a new database in the destination conninfo (dbname=...), or drop "
                        "the existing one after checking it holds nothing to keep.",
                        "database \"%s\" already exists on the destination server", t->dst_db);
        else
            cf_mig_find(p, "destination", CF_FINDING_OK, NULL,
                        "database \"%s\" is created, owned by \"%s\"%s", t->dst_db, p->role,
                        *role_exists ? "" : " (a new role, without a password: set one)");
    } else {
        if (strcmp(t->src_schema, "public") == 0)
            cf_mig_find(p, "destination", CF_FINDING_BLOCKING,
                        "Rename the tenant's schema at the source first (ALTER SCHEMA public "
                        "RENAME TO tenant_x), or give a --schema-map that the source uses.",
                        "schema public cannot be restored into a shared database");
        else if ((rc = cf_mig_value(dst, &v, err,
                                    "SELECT 1 FROM pg_namespace WHERE nspname IN (%L, %L)",
                                    t->src_schema, t->dst_schema)) != CF_OK)
            return rc;
        else if (v != NULL)
            cf_mig_find(p, "destination", CF_FINDING_BLOCKING,
                        "Map the tenant to a free schema name with --schema-map, or drop the "
                        "schema after checking it holds nothing to keep.",
                        "schema \"%s\" already exists in database \"%s\"",
                        strcmp(t->src_schema, t->dst_schema) ? t->dst_schema : t->src_schema,
                        t->dst_db);
        else
            cf_mig_find(p, "destination", CF_FINDING_OK, NULL,
                        "schema \"%s\" is created in database \"%s\", owned by \"%s\"%s",
                        t->dst_schema, t->dst_db, p->role,
                        *role_exists ? "" : " (a new role, without a password: set one)");
    }
    free(v);
    return CF_OK;
}

/* Roles the tenant's grants name besides its own: the restore needs them. */
static cf_err
plan_roles(PGconn *src, PGconn *dst, const struct cf_mig_tenant *t, struct cf_migrate_plan *p,
           struct cf_error *err)
{
    PGresult *res = NULL;
    char missing[600] = "", all[600] = "";
    size_t lm = 0, la = 0;

    if (p->role[0] == '\0')
        return CF_OK;
    if (cf_mig_execf(src, &res, err,
                     "WITH n AS (SELECT oid, nspacl FROM pg_namespace WHERE nspname = %L), "
                     "acls AS (SELECT nspacl AS acl FROM n "
                     "UNION ALL SELECT c.relacl FROM pg_class c, n WHERE c.relnamespace = n.oid "
                     "UNION ALL SELECT p.proacl FROM pg_proc p, n WHERE p.pronamespace = n.oid "
                     "UNION ALL SELECT y.typacl FROM pg_type y, n WHERE y.typnamespace = n.oid) "
                     "SELECT DISTINCT r.rolname FROM acls, aclexplode(acls.acl) x "
                     "JOIN pg_roles r ON r.oid = x.grantee WHERE acls.acl IS NOT NULL "
                     "AND r.rolname <> %L ORDER BY 1",
                     t->src_schema, p->role) != CF_OK)
        return err->code;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0);
        char *v = NULL;

        if (cf_mig_value(dst, &v, err, "SELECT 1 FROM pg_roles WHERE rolname = %L", name) !=
            CF_OK) {
            PQclear(res);
            return err->code;
        }
        if (la < sizeof(all) - 1)
            la += (size_t)snprintf(all + la, sizeof(all) - la, "%s%s", la ? ", " : "", name);
        if (v == NULL && lm < sizeof(missing) - 1)
            lm += (size_t)snprintf(missing + lm, sizeof(missing) - lm, "%s%s", lm ? ", " : "",
                                   name);
        free(v);
    }
    PQclear(res);
    if (lm > 0)
        cf_mig_find(p, "roles", CF_FINDING_BLOCKING,
                    "Create these roles at the destination first (the tenant grants them "
                    "rights; the restore of those grants would fail).",
                    "missing at the destination: %s", missing);
    else
        cf_mig_find(p, "roles", CF_FINDING_OK, NULL, "the tenant's role%s%s", la ? ", and " : "",
                    la ? all : "; no other role is granted anything");
    return CF_OK;
}

/* Free space where the destination keeps its data, when this host can see it. */
static cf_err
plan_space(PGconn *dst, struct cf_migrate_plan *p, struct cf_error *err)
{
    char *dir = NULL;
    struct statvfs sv;
    cf_err rc;

    if ((rc = cf_mig_value(dst, &dir, err,
                           "SELECT setting FROM pg_settings "
                           "WHERE name = 'data_directory'")) != CF_OK)
        return rc;
    if (dir == NULL || statvfs(dir, &sv) != 0) {
        cf_mig_find(p, "free space", CF_FINDING_WARNING,
                    "Check that the destination has room for the tenant and its indexes.",
                    "unknown: %s",
                    dir == NULL ? "the destination does not show its data "
                                  "directory to this role"
                                : "its data directory is on another host");
    } else {
        uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
        uint64_t need = p->tenant_bytes + p->tenant_bytes / 5;

        cf_mig_find(p, "free space", avail < need ? CF_FINDING_BLOCKING : CF_FINDING_OK,
                    avail < need ? "Free space at the destination, then plan again." : NULL,
                    "%llu MiB free in %s for a tenant of %llu MiB (+20 %%)",
                    (unsigned long long)(avail >> 20), dir,
                    (unsigned long long)(p->tenant_bytes >> 20));
    }
    free(dir);
    return CF_OK;
}

/* Freeze time from the newest complete backup's measured throughput. */
static void
plan_predict(const struct cf_migrate_opts *o, struct cf_migrate_plan *p)
{
    struct cf_backup_entry *v = NULL;
    size_t n = 0;
    struct cf_error e = CF_ERROR_INIT;

    p->predicted_freeze_s = -1;
    if (o->repo == NULL || cf_repo_list_backups(o->repo, &v, &n, &e) != CF_OK)
        return;
    for (size_t i = n; i-- > 0;) {
        struct cf_manifest *m = NULL;
        double secs, rate;
        uint64_t plain;

        if (!v[i].has_manifest || cf_repo_read_manifest(o->repo, v[i].id, &m, &e) != CF_OK)
            continue;
        secs = (double)(m->stop_time - m->start_time);
        if (secs < 1)
            secs = 1; /* whole seconds: a small backup "took" 0 s */
        plain = cf_manifest_plain_bytes(m);
        if (strcmp(m->kind ? m->kind : "logical", "logical") == 0 && plain > 0) {
            rate = (double)plain / secs;
            /* the dump, the restore (about twice the dump: data and indexes) and the
             * verification (one read of each side, in parallel) */
            p->predicted_freeze_s = 4.0 * (double)p->tenant_bytes / rate + 5.0;
            (void)snprintf(p->predicted_from, sizeof(p->predicted_from),
                           "backup %s dumped %.1f MiB/s; freeze = 4 x size / rate + 5 s "
                           "(dump, restore with indexes, verify)",
                           m->id, rate / 1048576.0);
            cf_manifest_free(m);
            break;
        }
        cf_manifest_free(m);
    }
    free(v);
    if (p->predicted_freeze_s < 0)
        (void)snprintf(p->predicted_from, sizeof(p->predicted_from),
                       "no complete logical backup to measure from");
}

cf_err
cf_mig_plan(const struct cf_migrate_opts *o, const struct cf_mig_tenant *t,
            struct cf_migrate_plan *p, struct cf_error *err)
{
    PGconn *src = NULL, *dst = NULL;
    bool role_exists = false;
    cf_err rc;

    if ((rc = cf_mig_connect(t->src_conninfo, NULL, &src, err)) != CF_OK) {
        cf_error_context(err, "the migration's source");
        return rc;
    }
    rc = cf_mig_connect(t->dst_conninfo, t->dst_formula == CF_FORMULA_ONPREM ? "postgres" : NULL,
                        &dst, err);
    if (rc != CF_OK)
        cf_error_context(err, "the migration's destination");
    if (rc == CF_OK)
        rc = plan_tenant(src, t, p, err);
    if (rc == CF_OK)
        rc = plan_versions(src, dst, p);
    if (rc == CF_OK)
        rc = plan_destination(dst, t, p, &role_exists, err);
    if (rc == CF_OK)
        rc = plan_rights(src, dst, t, p, role_exists, err);
    if (rc == CF_OK)
        rc = plan_roles(src, dst, t, p, err);
    if (rc == CF_OK)
        rc = plan_extensions(src, dst, t, p, err);
    if (rc == CF_OK)
        rc = plan_encoding(src, dst, t, p, err);
    if (rc == CF_OK)
        rc = plan_settings(src, t, p, err);
    if (rc == CF_OK)
        rc = plan_outside(src, t, p, err);
    if (rc == CF_OK)
        rc = plan_space(dst, p, err);
    if (rc == CF_OK)
        plan_predict(o, p);
    PQfinish(src);
    PQfinish(dst);
    return rc;
}
