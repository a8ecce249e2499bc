/*
 * physical.h - the physical restore engine: a base backup into a new data
 * directory, set up for point-in-time recovery through `coffre wal-get`,
 * and optionally started until recovery ends.
 *
 * Order, so that the data directory only ever appears complete:
 *   1. choose the base backup, check the repository has the WAL it needs;
 *   2. extract every tar (decrypt -> zstd -d -> sha256 -> `tar -x` child) into
 *      a staging directory next to it, tablespaces into their (mapped)
 *      locations, and rewrite the pg_tblspc symlinks;
 *   3. check the files against the server's backup_manifest (pg_verifybackup);
 *   4. write recovery.signal and the recovery settings;
 *   5. rename the staging directory into place.
 * Any failure removes the staging directory and what was extracted into
 * tablespace locations.
 */
#ifndef CF_RESTORE_PHYSICAL_H
#define CF_RESTORE_PHYSICAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "restore/cluster.h"
#include "storage/repo.h"

struct cf_restore_physical_opts {
    const struct cf_repo *repo;
    const struct cf_pg_conf *pg;   /* bindir (pg_verifybackup, postgres); with start, the
                                      user of conninfo follows recovery */
    const char *config_path;       /* the restored server's restore_command runs
                                      `coffre --config PATH wal-get` */
    const char *id;                /* NULL: the newest complete physical backup that ended
                                      before the target */
    const char *pgdata;            /* must not exist or be empty */
    /* the target: at most one of time (the zone is required), lsn, xid, immediate;
     * none: replay all the WAL there is */
    const char *time, *lsn, *xid;
    bool immediate;
    const char *const *maps;       /* tablespaces, "OLD=NEW" with absolute paths */
    size_t n_maps;
    const char *timeline;          /* recovery_target_timeline: NULL or "latest", "current",
                                      a number */
    bool no_archive;               /* archive_mode = off in the restored server */
    bool start;                    /* start it and wait for the end of recovery; it keeps
                                      running (never as root) */
    bool runs_here;                /* the caller starts the server and stops it before it
                                      exits (drills): as with start, restore_command names
                                      this run's systemd credentials directory */
    const char *port;              /* with start: where it listens; NULL: a free port */
    const char *socket_dir;        /* with start: NULL: "<pgdata>.coffre/socket" */
    const char *as_user;           /* extract as this OS user (its uid and primary gid) and
                                      give it every file; required when run as root, which
                                      otherwise is refused; NULL: the user coffre runs as */
};

/*
 * With start: the restored server runs through restore/cluster.c with its
 * work directory (log, pg_hba.conf, pg_ident.conf, socket/) in
 * "<pgdata>.coffre", listening only on socket_dir/port.
 */
struct cf_phys_start_result {
    struct cf_recovery_state recovery;  /* when recovery ended */
    char conninfo[PATH_MAX + 512];      /* how to connect (dbname postgres) */
    char socket_dir[PATH_MAX];
    int port;
    char workdir[PATH_MAX];             /* log and settings the server runs with */
    char log[PATH_MAX];
};

struct cf_restore_physical_result {
    char id[CF_OBJECT_ID_MAX + 1];      /* the backup restored */
    char pgdata[PATH_MAX];              /* absolute */
    int pg_version_num;                 /* of the backup */
    int64_t backup_stop_time;
    bool started;
    struct cf_phys_start_result start;  /* when started */
};

/* res->id and res->pgdata are set once the files are in place, also when start fails. */
cf_err cf_restore_physical_run(const struct cf_restore_physical_opts *opts,
                               struct cf_restore_physical_result *res, struct cf_error *err);

#endif
