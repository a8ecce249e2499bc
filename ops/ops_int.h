/*
 * ops_int.h - shared between the ops/ files: the facts gathered from the
 * repository, the state file, the alert evaluation.
 */
#ifndef CF_OPS_INT_H
#define CF_OPS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/config.h"
#include "storage/repo.h"

#define CF_OPS_MAX_ISSUES 16

enum cf_severity { CF_SEV_NONE = 0, CF_SEV_WARNING = 1, CF_SEV_CRITICAL = 2 };

/* One firing alert condition; name is the Prometheus-style alertname. */
struct cf_ops_issue {
    char name[48];
    enum cf_severity severity;
    char summary[256];
    char hint[256];
};

/* The last run of one kind, from the state file. */
struct cf_ops_run {
    bool present;
    bool ok;
    int64_t end;                 /* when it ended */
    int64_t last_success;        /* 0: never */
    double duration;
    char error[256];             /* the primary message of a failure */
    char error_class[24];        /* cf_err_name() */
};

#define CF_OPS_KINDS 3
extern const char *const cf_ops_kinds[CF_OPS_KINDS];   /* backup, prune, verify */

struct cf_ops_facts {
    int64_t now;
    size_t total_backups;        /* complete */
    size_t incomplete, unreadable, key_missing;
    char key_missing_id[CF_OBJECT_ID_MAX + 1];     /* one backup that no key here can decrypt */
    uint64_t total_size_bytes;   /* stored bytes of every backup */
    bool have_space;
    uint64_t available_space_bytes;
    char space_path[512];
    char latest_backup[CF_OBJECT_ID_MAX + 1];     /* newest complete backup, "" if none */
    char latest_kind[16];
    int64_t latest_time;
    double latest_duration;
    uint64_t latest_plain, latest_compressed, latest_stored;
    size_t last_24h, last_7d, last_30d;
    size_t by_class[3];          /* daily, weekly, monthly */
    size_t old_to_clean;
    size_t wal_objects;
    uint64_t wal_bytes;
    int64_t wal_newest;          /* mtime of the newest WAL object; 0 if none */
    bool wal_listed;
    struct cf_ops_run runs[CF_OPS_KINDS];
    struct cf_ops_issue issues[CF_OPS_MAX_ISSUES];
    size_t n_issues;
};

/* Gather everything from the repository and the state (which may be NULL). */
cf_err cf_ops_gather(const struct cf_config *cfg, const struct cf_repo *repo, json_t *state,
                     struct cf_ops_facts *f, struct cf_error *err);
/* Pure: fill f->issues from the facts and the thresholds. */
void cf_ops_evaluate(const struct cf_config *cfg, struct cf_ops_facts *f);
const char *cf_ops_health(const struct cf_ops_facts *f);   /* healthy|degraded|unhealthy */
const char *cf_severity_name(enum cf_severity s);

/* The state file, locked while open: <state_dir>/state.json. */
struct cf_ops_state {
    int lock_fd;
    char path[600];
    json_t *root;                /* {"runs": {...}, "alerts": {...}} */
};
cf_err cf_ops_state_open(const struct cf_config *cfg, struct cf_ops_state *s, struct cf_error *err);
cf_err cf_ops_state_save(struct cf_ops_state *s, struct cf_error *err);
void cf_ops_state_close(struct cf_ops_state *s);

/* Write data to path atomically (temporary file in the same directory, fsync, rename). */
cf_err cf_ops_write_atomic(const char *path, const char *data, size_t len, mode_t mode,
                           struct cf_error *err);

/* The Prometheus textfile (metrics.textfile); nothing if not configured. */
cf_err cf_ops_write_metrics(const struct cf_config *cfg, const struct cf_ops_facts *f,
                            struct cf_error *err);

/* Notify state changes of the alerts (and reminders), remembering them in state. */
cf_err cf_ops_alerts_notify(const struct cf_config *cfg, const struct cf_ops_facts *f,
                            json_t *state, struct cf_error *err);

#endif
