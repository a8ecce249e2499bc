/*
 * alerts.h - the alert conditions: from facts about an instance (gathered by
 * ops/status.c) and the [alerts] thresholds, which conditions hold and how
 * bad they are.  Pure: no I/O, so every threshold and boundary is unit-tested.
 */
#ifndef CF_ALERTS_H
#define CF_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define CF_ALERT_MAX_ISSUES 16
#define CF_ALERT_ID_MAX 96          /* a backup id and its NUL */

enum cf_severity { CF_SEV_NONE = 0, CF_SEV_WARNING = 1, CF_SEV_CRITICAL = 2 };

/* One firing alert condition; name is the Prometheus-style alertname. */
struct cf_alert_issue {
    char name[48];
    enum cf_severity severity;
    char summary[256];
    char hint[256];
};

/* The last run of one kind, from the state file. */
struct cf_alert_run {
    bool present;
    bool ok;
    int64_t end;                 /* when it ended */
    int64_t last_success;        /* 0: never */
    double duration;
    char error[256];             /* the primary message of a failure */
    char error_class[24];        /* cf_err_name() */
};

/* The kinds of run whose outcome is recorded (state.json, metrics, alerts). */
enum cf_run_kind { CF_RUN_BACKUP = 0, CF_RUN_PRUNE = 1, CF_RUN_VERIFY = 2, CF_RUN_DRILL = 3 };
#define CF_ALERT_KINDS 4
/* Their names, indexed by enum cf_run_kind: backup, prune, verify, drill. */
extern const char *const cf_alert_kinds[CF_ALERT_KINDS];

struct cf_alert_facts {
    int64_t now;
    size_t total_backups;        /* complete */
    size_t incomplete, unreadable, key_missing;
    char key_missing_id[CF_ALERT_ID_MAX];     /* one backup that no key here can decrypt */
    uint64_t total_size_bytes;   /* stored bytes of every backup */
    bool have_space;
    uint64_t available_space_bytes;
    char space_path[512];
    char latest_backup[CF_ALERT_ID_MAX];     /* newest complete backup, "" if none */
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
    struct cf_alert_run runs[CF_ALERT_KINDS];
    int64_t oldest_backup_time;  /* start of the oldest complete backup; 0 if none */
    /* the scenarios of the last drill (state.json "drill") */
    struct cf_alert_drill {
        char name[16];
        bool ok;
        double rto, rpo;         /* rpo < 0: not measured */
        size_t checks_failed;
    } drill[4];
    size_t n_drill;
    int64_t drill_time;
    /* each tenant's last migration step (state.json "migrations") */
    struct cf_alert_migration {
        char schema[64];
        char state[16];
        double freeze, verify;   /* freeze < 0: not measured */
        uint64_t bytes;
    } migrations[8];
    size_t n_migrations;
    struct cf_alert_issue issues[CF_ALERT_MAX_ISSUES];
    size_t n_issues;
};

/* Fill f->issues from the facts and the [alerts] thresholds; instance names it in summaries. */
void cf_alerts_evaluate(const struct cf_alerts_conf *thresholds, const char *instance,
                        struct cf_alert_facts *f);
/* "unhealthy" (a critical issue), "degraded" (warnings only) or "healthy". */
const char *cf_alerts_health(const struct cf_alert_facts *f);
const char *cf_severity_name(enum cf_severity s);
/* "42 s", "7.0 h", "3.5 days". */
void cf_alerts_format_age(int64_t seconds, char *buf, size_t size);

#endif
