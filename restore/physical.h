/*
 * physical.h - `coffre restore --physical`: a base backup into a new data
 * directory, set up for point-in-time recovery through `coffre wal-get`.
 */
#ifndef CF_RESTORE_PHYSICAL_H
#define CF_RESTORE_PHYSICAL_H

#include "common/config.h"
#include "storage/repo.h"

extern const char cf_restore_physical_usage[];

/* argv[0] is "restore"; "--physical" is among the options. */
cf_err cf_cmd_restore_physical(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                               char **argv, struct cf_error *err);

#endif
