/*
 * walcheck.h - WAL continuity in the repository: `coffre verify --wal`, and
 * the check restore --physical makes before it promises a recovery target.
 */
#ifndef CF_WALCHECK_H
#define CF_WALCHECK_H

#include <stdint.h>

#include "common/config.h"
#include "common/manifest.h"
#include "storage/repo.h"

extern const char cf_verify_wal_usage[];

/* argv[0] is "verify"; "--wal" is among the options. */
cf_err cf_cmd_verify_wal(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                         char **argv, struct cf_error *err);

/*
 * Check that the repository holds every WAL segment that recovery from
 * physical backup m needs: from m's wal_start on its timeline through to
 * target_lsn (0: through to the newest segment of the newest timeline that
 * descends from m's timeline, following the history files).  The first
 * missing segment is named in the error (CF_ERR_NOT_FOUND).
 */
cf_err cf_walcheck_for_restore(const struct cf_repo *r, const struct cf_manifest *m,
                               uint64_t target_lsn, struct cf_error *err);

#endif
