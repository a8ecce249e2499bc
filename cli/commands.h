/*
 * commands.h - the CLI function and usage text of each command, for the
 * table in commands.c.
 */
#ifndef CF_CLI_COMMANDS_H
#define CF_CLI_COMMANDS_H

#include "agent/backup.h"
#include "cli/cli.h"

extern const char cf_cli_backup_usage[];
extern const char cf_cli_backup_physical_usage[];
extern const char cf_cli_list_usage[];
extern const char cf_cli_info_usage[];
extern const char cf_cli_verify_usage[];
extern const char cf_cli_verify_wal_usage[];
extern const char cf_cli_cat_usage[];
extern const char cf_cli_restore_usage[];
extern const char cf_cli_restore_physical_usage[];
extern const char cf_cli_prune_usage[];
extern const char cf_cli_wal_push_usage[];
extern const char cf_cli_wal_get_usage[];
extern const char cf_cli_wal_stream_usage[];
extern const char cf_cli_keys_usage[];
extern const char cf_cli_drill_usage[];
extern const char cf_cli_migrate_usage[];
extern const char cf_cli_status_usage[];
extern const char cf_cli_alert_usage[];
extern const char cf_cli_check_usage[];

cf_err cf_cli_backup(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_backup_physical(struct cf_cli_run *run, int argc, char **argv,
                              struct cf_error *err);
cf_err cf_cli_list(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_info(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_verify(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_verify_wal(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_cat(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_restore(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_restore_physical(struct cf_cli_run *run, int argc, char **argv,
                               struct cf_error *err);
cf_err cf_cli_wal_push(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_wal_get(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_wal_stream(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_prune(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_status(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_alert(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_check(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_keys(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_drill(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);
cf_err cf_cli_migrate(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err);

/* A backup's result as the backup commands print it: the id, or JSON. */
cf_err cf_cli_backup_print(const struct cf_backup_result *res, bool json, struct cf_error *err);

#endif
