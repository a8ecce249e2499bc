/*
 * physical.c - `coffre restore --physical` (see physical.h).
 */
#include "restore/physical.h"

const char cf_restore_physical_usage[] =
    "Usage: coffre restore --physical [ID | --latest] --pgdata DIR [TARGET]\n";

cf_err
cf_cmd_restore_physical(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                        char **argv, struct cf_error *err)
{
    (void)cfg, (void)repo, (void)argc, (void)argv;
    return cf_error_set(err, CF_ERR_USAGE, "restore --physical is not implemented yet");
}
