/*
 * physical.c - the physical restore engine (see physical.h): options,
 * choosing the backup, the WAL check; physical_files.c restores the files,
 * physical_start.c starts the server.
 */
#include "restore/physical.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
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

/* The engine's options, checked, into the internal form o. */
static cf_err
check_options(const struct cf_restore_physical_opts *opts, struct cf_phys_opts *o,
              struct cf_error *err)
{
    int targets = (opts->time != NULL) + (opts->lsn != NULL) + (opts->xid != NULL) +
                  (opts->immediate ? 1 : 0);

    memset(o, 0, sizeof(*o));
    o->bindir = opts->pg->bindir;
    o->config_path = opts->config_path;
    o->conninfo = opts->pg->conninfo;
    o->id = opts->id;
    o->pgdata = opts->pgdata;
    o->time = opts->time;
    o->lsn = opts->lsn;
    o->xid = opts->xid;
    o->immediate = opts->immediate;
    o->start = opts->start;
    o->runs_here = opts->runs_here;
    o->no_archive = opts->no_archive;
    o->timeline = opts->timeline != NULL ? opts->timeline : "latest";
    o->port = opts->port;
    o->socket_dir = opts->socket_dir;
    if (opts->n_maps > CF_PHYS_MAX_MAPS)
        return cf_error_set(err, CF_ERR_USAGE, "at most %d tablespace maps", CF_PHYS_MAX_MAPS);
    for (size_t i = 0; i < opts->n_maps; i++) {
        const char *m = opts->maps[i], *eq = strchr(m, '=');

        if (eq == NULL || m[0] != '/' || eq[1] != '/')
            return cf_error_set(err, CF_ERR_USAGE, "--tablespace-map needs OLD=NEW with "
                                "absolute paths, not \"%s\"", m);
        o->maps[o->n_maps++] = m;
    }
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
    if (o->xid != NULL && (o->xid[0] == '\0' || strspn(o->xid, "0123456789") != strlen(o->xid)))
        return cf_error_set(err, CF_ERR_USAGE, "invalid transaction id \"%s\"", o->xid);
    if (strcmp(o->timeline, "latest") != 0 && strcmp(o->timeline, "current") != 0 &&
        (o->timeline[0] == '\0' || strspn(o->timeline, "0123456789") != strlen(o->timeline)))
        return cf_error_set(err, CF_ERR_USAGE, "--timeline takes latest, current or a "
                            "timeline number");
    if ((o->port != NULL || o->socket_dir != NULL) && !o->start)
        return cf_error_set(err, CF_ERR_USAGE, "--port and --socket-dir go with --start");
    return CF_OK;
}

/*
 * Issue 12, finding 4: root extracting an archive would make root's files of
 * whatever the archive holds.  As root, --as-user is required and tar runs as
 * that user; otherwise --as-user may only name the user coffre runs as.
 */
cf_err
cf_phys_check_user(const char *as_user, struct cf_phys_opts *o, struct cf_error *err)
{
    uid_t me = geteuid();
    struct passwd *pw;

    o->as_other = false;
    if (as_user == NULL) {
        if (me != 0)
            return CF_OK;
        cf_error_setf(err, CF_ERR_USAGE, "restore --physical does not extract a backup as root");
        cf_error_detail(err, "Files extracted as root would be root's, and a crafted archive "
                             "could plant what only root may create.");
        cf_error_hint(err, "Name the PostgreSQL OS user with --as-user (e.g. --as-user "
                           "postgres): coffre then extracts as that user and gives it every "
                           "file. Or run coffre as that user (runuser -u postgres --).");
        return CF_ERR_USAGE;
    }
    errno = 0;
    if ((pw = getpwnam(as_user)) == NULL) {
        cf_error_setf(err, CF_ERR_USAGE, "--as-user: no OS user \"%s\"%s%s", as_user,
                      errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
        cf_error_hint(err, "Name the OS user the restored PostgreSQL server will run as.");
        return CF_ERR_USAGE;
    }
    if (pw->pw_uid == 0) {
        cf_error_setf(err, CF_ERR_USAGE, "--as-user must not name root (\"%s\" has uid 0)",
                      as_user);
        cf_error_hint(err, "PostgreSQL refuses to run as root: name its OS user, e.g. postgres.");
        return CF_ERR_USAGE;
    }
    if (pw->pw_uid == me)
        return CF_OK; /* already that user: nothing to change */
    if (me != 0) {
        cf_error_setf(err, CF_ERR_USAGE, "--as-user %s needs root: coffre runs as uid %lu", as_user,
                      (unsigned long)me);
        cf_error_hint(err, "Run the restore as %s without --as-user, or as root with it.", as_user);
        return CF_ERR_USAGE;
    }
    o->as_other = true;
    o->uid = pw->pw_uid;
    o->gid = pw->pw_gid;
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

cf_err
cf_restore_physical_run(const struct cf_restore_physical_opts *opts,
                        struct cf_restore_physical_result *res, struct cf_error *err)
{
    const struct cf_repo *repo = opts->repo;
    struct cf_phys_opts o;
    struct cf_manifest *m = NULL;
    uint64_t wal_end = 0;
    cf_err rc;

    memset(res, 0, sizeof(*res));
    if (check_options(opts, &o, err) != CF_OK) {
        cf_error_hint(err, "Run \"coffre restore --physical --help\" for usage.");
        return err->code;
    }
    if (o.start && geteuid() == 0) {
        cf_error_setf(err, CF_ERR_USAGE, "restore --physical --start must not run as root");
        cf_error_hint(err, "PostgreSQL refuses to run as root: run coffre as the PostgreSQL OS "
                           "user (e.g. runuser -u postgres --), or restore with --as-user "
                           "postgres and without --start, and start the server as that user.");
        return CF_ERR_USAGE;
    }
    if (cf_phys_check_user(opts->as_user, &o, err) != CF_OK)
        return err->code;
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
    if ((rc = cf_phys_restore_files(repo, m, &o, err)) != CF_OK)
        goto out;
    (void)snprintf(res->id, sizeof(res->id), "%s", m->id);
    (void)snprintf(res->pgdata, sizeof(res->pgdata), "%s", o.pgdata);
    res->pg_version_num = m->pg_version_num;
    res->backup_stop_time = m->stop_time;
    cf_log_info("restored backup %s into %s", m->id, o.pgdata);
    o.pg_version_num = m->pg_version_num;
    if (o.start && (rc = cf_phys_start(&o, &res->start, err)) == CF_OK)
        res->started = true;
out:
    cf_manifest_free(m);
    return rc;
}
