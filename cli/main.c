/*
 * main.c - coffre's entry point: global options, the command table
 * (cli/commands.c), opening what the command needs, recording the run for
 * metrics, and the exit status of the error class (docs/exit-status.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "cli/cli.h"
#include "common/cancel.h"
#include "common/log.h"
#include "common/manifest.h"
#include "ops/ops.h"
#include "stream/object.h"

static void
print_usage(FILE *out)
{
    (void)fputs("coffre - PostgreSQL backup and disaster recovery with HSM-held keys\n"
                "\n"
                "Usage: coffre [--config FILE] [--verbose|--quiet] [--allow-unsigned] COMMAND "
                "[OPTIONS]\n"
                "\n"
                "Commands:\n",
                out);
    for (size_t i = 0; i < cf_cli_n_commands; i++)
        if (cf_cli_commands[i].synopsis != NULL)
            (void)fputs(cf_cli_commands[i].synopsis, out);
    (void)fputs("\n"
                "Options:\n"
                "  -c, --config FILE   configuration file (default " CF_CONFIG_DEFAULT_PATH ")\n"
                "  -v, --verbose       more messages;  -q, --quiet  errors only\n"
                "  -h, --help          this help;      -V, --version\n"
                "  -U, --allow-unsigned  accept backups whose manifest is not signed (made\n"
                "                      before signatures existed); warns on every run\n"
                "\n"
                "Each command has its own --help.  Exit status: 0 success, 2 usage,\n"
                "3 configuration, 4 keys/HSM, 5 repository, 6 corrupt data, 7 PostgreSQL or\n"
                "child process, 8 interrupted by a signal, 1 internal.  See coffre(1) and\n"
                "docs/exit-status.md.\n",
                out);
}

static bool
has_option(int argc, char **argv, const char *opt)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], opt) == 0)
            return true;
    return false;
}

/* The table entry for argv: a variant whose selector option is present wins. */
static const struct cf_cli_command *
find_command(int argc, char **argv)
{
    const struct cf_cli_command *plain = NULL;

    for (size_t i = 0; i < cf_cli_n_commands; i++) {
        const struct cf_cli_command *c = &cf_cli_commands[i];

        if (strcmp(c->name, argv[0]) != 0)
            continue;
        if (c->selector == NULL)
            plain = c;
        else if (has_option(argc, argv, c->selector))
            return c;
    }
    return plain;
}

static cf_err
dispatch(const char *config, const struct cf_cli_command *cmd, int argc, char **argv,
         struct cf_cli_run *run, struct cf_error *err)
{
    int64_t start = (int64_t)time(NULL);
    cf_err rc;

    /* --help needs no configuration, HSM or repository */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            (void)fputs(cmd->usage, stdout);
            return CF_OK;
        }
    }
    if (cf_context_open(config, cmd->needs, &run->ctx, err) != CF_OK)
        return err->code;
    if (run->allow_unsigned)
        run->ctx->repo.allow_unsigned = true;
    if (cmd->needs & CF_NEED_KEYS)
        cf_cli_warn_unsigned(run);
    cf_log_set_field("COFFRE_INSTANCE", run->ctx->cfg->instance);
    cf_log_set_field("COFFRE_COMMAND", cmd->name);
    run->record = cmd->run_kind >= 0;
    optind = 0; /* GNU getopt: 0 re-initialises, with argument permutation */
    rc = cmd->main(run, argc, argv, err);
    /* runs whose outcome operators watch: recorded for metrics and alerts */
    if (run->record && rc != CF_ERR_USAGE && run->ctx->cfg->metrics.ops_enabled) {
        struct cf_ops_env env = cf_cli_ops_env(run->ctx->cfg);

        cf_ops_after_run(&env, &run->ctx->repo, (enum cf_run_kind)cmd->run_kind, start, err);
    }
    cf_context_free(run->ctx);
    run->ctx = NULL;
    return rc;
}

/* The process's exit status for the command's outcome. */
static int
exit_status(const struct cf_cli_command *cmd, const struct cf_cli_run *run, const char *arg,
            const struct cf_error *err)
{
    if (cmd != NULL && cmd->exit == CF_CLI_EXIT_RESTORE_CMD) {
        if (run->wal_missing) {
            /* restore_command: the normal end of the archive, not a failure */
            cf_log_info("WAL file \"%s\" is not in the repository", arg ? arg : "?");
            return 1;
        }
        cf_log_cf_error(err);
        /* PostgreSQL takes a restore_command status of 125 or less for "no such file"
         * and ends recovery there; any real failure (configuration, HSM, corrupt
         * object) must stop recovery instead: docs/wal.md */
        return err->code != CF_OK ? 200 + cf_error_exit_status(err->code) : 0;
    }
    cf_log_cf_error(err);
    return cf_error_exit_status(err->code);
}

/* What this binary writes and reads (issue 14): a newer coffre reads every
 * older format (docs/upgrading.md). */
static void
print_version(void)
{
    printf("coffre %s\n", COFFRE_VERSION);
    printf("object format %d (reads 1 to %d)\n", CF_OBJECT_VERSION, CF_OBJECT_VERSION);
    printf("manifest format %d, signed (reads 1 to %d; unsigned with --allow-unsigned)\n",
           CF_MANIFEST_FORMAT, CF_MANIFEST_FORMAT);
    printf("WAL object keys signed with the database system (reads those signed without "
           "it too)\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"allow-unsigned", no_argument, NULL, 'U'},
                                         {NULL, 0, NULL, 0}};
    const char *config = getenv("COFFRE_CONFIG");
    const struct cf_cli_command *cmd;
    struct cf_error err = CF_ERROR_INIT;
    struct cf_cli_run run = {NULL, false, false, false};
    int ch, first;

    if (config == NULL)
        config = CF_CONFIG_DEFAULT_PATH;
    /* keys and plaintext pass through this process: no core dumps, also not by a
     * handler that ignores the dumpable flag (a core_pattern pipe) */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    (void)setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
    cf_cancel_install();
    while ((ch = getopt_long(argc, argv, "+c:vqhVU", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'v': cf_log_set_level(CF_LOG_DEBUG); break;
        case 'q': cf_log_set_level(CF_LOG_ERROR); break;
        case 'h': print_usage(stdout); return 0;
        case 'V': print_version(); return 0;
        case 'U': run.allow_unsigned = true; break;
        default: print_usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        print_usage(stderr);
        return 2;
    }
    first = optind; /* the commands run getopt again */
    cmd = find_command(argc - first, argv + first);
    if (cmd == NULL) {
        (void)cf_cli_usage_error(&err, "unknown command \"%s\"", argv[first]);
        return exit_status(NULL, &run, NULL, &err);
    }
    if (sodium_init() < 0) {
        cf_log_error("could not initialise libsodium");
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cf_log_error("could not initialise libcurl");
        return 1;
    }
    (void)dispatch(config, cmd, argc - first, argv + first, &run, &err);
    curl_global_cleanup();
    if (fflush(stdout) != 0 && err.code == CF_OK)
        cf_error_setf(&err, CF_ERR_IO, "could not write to standard output");
    return exit_status(cmd, &run, first + 1 < argc ? argv[first + 1] : NULL, &err);
}
