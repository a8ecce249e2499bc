/*
 * physical.c - `coffre restore --physical` (see physical.h).
 *
 * Order, so that DIR only ever appears complete:
 *   1. choose the base backup, check the repository has the WAL it needs;
 *   2. extract every tar (decrypt -> zstd -d -> sha256 -> `tar -x` child) into
 *      a staging directory next to DIR, tablespaces into their (mapped)
 *      locations, and rewrite the pg_tblspc symlinks;
 *   3. check the files against the server's backup_manifest (pg_verifybackup);
 *   4. write recovery.signal and the recovery settings;
 *   5. rename the staging directory to DIR.
 * Any failure removes the staging directory and what was extracted into
 * tablespace locations.  --start then starts the server and waits for the
 * end of recovery (start.c).
 */
#include "restore/physical.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pg.h"
#include "common/walname.h"
#include "restore/physical_int.h"
#include "restore/walcheck.h"
#include "stream/child.h"
#include "stream/hash.h"

const char cf_restore_physical_usage[] =
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
    "  --start                  start the server (pg_ctl) and wait for the end of recovery;\n"
    "                           must not run as root: run it as the PostgreSQL OS user\n"
    "  --port N, --socket-dir D with --start: where the server listens and where coffre\n"
    "                           connects to follow recovery\n";

enum { OPT_LATEST = 256, OPT_PGDATA, OPT_TIME, OPT_LSN, OPT_XID, OPT_IMMEDIATE, OPT_TSMAP,
       OPT_START, OPT_PORT, OPT_SOCKDIR, OPT_PHYSICAL, OPT_NOARCHIVE,
       OPT_TIMELINE };

static cf_err
parse_options(int argc, char **argv, struct cf_phys_opts *o, struct cf_error *err)
{
    static const struct option opts[] = {
        {"physical", no_argument, NULL, OPT_PHYSICAL}, {"latest", no_argument, NULL, OPT_LATEST},
        {"pgdata", required_argument, NULL, OPT_PGDATA},
        {"time", required_argument, NULL, OPT_TIME},
        {"lsn", required_argument, NULL, OPT_LSN}, {"xid", required_argument, NULL, OPT_XID},
        {"immediate", no_argument, NULL, OPT_IMMEDIATE},
        {"tablespace-map", required_argument, NULL, OPT_TSMAP},
        {"start", no_argument, NULL, OPT_START},
        {"no-archive", no_argument, NULL, OPT_NOARCHIVE},
        {"timeline", required_argument, NULL, OPT_TIMELINE},
        {"port", required_argument, NULL, OPT_PORT},
        {"socket-dir", required_argument, NULL, OPT_SOCKDIR}, {NULL, 0, NULL, 0}};
    int ch, targets = 0;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_PHYSICAL: break;
        case OPT_LATEST: o->latest = true; break;
        case OPT_PGDATA: o->pgdata = optarg; break;
        case OPT_TIME: o->time = optarg; targets++; break;
        case OPT_LSN: o->lsn = optarg; targets++; break;
        case OPT_XID: o->xid = optarg; targets++; break;
        case OPT_IMMEDIATE: o->immediate = true; targets++; break;
        case OPT_START: o->start = true; break;
        case OPT_NOARCHIVE: o->no_archive = true; break;
        case OPT_TIMELINE: o->timeline = optarg; break;
        case OPT_PORT: o->port = optarg; break;
        case OPT_SOCKDIR: o->socket_dir = optarg; break;
        case OPT_TSMAP:
            if (o->n_maps == CF_PHYS_MAX_MAPS || strchr(optarg, '=') == NULL ||
                optarg[0] != '/' || strchr(optarg, '=')[1] != '/')
                return cf_error_set(err, CF_ERR_USAGE, "--tablespace-map needs OLD=NEW with "
                                    "absolute paths (at most %d)", CF_PHYS_MAX_MAPS);
            o->maps[o->n_maps++] = optarg;
            break;
        default: return cf_error_set(err, CF_ERR_USAGE, "invalid option for restore --physical");
        }
    }
    if (argc - optind > 1)
        return cf_error_set(err, CF_ERR_USAGE, "unexpected argument \"%s\"", argv[optind + 1]);
    o->id = optind < argc ? argv[optind] : NULL;
    if (o->id != NULL && o->latest)
        return cf_error_set(err, CF_ERR_USAGE, "give a backup ID or --latest, not both");
    if (targets > 1)
        return cf_error_set(err, CF_ERR_USAGE, "give at most one of --time, --lsn, --xid, "
                            "--immediate");
    if (o->pgdata == NULL)
        return cf_error_set(err, CF_ERR_USAGE, "restore --physical needs --pgdata DIR");
    if (o->lsn != NULL && !cf_lsn_parse(o->lsn, &o->target_lsn))
        return cf_error_set(err, CF_ERR_USAGE, "invalid LSN \"%s\"", o->lsn);
    if (o->time != NULL && cf_phys_parse_time(o->time, &o->target_time) != 0) {
        cf_error_setf(err, CF_ERR_USAGE, "invalid recovery target time \"%s\"", o->time);
        cf_error_hint(err, "Use \"YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM]\" (or Z): the time zone "
                           "is required.");
        return CF_ERR_USAGE;
    }
    if (o->xid != NULL && strspn(o->xid, "0123456789") != strlen(o->xid))
        return cf_error_set(err, CF_ERR_USAGE, "invalid transaction id \"%s\"", o->xid);
    if (o->timeline == NULL)
        o->timeline = "latest";
    if (strcmp(o->timeline, "latest") != 0 && strcmp(o->timeline, "current") != 0 &&
        (o->timeline[0] == '\0' || strspn(o->timeline, "0123456789") != strlen(o->timeline)))
        return cf_error_set(err, CF_ERR_USAGE, "--timeline takes latest, current or a "
                            "timeline number");
    if ((o->port != NULL || o->socket_dir != NULL) && !o->start)
        return cf_error_set(err, CF_ERR_USAGE, "--port and --socket-dir go with --start");
    return CF_OK;
}

/* Exactly two decimal digits at s. */
static int
two_digits(const char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

/*
 * "YYYY-MM-DD[ T]HH:MM:SS[.frac](Z|UTC|+HH[:MM]|-HH[:MM])" -> seconds since
 * the epoch (the fraction is dropped: backups are chosen by whole seconds).
 */
int
cf_phys_parse_time(const char *s, int64_t *out)
{
    struct tm tm;
    const char *p;
    int64_t t;
    int sign, hh = 0, mm = 0;

    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%d", &tm);
    if (p == NULL || (*p != ' ' && *p != 'T'))
        return -1;
    p = strptime(p + 1, "%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.')
        p += 1 + strspn(p + 1, "0123456789");
    t = (int64_t)timegm(&tm);
    if (strcmp(p, "Z") == 0 || strcmp(p, "UTC") == 0 || strcmp(p, "+00") == 0) {
        *out = t;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -1;
    sign = *p == '-' ? -1 : 1;
    if (two_digits(p + 1, &hh) != 0)
        return -1;
    p += 3;
    if (*p == ':') {
        if (two_digits(p + 1, &mm) != 0)
            return -1;
        p += 3;
    }
    if (*p != '\0' || hh > 15 || mm > 59)
        return -1;
    *out = t - (int64_t)sign * ((int64_t)hh * 3600 + (int64_t)mm * 60);
    return 0;
}

/* What --start leaves running, and how the operator reaches and stops it. */
static void
print_started(const struct cf_phys_opts *o, const struct cf_phys_start_result *r)
{
    const struct cf_recovery_state *st = &r->recovery;

    (void)printf("recovery finished: replayed up to LSN %s, last transaction committed at %s, "
                 "timeline %u\n", st->replay_lsn[0] ? st->replay_lsn : "-",
                 st->last_commit_text[0] ? st->last_commit_text : "-", st->timeline);
    (void)printf("the restored server keeps running: socket directory %s, port %d\n",
                 r->socket_dir, r->port);
    (void)printf("connect with: psql \"%s\"\n", r->conninfo);
    (void)printf("stop it with: pg_ctl -D %s stop\n", o->pgdata);
    (void)printf("its log and the settings it runs with are in %s\n", r->workdir);
    (void)fflush(stdout);
}

cf_err
cf_cmd_restore_physical(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                        char **argv, struct cf_error *err)
{
    struct cf_phys_opts o;
    struct cf_phys_start_result started;
    struct cf_manifest *m = NULL;
    uint64_t wal_end = 0;
    cf_err rc;

    memset(&o, 0, sizeof(o));
    if (parse_options(argc, argv, &o, err) != CF_OK) {
        cf_error_hint(err, "Run \"coffre restore --physical --help\" for usage.");
        return err->code;
    }
    if (o.start && geteuid() == 0) {
        cf_error_setf(err, CF_ERR_USAGE, "restore --physical --start must not run as root");
        cf_error_hint(err, "PostgreSQL refuses to run as root: run coffre as the PostgreSQL OS "
                           "user (e.g. runuser -u postgres --), or restore without --start and "
                           "start the server yourself.");
        return CF_ERR_USAGE;
    }
    if (o.start && (rc = cf_phys_start_check(&o, err)) != CF_OK)
        return rc;
    if ((rc = cf_phys_choose_backup(repo, &o, &m, err)) != CF_OK)
        return rc;
    /* --immediate needs the WAL up to the end of the backup only */
    if (o.immediate && cf_lsn_parse(m->physical->stop_lsn, &wal_end) && wal_end > 0)
        wal_end--;
    else
        wal_end = o.target_lsn;
    if ((rc = cf_walcheck_for_restore(repo, m, wal_end, err)) != CF_OK) {
        cf_error_context(err, "while checking the WAL that backup %s needs", m->id);
        goto out;
    }
    if ((rc = cf_phys_restore_files(cfg, repo, m, &o, err)) != CF_OK)
        goto out;
    (void)printf("restored backup %s into %s\n", m->id, o.pgdata);
    (void)fflush(stdout);
    o.pg_version_num = m->pg_version_num;
    if (o.start && (rc = cf_phys_start(cfg, &o, &started, err)) == CF_OK)
        print_started(&o, &started);
out:
    cf_manifest_free(m);
    return rc;
}
