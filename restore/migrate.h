/*
 * migrate.h - the migration engine (`coffre migrate`, docs/migration.md):
 * one tenant (a schema, its owner role, its data) moved between the two
 * hosting formulas, planned, verified and reversible.
 *
 *   plan      read-only preflight: can the move work, how long will writes be
 *             frozen; every finding ok, warning or blocking with a hint
 *   run       plan again; freeze the source's writes; take a final coffre
 *             backup of the tenant (a normal, encrypted, locked backup);
 *             restore it into the destination; copy the role settings;
 *             verify both sides table by table; stop at the cut-over point
 *             (state ready), where the application's connection string is
 *             switched (the hook runs the switch)
 *   finalize  after cut-over: a first backup of the destination (the
 *             caller's callback), then the source schema and role are dropped
 *             (managed) or the source database renamed (onprem; dropped with
 *             drop)
 *   rollback  from any state before finalize: remove what the migration
 *             created at the destination, unfreeze the source
 *
 * Every step is journalled in <state_dir>/migrate/<id>.json before and after
 * it runs (and a copy is stored with the final backup as a "migrate-" record),
 * so an interrupted run resumes from the last step that ended, and rollback
 * works from any step.  A lock (<state_dir>/migrate/<schema>.lock) refuses two
 * migrations of one tenant at once.
 *
 * Each side is reached with one conninfo naming its database: managed, the
 * shared database, as a platform role that may ALTER the tenant's role
 * (CREATEROLE) and is a member of it; onprem, the tenant's database (at the
 * destination: the database to create), as a role that may create databases
 * and roles.  Passwords come from .pgpass, never from the conninfo.
 */
#ifndef CF_RESTORE_MIGRATE_H
#define CF_RESTORE_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "storage/repo.h"

/* One side of a migration. */
struct cf_migrate_side {
    enum cf_formula formula;
    const char *conninfo; /* with dbname (see above) */
    const char *schema;   /* the tenant's schema on this side */
};

enum cf_migrate_state {
    CF_MIG_PLANNED = 0,
    CF_MIG_FROZEN,      /* the source refuses the tenant's writes */
    CF_MIG_BACKED_UP,   /* the final backup is complete */
    CF_MIG_RESTORED,    /* the destination holds it, with the role settings */
    CF_MIG_VERIFIED,    /* both sides proved equal */
    CF_MIG_READY,       /* the cut-over point: the application may switch */
    CF_MIG_FINALIZED,   /* the destination backed up, the source removed */
    CF_MIG_ROLLED_BACK, /* the source writable again, the destination clean */
    CF_MIG_STATES
};
const char *cf_migrate_state_name(enum cf_migrate_state s);
/* -1 if name is no state */
int cf_migrate_state_parse(const char *name);

enum cf_finding_level { CF_FINDING_OK = 0, CF_FINDING_WARNING, CF_FINDING_BLOCKING };
const char *cf_finding_level_name(enum cf_finding_level l);

struct cf_migrate_finding {
    char name[64]; /* "server versions", "extensions", "large objects"... */
    enum cf_finding_level level;
    char detail[1024];
    char hint[512];
};

struct cf_migrate_plan {
    struct cf_migrate_finding *findings;
    size_t n, cap;
    size_t blocking, warnings;
    int source_version, dest_version; /* server_version_num */
    char role[64];                    /* the tenant's role: the source schema's owner */
    uint64_t tenant_bytes;            /* the schema's relations, on disk at the source */
    size_t tables, tables_without_pk;
    double predicted_freeze_s; /* freeze to verified; < 0: unknown */
    char predicted_from[256];  /* what the prediction rests on */
};

/* The caller's way to back up the destination (finalize): it opens the
 * destination's own configuration, takes a logical backup and drills it
 * unless skip_drill; the backup's id into id. */
typedef cf_err (*cf_migrate_dest_backup_fn)(void *ctx, bool skip_drill, char *id, size_t size,
                                            struct cf_error *err);

struct cf_migrate_opts {
    const struct cf_repo *repo;                /* the source's repository and keys */
    const char *instance;                      /* the source instance (its backups) */
    const char *state_dir;                     /* [coffre] state_dir: journal and lock */
    const struct cf_pg_conf *pg;               /* the source [postgres] (bindir) */
    const struct cf_backup_conf *backup;       /* the final backup's [backup] */
    const struct cf_retention_conf *retention; /* its class and lock date */
    const char *version;                       /* coffre's */
    struct cf_migrate_side source, dest;       /* plan, and run of a new migration */
    const char *id;                            /* run (resume), rollback, finalize: the
                                                  migration; NULL: the tenant's open one */
    const char *hook;                          /* run: a shell command run at the cut-over
                                                  point with COFFRE_MIGRATE_CONNINFO set */
    int until;                                 /* run: stop after this state; -1: ready */
    bool force;                                /* rollback after cut-over */
    bool drop;                                 /* finalize: drop the onprem source database */
    bool skip_drill;                           /* finalize: no drill of the destination */
    cf_migrate_dest_backup_fn dest_backup;     /* finalize */
    void *dest_backup_ctx;
};

struct cf_migrate_step {
    enum cf_migrate_state state;
    int64_t start, end; /* end 0: it did not end */
    char note[256];
};

struct cf_migrate_check {
    char name[128]; /* "rows tenant_acme.orders", "sequences"... */
    bool ok;
    char detail[512];
};

struct cf_migrate_result {
    char id[96];
    enum cf_migrate_state state;
    char source_schema[64], dest_schema[64], role[64];
    char source_db[64], dest_db[64];
    enum cf_formula source_formula, dest_formula;
    struct cf_migrate_plan plan;
    struct cf_migrate_step steps[CF_MIG_STATES];
    size_t n_steps;
    struct cf_migrate_check *checks;
    size_t n_checks, cap_checks;
    char backup_id[CF_OBJECT_ID_MAX + 1];      /* the final backup */
    char dest_backup_id[CF_OBJECT_ID_MAX + 1]; /* finalize: the destination's first backup */
    int64_t freeze_start, freeze_end;          /* writes refused: from, until verified */
    uint64_t bytes_moved;                      /* the final backup's plain bytes */
    double verify_s;
    char new_conninfo[1024]; /* what the application switches to */
    char mismatch[700];      /* verify: the first difference */
    char source_kept_as[64]; /* finalize onprem: the renamed database */
};

cf_err cf_migrate_plan_run(const struct cf_migrate_opts *o, struct cf_migrate_result *res,
                           struct cf_error *err);
/* CF_ERR_CHECK when verification found a difference (res->mismatch). */
cf_err cf_migrate_run(const struct cf_migrate_opts *o, struct cf_migrate_result *res,
                      struct cf_error *err);
cf_err cf_migrate_finalize(const struct cf_migrate_opts *o, struct cf_migrate_result *res,
                           struct cf_error *err);
cf_err cf_migrate_rollback(const struct cf_migrate_opts *o, struct cf_migrate_result *res,
                           struct cf_error *err);
/* Every migration journalled in state_dir, oldest first. */
cf_err cf_migrate_status(const char *state_dir, struct cf_migrate_result **out, size_t *n,
                         struct cf_error *err);
void cf_migrate_result_clear(struct cf_migrate_result *res);

#endif
