/*
 * backup.h - the logical backup engine: pg_dump of each database (or of the
 * managed tenant's schema) through the pipeline, the globals, and the
 * manifest, written last.  Any failure stops the backup before the manifest,
 * so it is never listed as complete; the objects already written are removed
 * (best effort: a WORM repository keeps them until prune).
 */
#ifndef CF_BACKUP_H
#define CF_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "storage/repo.h"

struct cf_backup_opts {
    const struct cf_repo *repo;
    const char *instance;                    /* [coffre] instance */
    enum cf_formula formula;                 /* [coffre] formula */
    const struct cf_pg_conf *pg;             /* [postgres]: whom to dump */
    const struct cf_backup_conf *backup;     /* [backup] */
    const struct cf_retention_conf *retention; /* [retention]: class and lock date */
    const char *db;                          /* one database instead of the configured set */
    const char *version;                     /* coffre's version, for the manifest */
};

/* What a completed backup (logical or physical) holds. */
struct cf_backup_result {
    char id[CF_OBJECT_ID_MAX + 1];
    char kind[16];                           /* "logical" or "physical" */
    char retention_class[16];                /* daily, weekly, monthly */
    int64_t start_time, stop_time;
    int64_t lock_until;                      /* 0: no Object Lock */
    size_t n_objects;
    uint64_t plain_bytes, compressed_bytes, stored_bytes;
    /* physical only */
    char start_lsn[24], stop_lsn[24];
    unsigned timeline;
    char wal_start[25], wal_stop[25];        /* the WAL segments it needs */
    bool from_standby;
};

/* Run a backup; res is filled on success. */
cf_err cf_backup_run(const struct cf_backup_opts *opts, struct cf_backup_result *res,
                     struct cf_error *err);

/*
 * Shared with backup --physical.  From m->start_time: a fresh backup id into
 * id (CF_OBJECT_ID_MAX + 1 bytes), the GFS class (m->retention_class,
 * m->expires) and, on Object Lock storage, m->lock_until, also set as
 * repo->retain_until so that every object of this backup carries it.
 */
cf_err cf_backup_choose_id(const struct cf_retention_conf *retention, struct cf_repo *repo,
                           struct cf_manifest *m, char *id, struct cf_error *err);
/* Remove the objects m lists (a failed backup's), best effort: silent on
 * WORM storage, where prune removes them once their lock expires. */
void cf_backup_remove_partial(const struct cf_repo *repo, const struct cf_manifest *m,
                              const char *id);
/* The result's totals and times from a completed backup's manifest. */
void cf_backup_result_fill(const struct cf_manifest *m, struct cf_backup_result *res);

#endif
