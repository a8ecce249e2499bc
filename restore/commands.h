/*
 * commands.h - the read side: list, verify, cat, restore.
 */
#ifndef CF_RESTORE_COMMANDS_H
#define CF_RESTORE_COMMANDS_H

#include <stdbool.h>

#include "common/config.h"
#include "storage/repo.h"

/* `coffre list [--json]` */
cf_err cf_cmd_list(const struct cf_repo *repo, bool json, struct cf_error *err);

/* `coffre verify [ID | --all]`: id NULL means every backup. */
cf_err cf_cmd_verify(const struct cf_repo *repo, const char *id, bool json,
                     struct cf_error *err);

/* `coffre cat OBJECT`: OBJECT is "ID/NAME" or a repository key or a file path. */
cf_err cf_cmd_cat(const struct cf_repo *repo, const char *object, struct cf_error *err);

struct cf_restore_options {
    const char *id;
    const char *target;     /* conninfo naming the target database */
    const char *db;         /* which dump of the backup (--db) */
    const char *schema;     /* --schema */
    const char *table;      /* --table */
    unsigned jobs;          /* --jobs, 1 = stream */
    bool create;            /* --create: target database must not exist */
    bool replace;           /* --replace: swap in a new database for an existing one */
    bool no_owner;          /* --no-owner */
    const char *bindir;     /* postgres.bindir */
};

cf_err cf_cmd_restore(const struct cf_repo *repo, const struct cf_restore_options *opts,
                      struct cf_error *err);

#endif
