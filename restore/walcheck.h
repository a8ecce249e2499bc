/*
 * walcheck.h - WAL continuity in the repository: `coffre verify --wal`, and
 * the check restore --physical makes before it promises a recovery target.
 */
#ifndef CF_WALCHECK_H
#define CF_WALCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/manifest.h"
#include "storage/repo.h"

/* One physical backup's WAL, from its start to the newest segment recovery would reach. */
struct cf_verify_wal_item {
    char id[CF_OBJECT_ID_MAX + 1];
    bool ok;
    char wal_start[32], newest[32];   /* segment names */
    unsigned timeline;                /* the timeline recovery would follow */
    uint64_t missing_segments;
    struct cf_error error;            /* the first gap, when not ok */
};

struct cf_verify_wal_result {
    struct cf_verify_wal_item *items;
    size_t n, n_failed;
};

/*
 * `verify --wal`: the WAL continuity of every complete physical backup.
 * CF_OK when every one is continuous; else the first gap's error
 * (CF_ERR_NOT_FOUND), with res filled all the same; CF_ERR_NOT_FOUND when
 * there is no physical backup.
 */
cf_err cf_verify_wal_run(const struct cf_repo *repo, struct cf_verify_wal_result *res,
                         struct cf_error *err);
void cf_verify_wal_result_clear(struct cf_verify_wal_result *res);

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
