/*
 * restore.c - `coffre restore` (restore/restore.h) and `coffre restore
 * --physical` (restore/physical.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/log.h"
#include "restore/physical.h"
#include "restore/restore.h"

const char cf_cli_restore_usage[] =
    "Usage: coffre restore ID --target CONNINFO [OPTIONS]\n"
    "\n"
    "Restore the dump of one database of backup ID into the database named by\n"
    "CONNINFO's dbname.  Nothing half-restored is ever left behind:\n"
    "  --create        create the target: restore into a temporary database, rename\n"
    "                  it on success, drop it on failure (the target must not exist)\n"
    "  (default)       the target exists and is empty; the backup is verified first,\n"
    "                  then restored in a single transaction\n"
    "  --replace       the target may exist: restore as with --create, then rename\n"
    "                  the old database <target>_old_<time> (kept) and swap in the\n"
    "                  new one (the old database must have no open session)\n"
    "  --db NAME       which database of the backup (when it holds several)\n"
    "  --schema S      restore only schema S\n"
    "  --table T       restore only table T (with --schema to qualify it)\n"
    "  --jobs N        parallel pg_restore (needs --create or --replace; decrypts\n"
    "                  to a private temporary file in $TMPDIR first)\n"
    "  --no-owner      do not restore object ownership\n";

cf_err
cf_cli_restore(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'}, {"db", required_argument, NULL, 'd'},
        {"schema", required_argument, NULL, 's'}, {"table", required_argument, NULL, 'T'},
        {"jobs", required_argument, NULL, 'j'},   {"create", no_argument, NULL, 'C'},
        {"replace", no_argument, NULL, 'K'},       {"no-owner", no_argument, NULL, 'O'},
        {NULL, 0, NULL, 0}};
    struct cf_restore_opts ro;
    struct cf_restore_result res;
    int ch;

    memset(&ro, 0, sizeof(ro));
    ro.repo = &run->ctx->repo;
    ro.jobs = 1;
    ro.bindir = run->ctx->cfg->pg.bindir;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 't': ro.target = optarg; break;
        case 'd': ro.db = optarg; break;
        case 's': ro.schema = optarg; break;
        case 'T': ro.table = optarg; break;
        case 'j': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);

            if (*end != '\0' || v < 1 || v > 64)
                return cf_cli_usage_error(err, "invalid value for --jobs: \"%s\" (1..64)",
                                          optarg);
            ro.jobs = (unsigned)v;
            break;
        }
        case 'C': ro.create = true; break;
        case 'K': ro.replace = true; break;
        case 'O': ro.no_owner = true; break;
        default: return cf_cli_usage_error(err, "invalid option for %s", "restore");
        }
    }
    if (optind + 1 != argc)
        return cf_cli_usage_error(err, "%s needs exactly one backup ID", "restore");
    ro.id = argv[optind];
    cf_log_set_field("COFFRE_BACKUP_ID", ro.id);
    if (ro.target == NULL)
        return cf_cli_usage_error(err, "%s needs --target CONNINFO", "restore");
    if (cf_restore_run(&ro, &res, err) != CF_OK)
        return err->code;
    cf_log_info("restored database \"%s\" of backup %s into \"%s\" (%llu bytes) in %.0f s",
                res.database[0] ? res.database : "?", ro.id, res.target_db,
                (unsigned long long)res.plain_bytes, res.seconds);
    if (res.old_db[0] != '\0')
        cf_log_info("the previous database \"%s\" was kept as \"%s\"; drop it when satisfied",
                    res.target_db, res.old_db);
    return CF_OK;
}

cf_err
cf_cli_restore_physical(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    return cf_cmd_restore_physical(run->ctx->cfg, &run->ctx->repo, argc, argv, err);
}
