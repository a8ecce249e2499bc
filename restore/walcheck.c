/*
 * walcheck.c - WAL continuity (see walcheck.h).
 */
#include "restore/walcheck.h"

const char cf_verify_wal_usage[] = "Usage: coffre verify --wal [--json]\n";

cf_err
cf_cmd_verify_wal(const struct cf_config *cfg, const struct cf_repo *repo, int argc, char **argv,
                  struct cf_error *err)
{
    (void)cfg, (void)repo, (void)argc, (void)argv;
    return cf_error_set(err, CF_ERR_USAGE, "verify --wal is not implemented yet");
}

cf_err
cf_walcheck_for_restore(const struct cf_repo *r, const struct cf_manifest *m, uint64_t target_lsn,
                        struct cf_error *err)
{
    (void)r, (void)m, (void)target_lsn, (void)err;
    return CF_OK;
}
