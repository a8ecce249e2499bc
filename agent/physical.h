/*
 * physical.h - `coffre backup --physical`: a base backup over the
 * replication protocol (BASE_BACKUP), one tar object per tablespace, the
 * server's backup_manifest, and the WAL range it needs.
 */
#ifndef CF_PHYSICAL_H
#define CF_PHYSICAL_H

#include "common/config.h"
#include "agent/backup.h"
#include "storage/repo.h"

struct cf_backup_physical_opts {
    const struct cf_repo *repo;
    const char *instance;                      /* [coffre] instance */
    enum cf_formula formula;                   /* must be onprem */
    const struct cf_pg_conf *pg;               /* [postgres] conninfo (replication=true added) */
    const struct cf_retention_conf *retention; /* class and lock date */
    int64_t archive_timeout;                   /* [wal] archive_timeout: wait for the WAL */
    const char *version;                       /* coffre's version, for the manifest */
};

/* Run a base backup; res is filled on success (agent/backup.h). */
cf_err cf_backup_physical_run(const struct cf_backup_physical_opts *opts,
                              struct cf_backup_result *res, struct cf_error *err);

#endif
