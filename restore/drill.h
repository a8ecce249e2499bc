/*
 * drill.h - the recovery drill engine (`coffre drill`, docs/drill.md).
 *
 * A drill restores backups into a scratch PostgreSQL that it starts and
 * removes itself (restore/cluster.h), or into a staging server
 * ([drill] target), checks the result against what the backup recorded at
 * backup time, measures how long each phase took (RTO) and how much data the
 * restore would have lost (RPO), and compares both with targets.  Scenarios
 * follow seed 003's recovery procedures:
 *   simple   the newest complete logical backup, every database (or the
 *            tenant's schema), restored whole;
 *   partial  one table of it (the largest unless named) restored selectively
 *            into an empty database;
 *   total    the newest physical backup restored to the end of the archived WAL;
 *   pitr     the newest physical backup restored to a target time (default: the
 *            midpoint between its end and the newest archived WAL), where
 *            recovery must stop exactly.
 * Every check is a named verdict with its figures; the drill's outcome is
 * CF_ERR_CHECK when one failed.  Everything it starts and writes locally is
 * removed at the end, also on failure, on SIGINT/SIGTERM and on timeout,
 * unless keep.
 */
#ifndef CF_RESTORE_DRILL_H
#define CF_RESTORE_DRILL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "storage/repo.h"

enum cf_drill_scenario {
    CF_DRILL_SIMPLE = 0,
    CF_DRILL_PARTIAL = 1,
    CF_DRILL_TOTAL = 2,
    CF_DRILL_PITR = 3
};
#define CF_DRILL_SCENARIOS 4
#define CF_DRILL_ALL 0xfu

const char *cf_drill_scenario_name(enum cf_drill_scenario s);
/* "simple" → CF_DRILL_SIMPLE ...; -1 if unknown. */
int cf_drill_scenario_parse(const char *name);

struct cf_drill_opts {
    const struct cf_repo *repo;
    const char *instance;
    enum cf_formula formula;
    const char *config_path;            /* the restored clusters' restore_command */
    const struct cf_pg_conf *pg;        /* bindir (and conninfo's user, unused) */
    const struct cf_drill_conf *drill;  /* [drill]: target, check_sql, targets, timeout */
    const char *workdir;                /* private directory for scratch clusters and files,
                                           created 0700; removed at the end unless keep */
    unsigned scenarios;                 /* 1 << scenario; CF_DRILL_ALL: every one the
                                           repository has a backup for */
    const char *backup_id;              /* drill this backup only (its kind picks scenarios) */
    const char *table;                  /* partial: "schema.table" (or "table"); NULL: the
                                           table with the most rows in the manifest */
    const char *pitr_time;              /* pitr: the target time; NULL: the midpoint */
    bool keep;                          /* leave the scratch servers running, files in place */
    bool targets_warn;                  /* a missed RTO/RPO target warns, it does not fail */
    int64_t timeout;                    /* seconds for the whole drill; 0: drill->timeout */
    const char *version;                /* coffre's version, in the record */
    /* optional: told when a phase starts ("simple: restore database app") */
    void (*on_phase)(void *arg, const char *what);
    void *arg;
};

enum cf_check_status { CF_CHECK_PASS = 0, CF_CHECK_FAIL, CF_CHECK_WARN, CF_CHECK_SKIP };
const char *cf_check_status_name(enum cf_check_status s);

/* One named verdict: "integrity", "restore", "rows app.public.orders", "amcheck", "rto"... */
struct cf_drill_check {
    char name[160];
    enum cf_check_status status;
    char detail[512];                   /* its figures, or why it failed */
    double seconds;                     /* how long it took, when it ran on its own */
};

struct cf_drill_scenario_result {
    enum cf_drill_scenario scenario;
    bool ran;                           /* false: not asked for, or nothing to drill */
    char skipped[256];                  /* why it did not run ("" when it ran or was not
                                           asked for) */
    bool ok;                            /* every check passed (warnings allowed) */
    char backup_id[CF_OBJECT_ID_MAX + 1];
    char kind[16];                      /* logical, physical */
    /* RTO, per phase (seconds) */
    double fetch_s, restore_s, index_s, recovery_s, checks_s, rto_s;
    int64_t rto_target;
    double rto_extrapolated_s;          /* the whole instance at the measured rate */
    uint64_t bytes;                     /* plaintext restored */
    double mb_per_s;
    /* RPO: logical, the age of the backup's snapshot at the drill's start; physical,
     * the time between the last replayed commit and the drill's start */
    double rpo_s;
    int64_t rpo_target;
    char target_time[64];               /* pitr: the recovery target */
    char reached[64];                   /* physical: the last replayed commit (UTC) */
    struct cf_drill_check *checks;
    size_t n_checks, cap_checks;
    char record[CF_STORAGE_KEY_MAX + 1]; /* the drill record stored with the backup, or "" */
    struct cf_error error;              /* the first error that stopped it (not a failed check) */
};

struct cf_drill_result {
    int64_t start, end;                 /* epoch seconds */
    struct cf_drill_scenario_result scenarios[CF_DRILL_SCENARIOS];
    size_t n_checks, n_failed, n_warned;
    bool interrupted;                   /* a signal or the timeout ended it */
    bool timed_out;
    char kept[1024];                    /* keep: how to reach what was left running */
};

/*
 * Run the drill.  CF_OK: every check passed.  CF_ERR_CHECK: a check failed
 * (the backup is bad, or a target was missed).  CF_ERR_CANCELLED: a signal or
 * the timeout ended it (res->interrupted).  Other codes: an infrastructure
 * error (repository, keys, PostgreSQL tools) before any verdict.  res is
 * filled in every case; release it with cf_drill_result_clear.
 */
cf_err cf_drill_run(const struct cf_drill_opts *opts, struct cf_drill_result *res,
                    struct cf_error *err);
void cf_drill_result_clear(struct cf_drill_result *res);

/* One past drill of one backup, as recorded in the repository. */
struct cf_drill_record {
    char backup_id[CF_OBJECT_ID_MAX + 1];
    char key[CF_STORAGE_KEY_MAX + 1];
    char scenario[16];
    int64_t time;                       /* when the drill ran */
    bool ok;
    double rto_s, rpo_s;
    size_t n_checks, n_failed;
    char problem[256];                  /* first failed check, or why unreadable */
};

/* Every drill record in the repository, oldest first (`coffre drill --history`). */
cf_err cf_drill_history(const struct cf_repo *repo, struct cf_drill_record **out, size_t *n,
                        struct cf_error *err);

#endif
