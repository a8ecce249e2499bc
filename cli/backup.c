/*
 * backup.c - `coffre backup` and `coffre backup --physical`: arguments in,
 * the engine's result out (agent/backup.h, agent/physical.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/backup.h"
#include "agent/physical.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "common/log.h"

const char cf_cli_backup_physical_usage[] =
    "Usage: coffre backup --physical [--json]\n"
    "Take a base backup over the replication protocol (BASE_BACKUP): one object per\n"
    "tablespace (base.tar, <oid>.tar) and the server's backup_manifest, then wait up\n"
    "to [wal] archive_timeout for the WAL it needs to reach the repository.  The\n"
    "manifest is written last: a backup without it is never listed as restorable.\n"
    "  --json   print a JSON summary instead of the backup id\n";

const char cf_cli_backup_usage[] =
    "Usage: coffre backup [--db NAME] [--json]\n"
    "\n"
    "Take a logical backup (pg_dump) of every database of the instance\n"
    "(postgres.databases, or every connectable non-template database), or of\n"
    "database NAME only; with formula = managed, of the tenant's schema.  Prints\n"
    "the backup id on stdout (a JSON summary with --json).  The manifest is\n"
    "written last: a backup that fails is never listed as complete.\n";

/* The JSON summary of a completed backup, logical or physical. */
static json_t *
result_json(const struct cf_backup_result *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "id", r->id, "kind",
                          r->kind, "class", r->retention_class, "objects",
                          (json_int_t)r->n_objects, "plain_bytes", (json_int_t)r->plain_bytes,
                          "compressed_bytes", (json_int_t)r->compressed_bytes, "stored_bytes",
                          (json_int_t)r->stored_bytes, "seconds",
                          (json_int_t)(r->stop_time - r->start_time));

    if (o != NULL && r->lock_until > 0) {
        char when[32];

        cf_format_time(r->lock_until, when, sizeof(when));
        json_object_set_new(o, "lock_until", json_string(when));
    }
    if (o != NULL && strcmp(r->kind, "physical") == 0) {
        json_object_set_new(o, "start_lsn", json_string(r->start_lsn));
        json_object_set_new(o, "stop_lsn", json_string(r->stop_lsn));
        json_object_set_new(o, "timeline", json_integer(r->timeline));
        json_object_set_new(o, "wal_start", json_string(r->wal_start));
        json_object_set_new(o, "wal_stop", json_string(r->wal_stop));
        json_object_set_new(o, "from_standby", json_boolean(r->from_standby));
    }
    return o;
}

cf_err
cf_cli_backup_print(const struct cf_backup_result *res, bool json, struct cf_error *err)
{
    if (json)
        return cf_cli_print_json(result_json(res), err);
    (void)printf("%s\n", res->id);
    return CF_OK;
}

cf_err
cf_cli_backup(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    const struct cf_config *cfg = run->ctx->cfg;
    struct cf_backup_opts bo = {&run->ctx->repo, cfg->instance,  cfg->formula,   &cfg->pg,
                                &cfg->backup,    &cfg->retention, NULL,          COFFRE_VERSION};
    struct cf_backup_result res;
    bool json = false;
    int ch;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': bo.db = optarg; break;
        case 'j': json = true; break;
        default: return cf_cli_usage_error(err, "invalid option for %s", "backup");
        }
    }
    if (optind != argc)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[optind]);
    if (cf_keyring_check(run->ctx->kr, false, err) != CF_OK)
        return err->code;
    if (cf_backup_run(&bo, &res, err) != CF_OK)
        return err->code;
    return cf_cli_backup_print(&res, json, err);
}

cf_err
cf_cli_backup_physical(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {{"physical", no_argument, NULL, 'p'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    const struct cf_config *cfg = run->ctx->cfg;
    struct cf_backup_physical_opts po = {&run->ctx->repo, cfg->instance,         cfg->formula,
                                         &cfg->pg,        &cfg->retention,
                                         cfg->wal.archive_timeout,               COFFRE_VERSION};
    struct cf_backup_result res;
    bool json = false;
    int ch;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'j')
            json = true;
        else if (ch != 'p')
            return cf_cli_usage_error(err, "invalid option for %s", "backup --physical");
    }
    if (optind != argc)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[optind]);
    if (cf_backup_physical_run(&po, &res, err) != CF_OK)
        return err->code;
    return cf_cli_backup_print(&res, json, err);
}
