/*
 * check.c - `coffre check [--json] [--no-archive-check]` (ops/check.h).
 * Opened with the configuration only: the repository and the keyring are
 * opened here, so that a failure to open either is one failed check among
 * the others rather than the end of the run.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "ops/check.h"

const char cf_cli_check_usage[] =
    "Usage: coffre check [--json] [--no-archive-check]\n"
    "\n"
    "Check, after editing the configuration, what the other commands need: the\n"
    "configuration parses (config); PostgreSQL answers on postgres.conninfo and\n"
    "the role may connect to each database to dump, and USAGE on the tenant\n"
    "schema for the managed formula (postgres); whether role passwords can be in\n"
    "the globals (globals); the repository takes a probe object, removed at once,\n"
    "and an S3 bucket has Object Lock (repository); when the server archives WAL\n"
    "(archive_mode on, or archive_command running coffre wal-push): archive_mode,\n"
    "archive_command, the role's REPLICATION, and a forced WAL switch reaching the\n"
    "repository within wal.archive_timeout (at most 60 s; not on a standby nor\n"
    "with --no-archive-check) (archiving); every KEK wraps and unwraps a test key\n"
    "(keys); the signing key signs (signing); the state directory and the metrics\n"
    "directories are writable (state); every alert receiver answers, none is\n"
    "notified (alerts); on S3, this host's clock within 60 s of the server's (clock).\n"
    "\n"
    "One line per check: ok, warning or failed, its name, what was found and, unless\n"
    "ok, a hint; --json prints an array of {name, result, detail, hint}.  Exit\n"
    "status 0 when no check failed (warnings included), else the status of the\n"
    "first failed check's error class (docs/exit-status.md).\n";

static cf_err
print_json(const struct cf_check_result *res, struct cf_error *err)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < res->n; i++) {
        const struct cf_check_item *it = &res->items[i];

        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s?}", "name", it->name, "result",
                                             cf_check_verdict_name(it->verdict), "detail",
                                             it->detail, "hint", it->hint[0] ? it->hint : NULL));
    }
    return cf_cli_print_json(arr, err);
}

cf_err
cf_cli_check(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"no-archive-check", no_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    struct cf_context *ctx = run->ctx;
    const struct cf_config *cfg = ctx->cfg;
    struct cf_error st_err = CF_ERROR_INIT, kr_err = CF_ERROR_INIT;
    struct cf_check_result *res;
    struct cf_check_opts o;
    bool json = false;
    int ch;
    cf_err rc = CF_OK;

    memset(&o, 0, sizeof(o));
    o.archive_check = true;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'j')
            json = true;
        else if (ch == 'n')
            o.archive_check = false;
        else
            return cf_cli_usage_error(err, "invalid option for %s", "check");
    }
    if (optind != argc)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[optind]);
    (void)cf_context_open_storage(ctx, &st_err);
    (void)cf_context_open_keys(ctx, &kr_err);
    o.config_path = cfg->path;
    o.config_warnings = (const char *const *)cfg->warnings;
    o.n_config_warnings = cfg->n_warnings;
    o.formula = cfg->formula;
    o.pg = &cfg->pg;
    o.wal = &cfg->wal;
    o.state_dir = cfg->state_dir;
    o.metrics = &cfg->metrics;
    o.alerts = &cfg->alerts;
    o.repo_conf = &cfg->repo;
    o.repo = &ctx->repo;
    o.storage_err = &st_err;
    o.kr = ctx->kr;
    o.keys_err = &kr_err;
    if ((res = calloc(1, sizeof(*res))) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    cf_check_run(&o, res);
    if (json) {
        rc = print_json(res, err);
    } else {
        for (size_t i = 0; i < res->n; i++) {
            const struct cf_check_item *it = &res->items[i];

            (void)printf("%-8s %-11s %s%s%s\n", cf_check_verdict_name(it->verdict), it->name,
                         it->detail, it->hint[0] ? "  HINT: " : "", it->hint);
        }
    }
    if (rc == CF_OK && res->n_failed > 0) {
        rc =
            cf_error_set(err, res->first_failed, "%zu of %zu checks failed", res->n_failed, res->n);
        cf_error_hint(err, "Fix what each failed line says, then run coffre check again.");
    }
    free(res);
    return rc;
}
