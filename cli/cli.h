/*
 * cli.h - the command-line client: one table of commands, each a thin layer
 * that parses its arguments into an engine's options, calls the engine, and
 * prints the engine's result as text or (with --json) JSON through jansson.
 *
 * The engines (agent/, restore/, ops/) never read argv and never print
 * their results; a drill or a migration calls them the way these files do.
 * Adding a command: write its engine with an options and a result struct,
 * then a cli/<area>.c function and one line in cli/commands.c.
 */
#ifndef CF_CLI_H
#define CF_CLI_H

#include <stdbool.h>

#include <jansson.h>

#include "cli/context.h"
#include "common/error.h"
#include "ops/ops.h"

#define COFFRE_VERSION "0.1.0"

/* What a command's CLI function gets besides its arguments. */
struct cf_cli_run {
    struct cf_context *ctx;   /* opened as the table entry's needs say */
    bool record;              /* recorded for metrics and alerts (the entry has a run kind);
                                 a command clears it for a run that changes nothing
                                 (prune --dry-run) */
    bool wal_missing;         /* wal-get: the file is not in the repository (exit 1) */
    bool allow_unsigned;      /* --allow-unsigned: accept manifests without a signature */
};

typedef cf_err (*cf_cli_main)(struct cf_cli_run *run, int argc, char **argv,
                              struct cf_error *err);

enum cf_cli_exit {
    CF_CLI_EXIT_CLASS = 0,    /* the documented status of the error class */
    CF_CLI_EXIT_RESTORE_CMD   /* restore_command: 1 = no such file, 200 + class otherwise */
};

struct cf_cli_command {
    const char *name;         /* argv[0] of the command */
    const char *selector;     /* the option that picks this variant ("--physical"), or NULL */
    const char *synopsis;     /* one line of coffre --help */
    const char *usage;        /* coffre CMD --help */
    unsigned needs;           /* enum cf_need */
    int run_kind;             /* enum cf_run_kind recorded after the run, or -1 */
    enum cf_cli_exit exit;
    cf_cli_main main;
};

extern const struct cf_cli_command cf_cli_commands[];
extern const size_t cf_cli_n_commands;

/*
 * For a command whose table entry needs CF_NEED_CONFIG only, because some runs
 * never touch the repository: open the repository and the keys now (once).
 */
cf_err cf_cli_open_repo(struct cf_cli_run *run, struct cf_error *err);
/* The warning every run that accepts unsigned manifests prints (once the keys are open). */
void cf_cli_warn_unsigned(const struct cf_cli_run *run);

/* A CF_ERR_USAGE with the "Run coffre --help" hint. */
cf_err cf_cli_usage_error(struct cf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print v (stolen) on stdout, indented, followed by a newline. */
cf_err cf_cli_print_json(json_t *v, struct cf_error *err);

/* The configuration sections operations use (borrowed from cfg). */
struct cf_ops_env cf_cli_ops_env(const struct cf_config *cfg);

/* A time as JSON: "YYYY-MM-DD HH:MM:SSZ"-style text (cf_format_time), or null for 0. */
json_t *cf_cli_time_json(int64_t t);

/* "1.5 GiB": bytes in binary units, for tables. */
void cf_cli_human_bytes(uint64_t bytes, char *buf, size_t size);
/* What a backup holds, for a table cell: "cluster [+ N tblspc]", "schema S" or its
 * databases, comma-separated (cli/read.c). */
void cf_cli_backup_what(const struct cf_manifest *m, char *buf, size_t size);

#endif
