/*
 * alerts.c - the alert conditions (see alerts.h).  Names follow Prometheus
 * alert naming (CoffreBackupTooOld) and match monitoring/coffre-alerts.yml.
 */
#include "policies/alerts.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/manifest.h"

const char *const cf_alert_kinds[CF_ALERT_KINDS] = {"backup", "prune", "verify", "drill"};

const char *
cf_severity_name(enum cf_severity s)
{
    return s == CF_SEV_CRITICAL ? "critical" : s == CF_SEV_WARNING ? "warning" : "none";
}

__attribute__((format(printf, 5, 6))) static void
add_issue(struct cf_alert_facts *f, const char *name, enum cf_severity sev, const char *hint,
          const char *fmt, ...)
{
    struct cf_alert_issue *is;
    va_list ap;

    if (f->n_issues == CF_ALERT_MAX_ISSUES)
        return;
    is = &f->issues[f->n_issues++];
    (void)snprintf(is->name, sizeof(is->name), "%s", name);
    is->severity = sev;
    (void)snprintf(is->hint, sizeof(is->hint), "%s", hint);
    va_start(ap, fmt);
    (void)vsnprintf(is->summary, sizeof(is->summary), fmt, ap);
    va_end(ap);
}

void
cf_alerts_format_age(int64_t s, char *buf, size_t size)
{
    if (s >= (int64_t)2 * 86400)
        (void)snprintf(buf, size, "%.1f days", (double)s / 86400);
    else if (s >= 3600)
        (void)snprintf(buf, size, "%.1f h", (double)s / 3600);
    else
        (void)snprintf(buf, size, "%lld s", (long long)s);
}

static void
eval_runs(struct cf_alert_facts *f)
{
    static const struct {
        const char *name;
        enum cf_severity sev;
        const char *hint;
    } what[CF_ALERT_KINDS] = {
        {"CoffreBackupFailed", CF_SEV_CRITICAL,
         "Read the run's log (journalctl -u coffre-backup@INSTANCE), fix the cause, run the "
         "backup again."},
        {"CoffrePruneFailed", CF_SEV_WARNING,
         "Read the log (journalctl -u coffre-prune@INSTANCE); the repository keeps growing "
         "until prune succeeds."},
        {"CoffreVerifyFailed", CF_SEV_CRITICAL,
         "A backup may be damaged: run \"coffre verify --all\", take a new backup, keep the "
         "damaged one for investigation."},
        {"CoffreDrillFailed", CF_SEV_CRITICAL,
         "The last recovery drill failed: read its report (coffre drill --history, the JUnit "
         "or journal of coffre-drill@INSTANCE) and docs/drill.md for the failed check."},
    };

    for (size_t k = 0; k < CF_ALERT_KINDS; k++) {
        const struct cf_alert_run *r = &f->runs[k];
        char when[32];

        if (!r->present || r->ok)
            continue;
        cf_format_time(r->end, when, sizeof(when));
        add_issue(f, what[k].name, what[k].sev, what[k].hint, "the last %s run failed at %s: %s",
                  cf_alert_kinds[k], when, r->error[0] ? r->error : r->error_class);
    }
}

/* No successful drill for too long; a new instance has the warning age since its first
 * backup to run one. */
static void
eval_drill_age(const struct cf_alerts_conf *th, const char *instance, struct cf_alert_facts *f)
{
    const struct cf_alert_run *r = &f->runs[CF_RUN_DRILL];
    int64_t since = r->present && r->last_success > 0 ? r->last_success : f->oldest_backup_time;
    int64_t age = f->now - since;
    enum cf_severity sev = age > th->drill_age_critical  ? CF_SEV_CRITICAL
                           : age > th->drill_age_warning ? CF_SEV_WARNING
                                                         : CF_SEV_NONE;
    char a[32];

    if (f->total_backups == 0 || since <= 0 || sev == CF_SEV_NONE)
        return;
    cf_alerts_format_age(age, a, sizeof(a));
    if (r->present && r->last_success > 0)
        add_issue(f, "CoffreDrillTooOld", sev,
                  "Run \"coffre drill\" and check that coffre-drill@INSTANCE.timer is enabled.",
                  "no successful recovery drill of %s for %s", instance, a);
    else
        add_issue(f, "CoffreDrillTooOld", sev,
                  "Run \"coffre drill\" and check that coffre-drill@INSTANCE.timer is enabled.",
                  "no successful recovery drill of %s yet, %s after its oldest backup", instance,
                  a);
}

void
cf_alerts_evaluate(const struct cf_alerts_conf *th, const char *instance, struct cf_alert_facts *f)
{
    char a[32], b[32];

    f->n_issues = 0;
    if (f->total_backups == 0) {
        add_issue(f, "CoffreNoBackup", CF_SEV_CRITICAL,
                  "Run \"coffre backup\" and check that coffre-backup@INSTANCE.timer is enabled.",
                  "instance %s has no complete backup", instance);
    } else {
        int64_t age = f->now - f->latest_time;
        enum cf_severity sev = age > th->age_critical  ? CF_SEV_CRITICAL
                               : age > th->age_warning ? CF_SEV_WARNING
                                                       : CF_SEV_NONE;

        cf_alerts_format_age(age, a, sizeof(a));
        cf_alerts_format_age(sev == CF_SEV_CRITICAL ? th->age_critical : th->age_warning, b,
                             sizeof(b));
        if (sev != CF_SEV_NONE)
            add_issue(f, "CoffreBackupTooOld", sev,
                      "Check the backup timer (systemctl list-timers 'coffre-backup@*') and the "
                      "last backup run's log.",
                      "the newest backup of %s (%s) is %s old (threshold %s)", instance,
                      f->latest_backup, a, b);
    }
    if (f->have_space) {
        uint64_t free_b = f->available_space_bytes;
        enum cf_severity sev = free_b < th->free_critical  ? CF_SEV_CRITICAL
                               : free_b < th->free_warning ? CF_SEV_WARNING
                                                           : CF_SEV_NONE;

        if (sev != CF_SEV_NONE)
            add_issue(f, "CoffreLowDiskSpace", sev,
                      "Free space: run \"coffre prune\", shorten the retention, or grow the file "
                      "system.",
                      "%.2f GiB free on %s (threshold %.2f GiB)",
                      (double)free_b / (1024.0 * 1024 * 1024), f->space_path,
                      (double)(sev == CF_SEV_CRITICAL ? th->free_critical : th->free_warning) /
                          (1024.0 * 1024 * 1024));
    }
    eval_runs(f);
    if (f->wal_newest > 0) {
        int64_t lag = f->now - f->wal_newest;
        enum cf_severity sev = lag > th->wal_lag_critical  ? CF_SEV_CRITICAL
                               : lag > th->wal_lag_warning ? CF_SEV_WARNING
                                                           : CF_SEV_NONE;

        cf_alerts_format_age(lag, a, sizeof(a));
        if (sev != CF_SEV_NONE)
            add_issue(f, "CoffreWalArchiveLag", sev,
                      "Check archive_command / coffre-wal-stream@INSTANCE and "
                      "pg_stat_archiver.failed_count; point-in-time recovery stops at the "
                      "newest archived WAL.",
                      "the newest archived WAL of %s is %s old", instance, a);
    }
    if (f->key_missing > 0)
        add_issue(f, "CoffreKeyMissing", CF_SEV_CRITICAL,
                  "Run \"coffre keys check\": it lists the KEKs the stored backups need; put the "
                  "missing one back on the HSM (or restore it from its escrow) before these "
                  "backups are needed.",
                  "%zu retained backup(s) of %s, e.g. %s, need a key that no configured HSM "
                  "key can unwrap",
                  f->key_missing, instance, f->key_missing_id);
    if (f->unreadable > 0)
        add_issue(f, "CoffreBackupUnreadable", CF_SEV_WARNING,
                  "Run \"coffre list\" and \"coffre verify\" on them.",
                  "%zu backup manifest(s) of %s cannot be read", f->unreadable, instance);
    eval_drill_age(th, instance, f);
}

const char *
cf_alerts_health(const struct cf_alert_facts *f)
{
    enum cf_severity worst = CF_SEV_NONE;

    for (size_t i = 0; i < f->n_issues; i++)
        if (f->issues[i].severity > worst)
            worst = f->issues[i].severity;
    return worst == CF_SEV_CRITICAL  ? "unhealthy"
           : worst == CF_SEV_WARNING ? "degraded"
                                     : "healthy";
}
