/*
 * physical.c - `coffre backup --physical` (see physical.h).
 */
#include "agent/physical.h"

const char cf_backup_physical_usage[] =
    "Usage: coffre backup --physical [--json]\n";

cf_err
cf_cmd_backup_physical(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                       char **argv, const char *version, struct cf_error *err)
{
    (void)cfg, (void)repo, (void)argc, (void)argv, (void)version;
    return cf_error_set(err, CF_ERR_USAGE, "backup --physical is not implemented yet");
}
