/*
 * dump.h - one database (or one schema) through pg_dump into the repository.
 */
#ifndef CF_DUMP_H
#define CF_DUMP_H

#include <stdbool.h>

#include "common/manifest.h"
#include "storage/repo.h"

struct cf_dump_job {
    const struct cf_repo *repo;
    const char *backup_id;
    const char *object_name;   /* e.g. "db/app.dump" */
    const char *conninfo;      /* postgres.conninfo */
    const char *database;
    const char *schema;        /* managed formula: pg_dump --schema, else NULL */
    const char *bindir;        /* postgres.bindir or NULL */
    bool row_counts;           /* backup.row_counts */
};

/* Dump; on success fills o's sizes, digest and row counts (not name/kind). */
cf_err cf_dump_database(const struct cf_dump_job *job, struct cf_manifest_object *o,
                        struct cf_error *err);

#endif
