/*
 * wal.c - `coffre wal-push` and `coffre wal-get` (see wal.h).
 */
#include "agent/wal.h"

const char cf_wal_push_usage[] = "Usage: coffre wal-push PATH\n";
const char cf_wal_get_usage[] = "Usage: coffre wal-get NAME PATH\n";

cf_err
cf_cmd_wal_push(const struct cf_config *cfg, const struct cf_repo *repo, int argc, char **argv,
                struct cf_error *err)
{
    (void)cfg, (void)repo, (void)argc, (void)argv;
    return cf_error_set(err, CF_ERR_USAGE, "wal-push is not implemented yet");
}

cf_err
cf_cmd_wal_get(const struct cf_config *cfg, const struct cf_repo *repo, int argc, char **argv,
               struct cf_error *err)
{
    (void)cfg, (void)repo, (void)argc, (void)argv;
    return cf_error_set(err, CF_ERR_USAGE, "wal-get is not implemented yet");
}
