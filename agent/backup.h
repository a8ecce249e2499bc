/*
 * backup.h - `coffre backup`: logical backups through the pipeline.
 */
#ifndef CF_BACKUP_H
#define CF_BACKUP_H

#include <stdbool.h>

#include "common/config.h"
#include "storage/repo.h"

struct cf_backup_options {
    const char *db;          /* --db NAME, or NULL for the configured set */
    bool json;               /* print the manifest summary as JSON */
    const char *version;     /* coffre's version string, for the manifest */
};

/* Run a backup; on success prints the backup id (or JSON) on stdout.  On
 * failure no manifest is written and the objects written so far are removed. */
cf_err cf_cmd_backup(const struct cf_config *cfg, const struct cf_repo *repo,
                     const struct cf_backup_options *opts, struct cf_error *err);

/*
 * Shared with backup --physical.  From m->start_time: a fresh backup id into
 * id (CF_OBJECT_ID_MAX + 1 bytes), the GFS class (m->retention_class,
 * m->expires) and, on Object Lock storage, m->lock_until, also set as
 * repo->retain_until so that every object of this backup carries it.
 */
cf_err cf_backup_choose_id(const struct cf_config *cfg, struct cf_repo *repo,
                           struct cf_manifest *m, char *id, struct cf_error *err);
/* Remove the objects m lists (a failed backup's), best effort: silent on
 * WORM storage, where prune removes them once their lock expires. */
void cf_backup_remove_partial(const struct cf_repo *repo, const struct cf_manifest *m,
                              const char *id);

#endif
