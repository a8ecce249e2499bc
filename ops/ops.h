/*
 * ops.h - what operators see of coffre: `coffre status`, the Prometheus
 * textfile, alerts (docs/operations.md).
 *
 * When the configuration has a [metrics] or [alerts] section, after every
 * backup, prune and verify run coffre records the run's result
 * in <metrics.state_dir>/state.json, rewrites the metrics textfile and
 * evaluates the alerts; `coffre alert check` (coffre-alert@.timer, every
 * 10 minutes) does the same without a run, so that a backup that never
 * started is noticed too.  None of this changes the run's exit status: a
 * failure here is a warning.
 */
#ifndef CF_OPS_H
#define CF_OPS_H

#include <stdint.h>

#include "common/config.h"
#include "policies/alerts.h"
#include "storage/repo.h"

/* What operations use: the configuration sections for metrics, alerts and status. */
struct cf_ops_env {
    const char *config_path;                   /* named in hints */
    const char *instance;                      /* [coffre] instance: labels and summaries */
    const struct cf_repo_conf *repo_conf;      /* where free space is measured (posix) */
    const struct cf_retention_conf *retention; /* what prune would delete */
    const struct cf_metrics_conf *metrics;     /* the textfile, the state directory */
    const struct cf_alerts_conf *alerts;       /* thresholds and receivers */
};

/* The figures of a drill, for the metrics and the status (restore/drill.h has them all). */
#define CF_OPS_DRILL_SCENARIOS 4
struct cf_ops_drill {
    int64_t time;                               /* when it started */
    struct cf_ops_drill_scenario {
        char name[16];                          /* simple, partial, total, pitr */
        bool ok;
        double rto_s, rpo_s;                    /* rpo_s < 0: not measured */
        size_t checks_failed;
    } scenarios[CF_OPS_DRILL_SCENARIOS];
    size_t n;
};
/* Replace the last drill's figures in the state file (the run itself is recorded by
 * cf_ops_after_run, kind drill). */
cf_err cf_ops_record_drill(const struct cf_ops_env *env, const struct cf_ops_drill *d,
                           struct cf_error *err);

/* A tenant migration's figures after a step (restore/migrate.h has them all). */
struct cf_ops_migration {
    char schema[64];                            /* the tenant's schema at the source */
    char id[96];
    char state[16];                             /* frozen, ..., ready, finalized, rolled-back */
    int64_t time;                               /* when the step ended */
    double freeze_s;                            /* frozen -> verified; < 0: not yet */
    uint64_t bytes;                             /* the final backup's plain bytes */
    double verify_s;
};
/* Replace the tenant's migration figures in the state file. */
cf_err cf_ops_record_migration(const struct cf_ops_env *env, const struct cf_ops_migration *m,
                               struct cf_error *err);

/* Record that a run of kind (backup, prune, verify) that started at
 * start ended with run_err (code CF_OK: success), then refresh the metrics and
 * evaluate the alerts.  Failures are logged as warnings. */
void cf_ops_after_run(const struct cf_ops_env *env, const struct cf_repo *repo,
                      enum cf_run_kind kind, int64_t start, const struct cf_error *run_err);

/*
 * The status engine: every fact about the instance (repository, state file,
 * free space, WAL archive) and the alert conditions they raise, into *f.
 * Only reads: no lock, no directory created.
 */
cf_err cf_status_run(const struct cf_ops_env *env, const struct cf_repo *repo,
                     struct cf_alert_facts *f, struct cf_error *err);

/* `alert check`: gather, write the metrics, notify the receivers of every change. */
cf_err cf_alert_check_run(const struct cf_ops_env *env, const struct cf_repo *repo,
                          struct cf_error *err);
/* `alert test`: a test notification to every receiver; how many were tried and reached. */
/*
 * Reach every configured receiver without notifying anyone (coffre check): the
 * webhook's and the SMTP server's host accept a connection (the TLS handshake
 * included for https:// and smtps://), Telegram's getMe accepts the bot token.
 * what lists the receivers reached ("webhook, smtp, telegram"); CF_OK, or the
 * first failure naming its receiver.  *tried: how many are configured.
 */
cf_err cf_alert_probe_run(const struct cf_ops_env *env, size_t *tried, char *what, size_t size,
                          struct cf_error *err);
cf_err cf_alert_test_run(const struct cf_ops_env *env, size_t *tried, size_t *sent,
                         struct cf_error *err);

#endif
