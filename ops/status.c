/*
 * status.c - the facts operators need (gathered from the repository, the
 * state file and the file system), evaluated by policies/alerts.c, and
 * `coffre status [--json]`, whose JSON carries the seed's metrics keys.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "common/log.h"
#include "common/manifest.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "policies/policy.h"
#include "storage/walrepo.h"

const char cf_status_usage[] =
    "Usage: coffre status [--json]\n"
    "\n"
    "Summarise the instance's backups for an operator: how many, how big, the\n"
    "newest and its age, free space, what prune would delete, the last backup,\n"
    "prune and verify runs, the WAL archive, and the health with every issue\n"
    "(the conditions that alerts notify; see docs/operations.md).  Exit status 0\n"
    "whatever the health; read health_status.\n";

static void
read_runs(json_t *state, struct cf_alert_facts *f)
{
    json_t *runs = state != NULL ? json_object_get(state, "runs") : NULL;

    for (size_t k = 0; k < CF_ALERT_KINDS; k++) {
        json_t *r = json_object_get(runs, cf_alert_kinds[k]);
        struct cf_alert_run *o = &f->runs[k];

        if (!json_is_object(r))
            continue;
        o->present = true;
        o->ok = json_is_true(json_object_get(r, "ok"));
        o->end = (int64_t)json_integer_value(json_object_get(r, "end"));
        o->last_success = (int64_t)json_integer_value(json_object_get(r, "last_success"));
        o->duration = json_number_value(json_object_get(r, "duration"));
        (void)snprintf(o->error, sizeof(o->error), "%s",
                       json_string_value(json_object_get(r, "error")) ?: "");
        (void)snprintf(o->error_class, sizeof(o->error_class), "%s",
                       json_string_value(json_object_get(r, "error_class")) ?: "");
    }
}

static void
gather_wal(const struct cf_repo *repo, struct cf_alert_facts *f)
{
    struct cf_wal_object *w = NULL;
    struct cf_error e = CF_ERROR_INIT;
    size_t n = 0;

    if (cf_wal_list(repo, &w, &n, &e) != CF_OK) {
        cf_log_warning("status: could not list the WAL archive: %s", e.msg);
        return;
    }
    f->wal_listed = true;
    f->wal_objects = n;
    for (size_t i = 0; i < n; i++) {
        f->wal_bytes += w[i].stored_bytes;
        if (w[i].mtime > f->wal_newest)
            f->wal_newest = w[i].mtime;
    }
    free(w);
}

static void
gather_space(const struct cf_config *cfg, struct cf_alert_facts *f)
{
    struct statvfs sv;
    const char *path = cfg->repo.type == CF_REPO_POSIX ? cfg->repo.path : cfg->metrics.state_dir;

    (void)snprintf(f->space_path, sizeof(f->space_path), "%s", path);
    if (statvfs(path, &sv) != 0) {
        cf_log_warning("status: could not read the free space of \"%s\": %m", path);
        return;
    }
    f->have_space = true;
    f->available_space_bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

/* One backup: its manifest's facts, and its prune item (as prune.c builds it). */
static void
gather_backup(const struct cf_repo *repo, const struct cf_backup_entry *e,
              struct cf_alert_facts *f, struct cf_prune_item *item)
{
    struct cf_manifest *m = NULL;
    struct cf_error err = CF_ERROR_INIT;
    bool has_record = false, ok = false;
    int64_t t;

    f->total_size_bytes += e->stored_bytes;
    item->time = cf_backup_id_time(e->id);
    item->is_complete = e->has_manifest;
    if (!e->has_manifest) {
        f->incomplete++;
        return;
    }
    if (cf_repo_read_manifest(repo, e->id, &m, &err) != CF_OK) {
        item->cls = CF_CLASS_MONTHLY;        /* never counted as deletable */
        item->lock_until = INT64_MAX;
        if (err.code == CF_ERR_KEY) {
            f->key_missing++;
            (void)snprintf(f->key_missing_id, sizeof(f->key_missing_id), "%s", e->id);
        } else {
            f->unreadable++;
        }
        return;
    }
    f->total_backups++;
    item->cls = cf_retention_class_parse(m->retention_class);
    item->lock_until = m->lock_until;
    if (item->cls >= CF_CLASS_DAILY && item->cls <= CF_CLASS_MONTHLY)
        f->by_class[item->cls - CF_CLASS_DAILY]++;
    t = m->start_time;
    f->last_24h += f->now - t <= 86400;
    f->last_7d += f->now - t <= (int64_t)7 * 86400;
    f->last_30d += f->now - t <= (int64_t)30 * 86400;
    if (f->latest_backup[0] == '\0' || t >= f->latest_time) {
        (void)snprintf(f->latest_backup, sizeof(f->latest_backup), "%s", e->id);
        (void)snprintf(f->latest_kind, sizeof(f->latest_kind), "%s", m->kind);
        f->latest_time = t;
        f->latest_duration = (double)(m->stop_time - m->start_time);
        f->latest_plain = f->latest_compressed = 0;
        for (size_t k = 0; k < m->n_objects; k++) {
            f->latest_plain += m->objects[k].plain;
            f->latest_compressed += m->objects[k].compressed;
        }
        f->latest_stored = e->stored_bytes;
    }
    cf_manifest_free(m);
    if (cf_repo_last_verify(repo, e->id, &has_record, &ok, &err) != CF_OK)
        cf_log_warning("backup %s: could not read its last verification: %s", e->id, err.msg);
    item->is_verified = !has_record || ok;
}

cf_err
cf_ops_gather(const struct cf_config *cfg, const struct cf_repo *repo, json_t *state,
              struct cf_alert_facts *f, struct cf_error *err)
{
    struct cf_backup_entry *v = NULL;
    struct cf_prune_item *items;
    enum cf_prune_action *actions;
    struct cf_retention_policy policy;
    size_t n = 0;

    memset(f, 0, sizeof(*f));
    f->now = (int64_t)time(NULL);
    read_runs(state, f);
    if (cf_repo_list_backups(repo, &v, &n, err) != CF_OK) {
        cf_error_context(err, "while gathering the status of instance \"%s\"", cfg->instance);
        return err->code;
    }
    items = calloc(n + 1, sizeof(*items));
    actions = calloc(n + 1, sizeof(*actions));
    if (items == NULL || actions == NULL) {
        free(items);
        free(actions);
        free(v);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        gather_backup(repo, &v[i], f, &items[i]);
    cf_policy_from_config(cfg, &policy);
    cf_prune_plan(&policy, f->now, cfg->retention.stale_after, items, n, actions);
    for (size_t i = 0; i < n; i++)
        f->old_to_clean += items[i].time >= 0 && actions[i] == CF_PRUNE_DELETE;
    free(actions);
    free(items);
    free(v);
    gather_space(cfg, f);
    gather_wal(repo, f);
    cf_alerts_evaluate(cfg, f);
    return CF_OK;
}

/* ---- `coffre status` --------------------------------------------------- */

static json_t *
time_or_null(int64_t t)
{
    char buf[32];

    if (t <= 0)
        return json_null();
    cf_format_time(t, buf, sizeof(buf));
    return json_string(buf);
}

static void
print_json(const struct cf_config *cfg, const struct cf_alert_facts *f)
{
    json_t *root = json_object(), *issues = json_array(), *runs = json_object();
    double age_h = f->latest_backup[0] ? (double)(f->now - f->latest_time) / 3600.0 : -1;
    char *s;

    for (size_t i = 0; i < f->n_issues; i++)
        json_array_append_new(issues, json_pack("{s:s, s:s, s:s, s:s}", "name",
                                                f->issues[i].name, "severity",
                                                cf_severity_name(f->issues[i].severity),
                                                "summary", f->issues[i].summary, "hint",
                                                f->issues[i].hint));
    for (size_t k = 0; k < CF_ALERT_KINDS; k++) {
        const struct cf_alert_run *r = &f->runs[k];

        if (!r->present) {
            json_object_set_new(runs, cf_alert_kinds[k], json_null());
            continue;
        }
        json_object_set_new(runs, cf_alert_kinds[k],
                            json_pack("{s:b, s:o, s:o, s:f, s:s*}", "ok", r->ok, "end",
                                      time_or_null(r->end), "last_success",
                                      time_or_null(r->last_success), "duration_seconds",
                                      r->duration, "error", r->ok ? NULL : r->error));
    }
    json_object_set_new(root, "instance", json_string(cfg->instance));
    json_object_set_new(root, "time", time_or_null(f->now));
    json_object_set_new(
        root, "basic",
        json_pack("{s:I, s:I, s:o, s:I, s:I}", "total_backups", (json_int_t)f->total_backups,
                  "total_size_bytes", (json_int_t)f->total_size_bytes, "available_space_bytes",
                  f->have_space ? json_integer((json_int_t)f->available_space_bytes)
                                : json_null(),
                  "incomplete_backups", (json_int_t)f->incomplete, "unreadable_backups",
                  (json_int_t)f->unreadable + (json_int_t)f->key_missing));
    json_object_set_new(
        root, "backup",
        json_pack("{s:o, s:o, s:o, s:I, s:o}", "latest_backup",
                  f->latest_backup[0] ? json_string(f->latest_backup) : json_null(),
                  "backup_age_hours", age_h >= 0 ? json_real(age_h) : json_null(),
                  "latest_kind", f->latest_backup[0] ? json_string(f->latest_kind) : json_null(),
                  "backup_size_bytes", (json_int_t)f->latest_stored, "backup_time",
                  time_or_null(f->latest_time)));
    json_object_set_new(
        root, "retention",
        json_pack("{s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}}", "daily_backups_last_24h",
                  (json_int_t)f->last_24h, "weekly_backups_last_7d", (json_int_t)f->last_7d,
                  "monthly_backups_last_30d", (json_int_t)f->last_30d, "old_backups_to_clean",
                  (json_int_t)f->old_to_clean, "by_class", "daily", (json_int_t)f->by_class[0],
                  "weekly", (json_int_t)f->by_class[1], "monthly", (json_int_t)f->by_class[2]));
    json_object_set_new(root, "wal",
                        json_pack("{s:I, s:I, s:o, s:o}", "objects", (json_int_t)f->wal_objects,
                                  "stored_bytes", (json_int_t)f->wal_bytes, "newest",
                                  time_or_null(f->wal_newest), "lag_seconds",
                                  f->wal_newest > 0 ? json_integer(f->now - f->wal_newest)
                                                    : json_null()));
    json_object_set_new(root, "runs", runs);
    json_object_set_new(root, "health",
                        json_pack("{s:s, s:I, s:o}", "health_status", cf_alerts_health(f),
                                  "health_issues_count", (json_int_t)f->n_issues, "issues",
                                  issues));
    s = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (s != NULL)
        (void)printf("%s\n", s);
    free(s);
}

static void
print_human(const struct cf_config *cfg, const struct cf_alert_facts *f)
{
    char when[32], age[32];

    (void)printf("instance:        %s\n", cfg->instance);
    (void)printf("health:          %s (%zu issue(s))\n", cf_alerts_health(f), f->n_issues);
    for (size_t i = 0; i < f->n_issues; i++)
        (void)printf("  %-8s %s\n           %s\n", cf_severity_name(f->issues[i].severity),
                     f->issues[i].summary, f->issues[i].hint);
    (void)printf("backups:         %zu complete, %zu incomplete, %zu unreadable; %.1f MiB "
                 "stored\n",
                 f->total_backups, f->incomplete, f->unreadable + f->key_missing,
                 (double)f->total_size_bytes / (1024.0 * 1024));
    if (f->latest_backup[0] != '\0') {
        cf_alerts_format_age(f->now - f->latest_time, age, sizeof(age));
        (void)printf("newest:          %s (%s, %s old, %.1f MiB stored)\n", f->latest_backup,
                     f->latest_kind, age, (double)f->latest_stored / (1024.0 * 1024));
    }
    (void)printf("by class:        %zu daily, %zu weekly, %zu monthly; prune would delete %zu\n",
                 f->by_class[0], f->by_class[1], f->by_class[2], f->old_to_clean);
    if (f->have_space)
        (void)printf("free space:      %.2f GiB on %s\n",
                     (double)f->available_space_bytes / (1024.0 * 1024 * 1024), f->space_path);
    if (f->wal_newest > 0) {
        cf_alerts_format_age(f->now - f->wal_newest, age, sizeof(age));
        (void)printf("WAL archive:     %zu object(s), newest %s old\n", f->wal_objects, age);
    }
    for (size_t k = 0; k < CF_ALERT_KINDS; k++) {
        const struct cf_alert_run *r = &f->runs[k];

        if (!r->present) {
            (void)printf("last %-10s never recorded\n", cf_alert_kinds[k]);
            continue;
        }
        cf_format_time(r->end, when, sizeof(when));
        (void)printf("last %-10s %s at %s (%.0f s)%s%s\n", cf_alert_kinds[k],
                     r->ok ? "succeeded" : "FAILED", when, r->duration, r->ok ? "" : ": ",
                     r->ok ? "" : r->error);
    }
}

cf_err
cf_cmd_status(const struct cf_config *cfg, const struct cf_repo *repo, int argc, char **argv,
              struct cf_error *err)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct cf_ops_state st;
    struct cf_alert_facts *f;
    bool json = false;
    int ch;
    cf_err rc;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = true; break;
        case 'h': (void)fputs(cf_status_usage, stdout); return CF_OK;
        default: return cf_error_set(err, CF_ERR_USAGE, "invalid option for status");
        }
    }
    if (optind != argc)
        return cf_error_set(err, CF_ERR_USAGE, "unexpected argument \"%s\"", argv[optind]);
    if ((f = malloc(sizeof(*f))) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    /* status only reads the state: no lock, no directory created */
    {
        char path[600];
        json_error_t je;

        (void)snprintf(path, sizeof(path), "%s/state.json", cfg->metrics.state_dir);
        st.root = json_load_file(path, 0, &je);
    }
    rc = cf_ops_gather(cfg, repo, st.root, f, err);
    json_decref(st.root);
    if (rc == CF_OK) {
        if (json)
            print_json(cfg, f);
        else
            print_human(cfg, f);
    }
    free(f);
    return rc;
}
