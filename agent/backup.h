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

#endif
