/*
 * drill_int.h - what the parts of the drill engine share: drill.c
 * (orchestration, choice of backups, records, clean-up), drill_logical.c
 * (simple, partial), drill_physical.c (total, pitr) and drill_checks.c (the
 * checks run on a restored server).  Not for other modules.
 */
#ifndef CF_RESTORE_DRILL_INT_H
#define CF_RESTORE_DRILL_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/manifest.h"
#include "restore/cluster.h"
#include "restore/drill.h"

/* One operator check of [drill] check_sql. */
struct cf_drill_sql {
    char name[128];         /* "-- name: ..." before it, else "sql N" */
    char database[64];      /* "-- database: ..." in force, else "" (the default database) */
    char *query;            /* owned */
};

/*
 * Parse the operator checks: statements ended by ";" at the end of a line;
 * "-- name: TEXT" names the next one, "-- database: NAME" sets the database
 * of the next ones; other comments and blank lines are ignored.  what names
 * the file in messages (CF_ERR_CONFIG with FILE:LINE).
 */
cf_err cf_drill_sql_parse(const char *what, const char *text, struct cf_drill_sql **out,
                          size_t *n, struct cf_error *err);
void cf_drill_sql_free(struct cf_drill_sql *v, size_t n);

/* Where a scenario restores: a server, and how restored databases are named there. */
struct cf_drill_server {
    struct cf_cluster *cluster;      /* a scratch server coffre runs; NULL: staging */
    const char *conninfo;            /* staging: [drill] target (dbname replaced) */
    char prefix[48];                 /* staging: "coffre_drill_<hex>_"; scratch: "" */
    char **created;                  /* databases made here, dropped at the end (staging) */
    size_t n_created;
};

struct cf_drill {
    const struct cf_drill_opts *o;
    struct cf_drill_result *res;
    int64_t start;                   /* epoch seconds */
    char workdir[PATH_MAX];
    bool made_workdir;
    struct cf_drill_server logical;  /* the logical scenarios' server */
    bool has_logical_server;
    struct cf_cluster *physical[2];  /* total, pitr: kept to the end with --keep */
    struct cf_drill_sql *sql;        /* operator checks */
    size_t n_sql;
};

/* Add a check to sr; detail is printf-like.  Out of memory drops it (logged). */
void cf_drill_check(struct cf_drill_scenario_result *sr, const char *name,
                    enum cf_check_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The phase callback, and a debug log line. */
void cf_drill_phase(const struct cf_drill *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Seconds of a monotonic clock. */
double cf_drill_now(void);
/* The RTO and RPO checks of a scenario against their targets. */
void cf_drill_check_targets(const struct cf_drill *d, struct cf_drill_scenario_result *sr,
                            bool check_rpo);

/* drill_logical.c: simple and/or partial from logical backup m. */
cf_err cf_drill_logical(struct cf_drill *d, const struct cf_manifest *m, unsigned scenarios,
                        struct cf_error *err);
/* drill_physical.c: total and/or pitr from physical backup m. */
cf_err cf_drill_physical(struct cf_drill *d, const struct cf_manifest *m, unsigned scenarios,
                         struct cf_error *err);

/* drill_checks.c: checks on a restored database.  label names it in check names
 * ("app"); conn is connected to it. */
void cf_drill_check_rows(struct cf_drill_scenario_result *sr, PGconn *conn, const char *label,
                         const struct cf_manifest_object *o, const char *only_table);
void cf_drill_check_content(struct cf_drill_scenario_result *sr, PGconn *conn,
                            const char *label, const struct cf_manifest_object *o);
void cf_drill_check_indexes(struct cf_drill_scenario_result *sr, PGconn *conn,
                            const char *label);
/* pg_amcheck (heap, B-tree with --heapallindexed) of the database conninfo names. */
void cf_drill_check_amcheck(const struct cf_drill *d, struct cf_drill_scenario_result *sr,
                            const char *conninfo, const char *label, int pg_version_num);
/* The operator checks; database_of maps a check's database to a connection string
 * (NULL: not restored in this scenario, the check is skipped). */
void cf_drill_check_sql(const struct cf_drill *d, struct cf_drill_scenario_result *sr,
                        char *(*conninfo_of)(void *arg, const char *database), void *arg);

#endif
