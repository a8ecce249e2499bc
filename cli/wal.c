/*
 * wal.c - `coffre wal-push`, `coffre wal-get` and `coffre wal-stream`
 * (agent/wal.h, agent/walstream.h).
 */
#include <getopt.h>
#include <stdlib.h>

#include "agent/wal.h"
#include "agent/walstream.h"
#include "cli/cli.h"
#include "cli/commands.h"

const char cf_cli_wal_push_usage[] =
    "Usage: coffre wal-push PATH\n"
    "\n"
    "archive_command = 'coffre -c CONF wal-push %p'.  Stores the WAL file PATH\n"
    "(a segment, a .partial, a .history or a .backup file) in the repository and\n"
    "exits 0 only once it is durable there.  With [wal] async = true, it also\n"
    "keeps [wal] push_jobs - 1 other ready segments being pushed in the\n"
    "background, and later answers for them from their records (docs/wal.md).\n";
const char cf_cli_wal_get_usage[] =
    "Usage: coffre wal-get NAME PATH\n"
    "\n"
    "restore_command = 'coffre -c CONF wal-get %f %p'.  Writes WAL file NAME to\n"
    "PATH.  Exit status 0: served; 1: not in the repository; 200 + class status\n"
    "on any other failure (above 125, so PostgreSQL stops recovery).\n";

const char cf_cli_wal_stream_usage[] =
    "Usage: coffre wal-stream\n"
    "\n"
    "Stream WAL from postgres.conninfo over a physical replication slot\n"
    "(wal.slot), into the spool (wal.spool) and the repository: complete\n"
    "segments at once, the segment being written every wal.upload_interval.\n"
    "Runs until SIGTERM or SIGINT; then it flushes, uploads what it holds and\n"
    "exits 0.  Made for a systemd service with Type=notify and WatchdogSec=\n"
    "(see docs/wal-stream.md).\n";

/* The WAL commands' view of the configuration. */
static struct cf_wal_env
wal_env(const struct cf_cli_run *run)
{
    const struct cf_config *cfg = run->ctx->cfg;
    struct cf_wal_env env = {&run->ctx->repo, cfg->path,   cfg->instance, cfg->state_dir,
                             &cfg->wal,       &cfg->retention, &cfg->repo, &cfg->pg};

    return env;
}

cf_err
cf_cli_wal_push(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {{"spool-only", no_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    struct cf_wal_env env = wal_env(run);
    bool spool_only = false;
    int ch;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 's')
            spool_only = true; /* internal: a child of an async wal-push */
        else
            return cf_error_set(err, CF_ERR_USAGE, "invalid option for wal-push");
    }
    if (optind + 1 != argc) {
        cf_error_setf(err, CF_ERR_USAGE, "wal-push needs exactly one PATH");
        cf_error_hint(err, "archive_command = 'coffre -c CONF wal-push %%p'");
        return CF_ERR_USAGE;
    }
    return cf_wal_push_run(&env, argv[optind], spool_only, err);
}

cf_err
cf_cli_wal_get(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {{"prefetch", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    struct cf_wal_env env = wal_env(run);
    uint64_t prefetch = 0;
    int ch;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'p')
            prefetch = strtoull(optarg, NULL, 10); /* internal: the read-ahead child */
        else
            return cf_error_set(err, CF_ERR_USAGE, "invalid option for wal-get");
    }
    if (prefetch > 0) {
        if (optind + 1 != argc)
            return cf_error_set(err, CF_ERR_USAGE, "wal-get --prefetch needs one NAME");
        if (cf_cli_open_repo(run, err) != CF_OK)
            return err->code;
        return cf_wal_prefetch_run(&env, argv[optind], prefetch, err);
    }
    if (optind + 2 != argc) {
        cf_error_setf(err, CF_ERR_USAGE, "wal-get needs NAME and PATH");
        cf_error_hint(err, "restore_command = 'coffre -c CONF wal-get %%f %%p'");
        return CF_ERR_USAGE;
    }
    /* served from the read-ahead spool: neither the repository (an S3 request) nor
     * the PKCS#11 module is needed, and recovery waits on every call */
    if (cf_wal_get_spooled(&env, argv[optind], argv[optind + 1]) == CF_OK)
        return CF_OK;
    if (cf_cli_open_repo(run, err) != CF_OK)
        return err->code;
    return cf_wal_get_run(&env, argv[optind], argv[optind + 1], &run->wal_missing, err);
}

cf_err
cf_cli_wal_stream(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    struct cf_wal_env env = wal_env(run);

    if (argc != 1)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[1]);
    return cf_wal_stream_run(&env, err);
}
