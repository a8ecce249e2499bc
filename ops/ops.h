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
#include "storage/repo.h"

extern const char cf_status_usage[];
extern const char cf_alert_usage[];

/* Record that a run of kind ("backup", "prune", "verify") that started at
 * start ended with run_err (code CF_OK: success), then refresh the metrics and
 * evaluate the alerts.  Failures are logged as warnings. */
void cf_ops_after_run(const struct cf_config *cfg, const struct cf_repo *repo, const char *kind,
                      int64_t start, const struct cf_error *run_err);

/* `coffre status [--json]`: argv[0] is "status". */
cf_err cf_cmd_status(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                     char **argv, struct cf_error *err);

/* `coffre alert check|test`: argv[0] is "alert". */
cf_err cf_cmd_alert(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                    char **argv, struct cf_error *err);

#endif
