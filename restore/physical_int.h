/*
 * physical_int.h - the parts of `coffre restore --physical`, shared by
 * physical.c (options, command), physical_files.c (choose, extract, verify,
 * recovery settings) and physical_start.c (--start).
 */
#ifndef CF_RESTORE_PHYSICAL_INT_H
#define CF_RESTORE_PHYSICAL_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "restore/physical.h"
#include "storage/repo.h"

#define CF_PHYS_MAX_MAPS 64

/* The engine's options, checked and parsed (physical.c). */
struct cf_phys_opts {
    const char *bindir;         /* [postgres] bindir: pg_verifybackup, postgres */
    const char *config_path;    /* restore_command: coffre --config PATH wal-get */
    const char *conninfo;       /* [postgres] conninfo: --start connects as its user */
    const char *id;             /* NULL: chosen from the target */
    const char *pgdata;         /* as given; made absolute by restore_files */
    const char *time, *lsn, *xid;
    bool immediate;
    int64_t target_time;        /* --time, seconds */
    uint64_t target_lsn;        /* --lsn; 0: none */
    const char *maps[CF_PHYS_MAX_MAPS]; /* "OLD=NEW" */
    int n_maps;
    bool start;
    bool runs_here;             /* see cf_restore_physical_opts */
    bool no_archive;            /* archive_mode = off in postgresql.auto.conf */
    const char *timeline;       /* recovery_target_timeline: latest (default), current, N */
    const char *port, *socket_dir;
    int pg_version_num;         /* of the backup: picks pg_ctl */
    bool as_other;              /* --as-user names another user: extract as uid/gid */
    uid_t uid;
    gid_t gid;
    char pgdata_abs[PATH_MAX];  /* pgdata made absolute; pgdata then points here */
};

/* Parse a recovery target time with its zone; -1 if malformed. */
int cf_phys_parse_time(const char *s, int64_t *out);

/* The backup to restore: o->id, or the newest complete physical backup that
 * ended before the target.  *out on success. */
cf_err cf_phys_choose_backup(const struct cf_repo *repo, const struct cf_phys_opts *o,
                             struct cf_manifest **out, struct cf_error *err);
/* Steps 2-5: on failure nothing is left in DIR or the tablespace locations. */
/*
 * After extraction: refuse anything but regular files, directories and (in
 * the data directory) the pg_tblspc/<oid> links; clear set-ID and sticky
 * bits; give the data directory mode 0700.  CF_ERR_CORRUPT names the entry.
 */
cf_err cf_phys_check_tree(const char *root, bool is_pgdata, struct cf_error *err);
/* The sink an archive is extracted through: tar -x into dir (no owner, no
 * set-ID bits, modes under the umask, directory modes set last).  With
 * as_other, tar runs as uid/gid through setpriv(1), so that what it writes
 * is never root's, whatever the archive says. */
cf_err cf_phys_tar_sink_new(const char *dir, const struct cf_phys_opts *o, struct cf_sink **out,
                            struct cf_error *err);
/* The checks --as-user and running as root need, before anything is written. */
cf_err cf_phys_check_user(const char *as_user, struct cf_phys_opts *o, struct cf_error *err);
cf_err cf_phys_restore_files(const struct cf_repo *repo, const struct cf_manifest *m,
                             struct cf_phys_opts *o, struct cf_error *err);
/* Before anything is restored: CF_ERR_EXISTS when --start's work directory
 * is taken, CF_ERR_USAGE when its socket path would be too long. */
cf_err cf_phys_start_check(const struct cf_phys_opts *o, struct cf_error *err);
/* Start the restored server and wait for the end of recovery; *res on success.
 * The server is only stopped by PostgreSQL itself: on cancellation it keeps
 * running (the hint says how to stop it). */
cf_err cf_phys_start(const struct cf_phys_opts *o, struct cf_phys_start_result *res,
                     struct cf_error *err);

#endif
