/*
 * walstream.c - `coffre wal-stream` (see walstream.h).
 */
#include "agent/walstream.h"

const char cf_wal_stream_usage[] = "Usage: coffre wal-stream\n";

cf_err
cf_cmd_wal_stream(const struct cf_config *cfg, const struct cf_repo *repo, int argc, char **argv,
                  struct cf_error *err)
{
    (void)cfg, (void)repo, (void)argc, (void)argv;
    return cf_error_set(err, CF_ERR_USAGE, "wal-stream is not implemented yet");
}
