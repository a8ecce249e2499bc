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
    "  --table T       restore only table T (with --schema to qualify it): its\n"
    "                  definition and data, as pg_restore -t (not its indexes)\n"
    "  --definitions   with --table: every definition of the dump first (types,\n"
    "                  functions, tables), then only T's data; for a table whose\n"
    "                  column types or defaults live elsewhere in the dump\n"
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
        {"definitions", no_argument, NULL, 'D'},   {NULL, 0, NULL, 0}};
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
        case 'D': ro.definitions = true; break;
        default: return cf_cli_usage_error(err, "invalid option for %s", "restore");
        }
    }
    if (optind + 1 != argc)
        return cf_cli_usage_error(err, "%s needs exactly one backup ID", "restore");
    ro.id = argv[optind];
    cf_log_set_field("COFFRE_BACKUP_ID", ro.id);
    if (ro.target == NULL)
        return cf_cli_usage_error(err, "%s needs --target CONNINFO", "restore");
    if (ro.definitions && ro.table == NULL)
        return cf_cli_usage_error(err, "--definitions goes with --table");
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

const char cf_cli_restore_physical_usage[] =
    "Usage: coffre restore --physical [ID | --latest] --pgdata DIR [TARGET] [OPTIONS]\n"
    "Restore a physical base backup into DIR (which must not exist or be empty), set up\n"
    "for point-in-time recovery through \"coffre wal-get\".\n"
    "TARGET (at most one; default: replay all the WAL there is):\n"
    "  --time T         recovery_target_time, e.g. \"2026-11-22 04:50:00.123+00\" (the\n"
    "                   time zone is required); picks the newest backup finished before T\n"
    "  --lsn L          recovery_target_lsn; picks the newest backup that ended before L\n"
    "  --xid X          recovery_target_xid\n"
    "  --immediate      stop as soon as the backup is consistent\n"
    "OPTIONS:\n"
    "  --latest                 the newest complete physical backup (the default)\n"
    "  --tablespace-map OLD=NEW restore the tablespace at OLD into NEW (repeatable)\n"
    "  --timeline TLI           recovery_target_timeline: latest (default), current (the\n"
    "                           backup's) or a number; use current to reach a point of the\n"
    "                           backup's timeline after a later promotion branched off\n"
    "  --no-archive             archive_mode = off in the restored server (drills, copies):\n"
    "                           by default it archives its new timeline into this repository\n"
    "  --start                  start the server and wait for the end of recovery; it keeps\n"
    "                           running, listening on a unix socket only; must not run as\n"
    "                           root: run it as the PostgreSQL OS user\n"
    "  --port N, --socket-dir D with --start: where the server listens (default: a free\n"
    "                           port, and DIR.coffre/socket, beside its log and settings)\n"
    "  --as-user USER           extract as USER (the PostgreSQL OS user) and give it every\n"
    "                           file; required when run as root, which never extracts as\n"
    "                           itself\n";

enum {
    OPT_LATEST = 256,
    OPT_PGDATA,
    OPT_TIME,
    OPT_LSN,
    OPT_XID,
    OPT_IMMEDIATE,
    OPT_TSMAP,
    OPT_START,
    OPT_PORT,
    OPT_SOCKDIR,
    OPT_PHYSICAL,
    OPT_NOARCHIVE,
    OPT_TIMELINE,
    OPT_ASUSER
};

#define MAX_MAPS 64

/* What --start leaves running, and how the operator reaches and stops it. */
static void
print_started(const struct cf_restore_physical_result *r)
{
    const struct cf_recovery_state *st = &r->start.recovery;

    (void)printf("recovery finished: replayed up to LSN %s, last transaction committed at %s, "
                 "timeline %u\n", st->replay_lsn[0] ? st->replay_lsn : "-",
                 st->last_commit_text[0] ? st->last_commit_text : "-", st->timeline);
    (void)printf("the restored server keeps running: socket directory %s, port %d\n",
                 r->start.socket_dir, r->start.port);
    (void)printf("connect with: psql \"%s\"\n", r->start.conninfo);
    (void)printf("stop it with: pg_ctl -D %s stop\n", r->pgdata);
    (void)printf("its log and the settings it runs with are in %s\n", r->start.workdir);
}

cf_err
cf_cli_restore_physical(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {{"physical", no_argument, NULL, OPT_PHYSICAL},
                                         {"latest", no_argument, NULL, OPT_LATEST},
                                         {"pgdata", required_argument, NULL, OPT_PGDATA},
                                         {"time", required_argument, NULL, OPT_TIME},
                                         {"lsn", required_argument, NULL, OPT_LSN},
                                         {"xid", required_argument, NULL, OPT_XID},
                                         {"immediate", no_argument, NULL, OPT_IMMEDIATE},
                                         {"tablespace-map", required_argument, NULL, OPT_TSMAP},
                                         {"start", no_argument, NULL, OPT_START},
                                         {"no-archive", no_argument, NULL, OPT_NOARCHIVE},
                                         {"timeline", required_argument, NULL, OPT_TIMELINE},
                                         {"port", required_argument, NULL, OPT_PORT},
                                         {"socket-dir", required_argument, NULL, OPT_SOCKDIR},
                                         {"as-user", required_argument, NULL, OPT_ASUSER},
                                         {NULL, 0, NULL, 0}};
    const struct cf_config *cfg = run->ctx->cfg;
    const char *maps[MAX_MAPS];
    struct cf_restore_physical_opts o;
    struct cf_restore_physical_result res;
    bool latest = false;
    int ch;
    cf_err rc;

    memset(&o, 0, sizeof(o));
    o.repo = &run->ctx->repo;
    o.pg = &cfg->pg;
    o.config_path = cfg->path;
    o.maps = maps;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_PHYSICAL: break;
        case OPT_LATEST: latest = true; break;
        case OPT_PGDATA: o.pgdata = optarg; break;
        case OPT_TIME: o.time = optarg; break;
        case OPT_LSN: o.lsn = optarg; break;
        case OPT_XID: o.xid = optarg; break;
        case OPT_IMMEDIATE: o.immediate = true; break;
        case OPT_START: o.start = true; break;
        case OPT_NOARCHIVE: o.no_archive = true; break;
        case OPT_TIMELINE: o.timeline = optarg; break;
        case OPT_PORT: o.port = optarg; break;
        case OPT_SOCKDIR: o.socket_dir = optarg; break;
        case OPT_ASUSER: o.as_user = optarg; break;
        case OPT_TSMAP:
            if (o.n_maps == MAX_MAPS)
                return cf_cli_usage_error(err, "at most %d --tablespace-map", MAX_MAPS);
            maps[o.n_maps++] = optarg;
            break;
        default: return cf_cli_usage_error(err, "invalid option for %s", "restore --physical");
        }
    }
    if (argc - optind > 1)
        return cf_cli_usage_error(err, "unexpected argument \"%s\"", argv[optind + 1]);
    o.id = optind < argc ? argv[optind] : NULL;
    if (o.id != NULL && latest)
        return cf_cli_usage_error(err, "give a backup ID or --latest, not both");
    if (o.id != NULL)
        cf_log_set_field("COFFRE_BACKUP_ID", o.id);
    rc = cf_restore_physical_run(&o, &res, err);
    if (res.id[0] != '\0')
        (void)printf("restored backup %s into %s\n", res.id, res.pgdata);
    if (rc == CF_OK && res.started)
        print_started(&res);
    return rc;
}
