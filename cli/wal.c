/*
 * wal.c - `coffre wal-push`, `coffre wal-get` and `coffre wal-stream`
 * (agent/wal.h, agent/walstream.h).
 */
#include "agent/wal.h"
#include "agent/walstream.h"
#include "cli/cli.h"
#include "cli/commands.h"

cf_err
cf_cli_wal_push(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    return cf_cmd_wal_push(run->ctx->cfg, &run->ctx->repo, argc, argv, err);
}

cf_err
cf_cli_wal_get(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    return cf_cmd_wal_get(run->ctx->cfg, &run->ctx->repo, argc, argv, &run->wal_missing, err);
}

cf_err
cf_cli_wal_stream(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    return cf_cmd_wal_stream(run->ctx->cfg, &run->ctx->repo, argc, argv, err);
}
