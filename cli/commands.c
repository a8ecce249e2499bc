/*
 * commands.c - the command table: every command once, with its usage, what
 * it needs opened, the run kind recorded for metrics and alerts, and its CLI
 * function.  coffre --help lists the synopses in this order.
 */
#include "cli/commands.h"
#include "policies/alerts.h"

#define NO_RUN (-1)

const struct cf_cli_command cf_cli_commands[] = {
    {"check", NULL,
     "  check [--json] [--no-archive-check]   check the configuration end to end: PostgreSQL,\n"
     "                                    archiving, repository, keys, directories, alerts\n",
     cf_cli_check_usage, CF_NEED_CONFIG, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_check},
    {"backup", NULL,
     "  backup [--db NAME] [--json]       take a logical backup (pg_dump) of the instance\n",
     cf_cli_backup_usage, CF_NEED_ALL, CF_RUN_BACKUP, CF_CLI_EXIT_CLASS, cf_cli_backup},
    {"backup", "--physical",
     "  backup --physical [--json]        take a physical base backup (BASE_BACKUP)\n",
     cf_cli_backup_physical_usage, CF_NEED_ALL, CF_RUN_BACKUP, CF_CLI_EXIT_CLASS,
     cf_cli_backup_physical},
    {"list", NULL, "  list [--json]                     list backups, complete or not\n",
     cf_cli_list_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_list},
    {"info", NULL,
     "  info [ID] [--json]                each backup with its WAL, lock, signer, checks\n",
     cf_cli_info_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_info},
    {"verify", NULL,
     "  verify [ID | --all] [--json]      decrypt and check every object, restore nothing\n",
     cf_cli_verify_usage, CF_NEED_ALL, CF_RUN_VERIFY, CF_CLI_EXIT_CLASS, cf_cli_verify},
    {"verify", "--wal",
     "  verify --wal [--json]             check WAL continuity from every base backup\n",
     cf_cli_verify_wal_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_verify_wal},
    {"restore", NULL,
     "  restore ID --target CONNINFO      restore a logical backup (see coffre restore --help)\n",
     cf_cli_restore_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_restore},
    {"restore", "--physical",
     "  restore --physical [ID|--latest] --pgdata DIR [--time T|--lsn L|--xid X|--immediate]\n"
     "                                    restore a base backup for point-in-time recovery\n",
     cf_cli_restore_physical_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS,
     cf_cli_restore_physical},
    {"wal-push", NULL,
     "  wal-push PATH                     archive_command: archive one WAL file\n",
     cf_cli_wal_push_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_wal_push},
    {"wal-get", NULL, "  wal-get NAME PATH                 restore_command: fetch one WAL file\n",
     cf_cli_wal_get_usage, CF_NEED_CONFIG, NO_RUN, CF_CLI_EXIT_RESTORE_CMD, cf_cli_wal_get},
    {"wal-stream", NULL,
     "  wal-stream                        stream WAL over the replication protocol (service)\n",
     cf_cli_wal_stream_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_wal_stream},
    {"cat", NULL, "  cat OBJECT                        write one object's plaintext to stdout\n",
     cf_cli_cat_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_cat},
    {"drill", NULL,
     "  drill [--scenario S] [--json] [--junit FILE]   restore into a scratch server, check,\n"
     "                                    measure RTO/RPO (see coffre drill --help)\n",
     cf_cli_drill_usage, CF_NEED_ALL, CF_RUN_DRILL, CF_CLI_EXIT_CLASS, cf_cli_drill},
    {"migrate", NULL,
     "  migrate plan|run|finalize|rollback|status   move a tenant between the managed and\n"
     "                                    on-premise formulas (see coffre migrate --help)\n",
     cf_cli_migrate_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_migrate},
    {"prune", NULL,
     "  prune [--dry-run] [--json]        delete what the retention policy lets go\n",
     cf_cli_prune_usage, CF_NEED_ALL, CF_RUN_PRUNE, CF_CLI_EXIT_CLASS, cf_cli_prune},
    {"status", NULL,
     "  status [--json]                   health, newest backup, free space, issues\n",
     cf_cli_status_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_status},
    {"alert", NULL,
     "  alert check|test                  evaluate and notify alerts; test the receivers\n",
     cf_cli_alert_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_alert},
    {"keys", NULL,
     "  keys init|list|check              manage the key-encryption keys in the HSM\n"
     "  keys export-public URI FILE       export an RSA KEK's public half\n"
     "  keys import-public FILE URI       import it on a write-only host's token\n",
     cf_cli_keys_usage, CF_NEED_ALL, NO_RUN, CF_CLI_EXIT_CLASS, cf_cli_keys},
};

const size_t cf_cli_n_commands = sizeof(cf_cli_commands) / sizeof(cf_cli_commands[0]);
