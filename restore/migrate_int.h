/*
 * migrate_int.h - what the migration's files share: the run's state, the
 * side connections and the SQL helpers (not an API).
 */
#ifndef CF_RESTORE_MIGRATE_INT_H
#define CF_RESTORE_MIGRATE_INT_H

#include <stdarg.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "restore/migrate.h"

/* The tenant as both sides name it. */
struct cf_mig_tenant {
    enum cf_formula src_formula, dst_formula;
    const char *src_conninfo, *dst_conninfo;
    char src_db[64], dst_db[64];
    char src_schema[64], dst_schema[64];
    char role[64];
};

/* Open a session on one side with the settings that make text output comparable
 * (UTC, ISO dates, exact floats, hex bytea, names schema-qualified). */
cf_err cf_mig_connect(const char *conninfo, const char *dbname, PGconn **out, struct cf_error *err);
/* sql with %I (identifier) and %L (literal) from the arguments, then run; CF_ERR_PG names what. */
cf_err cf_mig_execf(PGconn *conn, PGresult **out, struct cf_error *err, const char *fmt, ...);
/* The first value of the first row (malloc'd), or NULL without a row. */
cf_err cf_mig_value(PGconn *conn, char **out, struct cf_error *err, const char *fmt, ...);

/* plan (migrate_plan.c) */
void cf_mig_find(struct cf_migrate_plan *p, const char *name, enum cf_finding_level level,
                 const char *hint, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
cf_err cf_mig_plan(const struct cf_migrate_opts *o, const struct cf_mig_tenant *t,
                   struct cf_migrate_plan *p, struct cf_error *err);
/* The extensions the tenant's objects use (name, version, schema), on conn. */
cf_err cf_mig_extensions(PGconn *conn, const char *schema, PGresult **out, struct cf_error *err);

/* verify (migrate_verify.c): every check into res; CF_ERR_CHECK at the first failing one
 * (after running them all), res->mismatch naming it. */
cf_err cf_mig_verify(const struct cf_mig_tenant *t, struct cf_migrate_result *res,
                     struct cf_error *err);
void cf_mig_check(struct cf_migrate_result *res, const char *name, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
