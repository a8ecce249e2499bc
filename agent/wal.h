/*
 * wal.h - `coffre wal-push` (archive_command) and `coffre wal-get`
 * (restore_command).
 */
#ifndef CF_WAL_H
#define CF_WAL_H

#include <stdbool.h>

#include "common/config.h"
#include "storage/repo.h"

extern const char cf_wal_push_usage[];
extern const char cf_wal_get_usage[];

/* argv[0] is the command name. */
cf_err cf_cmd_wal_push(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                       char **argv, struct cf_error *err);
/* *missing true (with CF_ERR_NOT_FOUND and err cleared) when the file is simply not in the
 * repository: restore_command then exits 1.  Every other failure must stop recovery:
 * coffre.c exits 200 + the class status for wal-get (PostgreSQL stops only above 125). */
cf_err cf_cmd_wal_get(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                      char **argv, bool *missing, struct cf_error *err);

#endif
