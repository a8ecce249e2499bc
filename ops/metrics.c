/*
 * metrics.c - the Prometheus textfile (node_exporter's textfile collector).
 *
 * Written whole, to a temporary file renamed over metrics.textfile, so the
 * collector never reads half a file.  Names and units follow Prometheus
 * conventions (base units, _seconds, _bytes, _timestamp_seconds); every
 * series carries coffre_instance="<coffre.instance>" (node_exporter's own
 * "instance" label names the host).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "ops/ops_int.h"

struct out {
    char *buf;
    size_t len, cap;
    bool failed;
};

__attribute__((format(printf, 2, 3))) static void
put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        {
            size_t cap = (o->cap + (size_t)n) * 2;
            char *b = realloc(o->buf, cap);

            if (b == NULL) {
                o->failed = true;
                return;
            }
            o->buf = b;
            o->cap = cap;
        }
    }
}

static void
head(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Each tenant's last migration: its step, its freeze, what it moved, its verification. */
static void
write_migrations(struct out *o, const char *inst, const struct cf_alert_facts *f)
{
    static const char *const states[] = {"frozen", "backed-up", "restored", "verified",
                                          "ready", "finalized", "rolled-back"};

    if (f->n_migrations == 0)
        return;
    head(o, "coffre_migrate_state", "gauge",
         "1 for the state of each tenant's last migration, 0 for the others.");
    for (size_t i = 0; i < f->n_migrations; i++)
        for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++)
            put(o, "coffre_migrate_state{coffre_instance=\"%s\",schema=\"%s\",state=\"%s\"} %d\n",
                inst, f->migrations[i].schema, states[s],
                strcmp(f->migrations[i].state, states[s]) == 0);
    head(o, "coffre_migrate_freeze_seconds", "gauge",
         "How long the tenant's writes were frozen, from the freeze to the destination verified.");
    for (size_t i = 0; i < f->n_migrations; i++)
        if (f->migrations[i].freeze >= 0)
            put(o, "coffre_migrate_freeze_seconds{coffre_instance=\"%s\",schema=\"%s\"} %.0f\n",
                inst, f->migrations[i].schema, f->migrations[i].freeze);
    head(o, "coffre_migrate_bytes", "gauge", "Bytes the migration's final backup dumped.");
    for (size_t i = 0; i < f->n_migrations; i++)
        put(o, "coffre_migrate_bytes{coffre_instance=\"%s\",schema=\"%s\"} %llu\n", inst,
            f->migrations[i].schema, (unsigned long long)f->migrations[i].bytes);
    head(o, "coffre_migrate_verify_seconds", "gauge",
         "How long verifying the destination against the source took.");
    for (size_t i = 0; i < f->n_migrations; i++)
        put(o, "coffre_migrate_verify_seconds{coffre_instance=\"%s\",schema=\"%s\"} %.3f\n",
            inst, f->migrations[i].schema, f->migrations[i].verify);
}

/* The last recovery drill: when, and per scenario its RTO, RPO and failed checks. */
static void
write_drill(struct out *o, const char *inst, const struct cf_alert_facts *f)
{
    const struct cf_alert_run *r = &f->runs[CF_RUN_DRILL];

    if (!r->present)
        return;
    head(o, "coffre_drill_last_run_timestamp_seconds", "gauge", "When the last drill ended.");
    put(o, "coffre_drill_last_run_timestamp_seconds{coffre_instance=\"%s\"} %lld\n", inst,
        (long long)r->end);
    if (r->last_success > 0) {
        head(o, "coffre_drill_last_success_timestamp_seconds", "gauge",
             "When the last drill whose every check passed ended.");
        put(o, "coffre_drill_last_success_timestamp_seconds{coffre_instance=\"%s\"} %lld\n",
            inst, (long long)r->last_success);
    }
    if (f->n_drill == 0)
        return;
    head(o, "coffre_drill_rto_seconds", "gauge",
         "Time to restore, per scenario, in the last drill.");
    for (size_t i = 0; i < f->n_drill; i++)
        put(o, "coffre_drill_rto_seconds{coffre_instance=\"%s\",scenario=\"%s\"} %.3f\n", inst,
            f->drill[i].name, f->drill[i].rto);
    head(o, "coffre_drill_rpo_seconds", "gauge",
         "Data the restore would have lost, per scenario, in the last drill.");
    for (size_t i = 0; i < f->n_drill; i++)
        if (f->drill[i].rpo >= 0)
            put(o, "coffre_drill_rpo_seconds{coffre_instance=\"%s\",scenario=\"%s\"} %.3f\n",
                inst, f->drill[i].name, f->drill[i].rpo);
    head(o, "coffre_drill_checks_failed", "gauge",
         "Checks that failed, per scenario, in the last drill.");
    for (size_t i = 0; i < f->n_drill; i++)
        put(o, "coffre_drill_checks_failed{coffre_instance=\"%s\",scenario=\"%s\"} %zu\n",
            inst, f->drill[i].name, f->drill[i].checks_failed);
}

cf_err
cf_ops_write_metrics(const struct cf_ops_env *env, const struct cf_alert_facts *f,
                     struct cf_error *err)
{
    struct out o = {NULL, 0, 0, false};
    const char *inst = env->instance;   /* [A-Za-z0-9_.-]: nothing to escape */
    static const char *const classes[3] = {"daily", "weekly", "monthly"};
    size_t by_sev[3] = {0, 0, 0};
    cf_err rc;

    if (env->metrics->textfile == NULL)
        return CF_OK;
    if ((o.buf = malloc(o.cap = 8192)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    o.buf[0] = '\0';

    head(&o, "coffre_last_run_timestamp_seconds", "gauge",
         "When the last run of each kind ended.");
    for (size_t k = 0; k < CF_ALERT_KINDS; k++)
        if (f->runs[k].present)
            put(&o, "coffre_last_run_timestamp_seconds{coffre_instance=\"%s\",kind=\"%s\"} %lld\n",
                inst, cf_alert_kinds[k], (long long)f->runs[k].end);
    head(&o, "coffre_last_run_success", "gauge", "1 if the last run of each kind succeeded.");
    for (size_t k = 0; k < CF_ALERT_KINDS; k++)
        if (f->runs[k].present)
            put(&o, "coffre_last_run_success{coffre_instance=\"%s\",kind=\"%s\"} %d\n", inst,
                cf_alert_kinds[k], f->runs[k].ok ? 1 : 0);
    head(&o, "coffre_last_success_timestamp_seconds", "gauge",
         "When the last successful run of each kind ended.");
    for (size_t k = 0; k < CF_ALERT_KINDS; k++)
        if (f->runs[k].present && f->runs[k].last_success > 0)
            put(&o,
                "coffre_last_success_timestamp_seconds{coffre_instance=\"%s\",kind=\"%s\"} %lld\n",
                inst, cf_alert_kinds[k], (long long)f->runs[k].last_success);
    head(&o, "coffre_last_run_duration_seconds", "gauge",
         "How long the last run of each kind took.");
    for (size_t k = 0; k < CF_ALERT_KINDS; k++)
        if (f->runs[k].present)
            put(&o, "coffre_last_run_duration_seconds{coffre_instance=\"%s\",kind=\"%s\"} %.3f\n",
                inst, cf_alert_kinds[k], f->runs[k].duration);

    if (f->latest_backup[0] != '\0') {
        head(&o, "coffre_backup_timestamp_seconds", "gauge",
             "Start time of the newest complete backup.");
        put(&o, "coffre_backup_timestamp_seconds{coffre_instance=\"%s\"} %lld\n", inst,
            (long long)f->latest_time);
        head(&o, "coffre_backup_duration_seconds", "gauge",
             "How long the newest complete backup took.");
        put(&o, "coffre_backup_duration_seconds{coffre_instance=\"%s\"} %.0f\n", inst,
            f->latest_duration);
        head(&o, "coffre_backup_bytes", "gauge",
             "Size of the newest complete backup: plain (as read), compressed, stored "
             "(encrypted, in the repository).");
        put(&o, "coffre_backup_bytes{coffre_instance=\"%s\",stage=\"plain\"} %llu\n", inst,
            (unsigned long long)f->latest_plain);
        put(&o, "coffre_backup_bytes{coffre_instance=\"%s\",stage=\"compressed\"} %llu\n", inst,
            (unsigned long long)f->latest_compressed);
        put(&o, "coffre_backup_bytes{coffre_instance=\"%s\",stage=\"stored\"} %llu\n", inst,
            (unsigned long long)f->latest_stored);
    }
    head(&o, "coffre_backups", "gauge", "Backups in the repository by state.");
    put(&o, "coffre_backups{coffre_instance=\"%s\",state=\"complete\"} %zu\n", inst,
        f->total_backups);
    put(&o, "coffre_backups{coffre_instance=\"%s\",state=\"incomplete\"} %zu\n", inst,
        f->incomplete);
    put(&o, "coffre_backups{coffre_instance=\"%s\",state=\"unreadable\"} %zu\n", inst,
        f->unreadable + f->key_missing);
    head(&o, "coffre_backups_by_class", "gauge", "Complete backups by retention class.");
    for (size_t c = 0; c < 3; c++)
        put(&o, "coffre_backups_by_class{coffre_instance=\"%s\",class=\"%s\"} %zu\n", inst,
            classes[c], f->by_class[c]);
    head(&o, "coffre_backups_to_prune", "gauge",
         "Backups that prune would delete now (expired, or leftovers).");
    put(&o, "coffre_backups_to_prune{coffre_instance=\"%s\"} %zu\n", inst, f->old_to_clean);
    head(&o, "coffre_backups_key_missing", "gauge",
         "Backups whose manifest no configured key can decrypt.");
    put(&o, "coffre_backups_key_missing{coffre_instance=\"%s\"} %zu\n", inst, f->key_missing);
    head(&o, "coffre_repository_backup_bytes", "gauge", "Bytes stored by every backup.");
    put(&o, "coffre_repository_backup_bytes{coffre_instance=\"%s\"} %llu\n", inst,
        (unsigned long long)f->total_size_bytes);
    if (f->have_space) {
        head(&o, "coffre_available_space_bytes", "gauge",
             "Free space of the posix repository (S3: of the state directory).");
        put(&o, "coffre_available_space_bytes{coffre_instance=\"%s\"} %llu\n", inst,
            (unsigned long long)f->available_space_bytes);
    }
    if (f->wal_listed) {
        head(&o, "coffre_wal_objects", "gauge", "WAL files in the repository.");
        put(&o, "coffre_wal_objects{coffre_instance=\"%s\"} %zu\n", inst, f->wal_objects);
        head(&o, "coffre_wal_stored_bytes", "gauge", "Bytes stored by the WAL archive.");
        put(&o, "coffre_wal_stored_bytes{coffre_instance=\"%s\"} %llu\n", inst,
            (unsigned long long)f->wal_bytes);
    }
    if (f->wal_newest > 0) {
        head(&o, "coffre_wal_newest_timestamp_seconds", "gauge",
             "When the newest WAL file reached the repository.");
        put(&o, "coffre_wal_newest_timestamp_seconds{coffre_instance=\"%s\"} %lld\n", inst,
            (long long)f->wal_newest);
        head(&o, "coffre_wal_archive_lag_seconds", "gauge",
             "Age of the newest archived WAL file when these metrics were written.");
        put(&o, "coffre_wal_archive_lag_seconds{coffre_instance=\"%s\"} %lld\n", inst,
            (long long)(f->now - f->wal_newest));
    }
    write_drill(&o, inst, f);
    write_migrations(&o, inst, f);
    for (size_t i = 0; i < f->n_issues; i++)
        by_sev[f->issues[i].severity]++;
    head(&o, "coffre_health_issues", "gauge", "Alert conditions present, by severity.");
    put(&o, "coffre_health_issues{coffre_instance=\"%s\",severity=\"warning\"} %zu\n", inst,
        by_sev[CF_SEV_WARNING]);
    put(&o, "coffre_health_issues{coffre_instance=\"%s\",severity=\"critical\"} %zu\n", inst,
        by_sev[CF_SEV_CRITICAL]);
    head(&o, "coffre_metrics_timestamp_seconds", "gauge", "When coffre wrote this file.");
    put(&o, "coffre_metrics_timestamp_seconds{coffre_instance=\"%s\"} %lld\n", inst,
        (long long)f->now);

    if (o.failed) {
        free(o.buf);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    rc = cf_write_atomic(env->metrics->textfile, o.buf, o.len, 0644, err);
    if (rc != CF_OK)
        cf_error_context(err, "while writing metrics.textfile");
    free(o.buf);
    return rc;
}
