/*
 * physical.h - `coffre backup --physical`: a base backup over the
 * replication protocol (BASE_BACKUP), one tar object per tablespace, the
 * server's backup_manifest, and the WAL range it needs.
 */
#ifndef CF_PHYSICAL_H
#define CF_PHYSICAL_H

#include "common/config.h"
#include "storage/repo.h"

extern const char cf_backup_physical_usage[];

/* argv[0] is "backup"; "--physical" is among the options. */
cf_err cf_cmd_backup_physical(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                              char **argv, const char *version, struct cf_error *err);

#endif
