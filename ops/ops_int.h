/*
 * ops_int.h - shared between the ops/ files: the facts gathered from the
 * repository, the state file, the metrics and the notifications.
 */
#ifndef CF_OPS_INT_H
#define CF_OPS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ops/ops.h"
#include "policies/alerts.h"
#include "storage/repo.h"

_Static_assert(CF_OBJECT_ID_MAX + 1 <= CF_ALERT_ID_MAX, "cf_alert_facts ids are too short");

/* Gather everything from the repository and the state (which may be NULL). */
cf_err cf_ops_gather(const struct cf_ops_env *env, const struct cf_repo *repo, json_t *state,
                     struct cf_alert_facts *f, struct cf_error *err);

/* The state file, locked while open: <state_dir>/state.json. */
struct cf_ops_state {
    int lock_fd;
    char path[600];
    json_t *root;                /* {"runs": {...}, "alerts": {...}} */
};
cf_err cf_ops_state_open(const struct cf_ops_env *env, struct cf_ops_state *s,
                         struct cf_error *err);
cf_err cf_ops_state_save(struct cf_ops_state *s, struct cf_error *err);
void cf_ops_state_close(struct cf_ops_state *s);

/* The Prometheus textfile (metrics.textfile); nothing if not configured. */
cf_err cf_ops_write_metrics(const struct cf_ops_env *env, const struct cf_alert_facts *f,
                            struct cf_error *err);

/* Notify state changes of the alerts (and reminders), remembering them in state. */
cf_err cf_ops_alerts_notify(const struct cf_ops_env *env, const struct cf_alert_facts *f,
                            json_t *state, struct cf_error *err);

#endif
