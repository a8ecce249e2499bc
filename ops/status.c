/*
 * status.c - the facts operators need (gathered from the repository, the
 * state file and the file system), evaluated by policies/alerts.c: what
 * `coffre status`, the metrics and the alerts report.
 */
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

/* The last drill's scenarios, as `coffre drill` recorded them (cf_ops_record_drill). */
static void
read_drill(json_t *state, struct cf_alert_facts *f)
{
    json_t *d = state != NULL ? json_object_get(state, "drill") : NULL;
    json_t *scenarios = json_object_get(d, "scenarios"), *v;
    const char *name;

    if (!json_is_object(scenarios))
        return;
    f->drill_time = (int64_t)json_integer_value(json_object_get(d, "time"));
    json_object_foreach(scenarios, name, v) {
        struct cf_alert_drill *o;

        if (f->n_drill == sizeof(f->drill) / sizeof(f->drill[0]))
            break;
        o = &f->drill[f->n_drill++];
        (void)snprintf(o->name, sizeof(o->name), "%s", name);
        o->ok = json_is_true(json_object_get(v, "ok"));
        o->rto = json_number_value(json_object_get(v, "rto_seconds"));
        o->rpo = json_is_number(json_object_get(v, "rpo_seconds"))
                     ? json_number_value(json_object_get(v, "rpo_seconds"))
                     : -1;
        o->checks_failed = (size_t)json_integer_value(json_object_get(v, "checks_failed"));
    }
}

/* Each tenant's last migration step, as `coffre migrate` recorded it. */
static void
read_migrations(json_t *state, struct cf_alert_facts *f)
{
    json_t *all = state != NULL ? json_object_get(state, "migrations") : NULL, *v;
    const char *schema;

    if (!json_is_object(all))
        return;
    json_object_foreach(all, schema, v) {
        struct cf_alert_migration *o;
        json_t *fz = json_object_get(v, "freeze_seconds");

        if (f->n_migrations == sizeof(f->migrations) / sizeof(f->migrations[0]))
            break;
        o = &f->migrations[f->n_migrations++];
        (void)snprintf(o->schema, sizeof(o->schema), "%s", schema);
        (void)snprintf(o->state, sizeof(o->state), "%s",
                       json_string_value(json_object_get(v, "state"))
                           ? json_string_value(json_object_get(v, "state"))
                           : "");
        o->freeze = json_is_number(fz) ? json_number_value(fz) : -1;
        o->verify = json_number_value(json_object_get(v, "verify_seconds"));
        o->bytes = (uint64_t)json_integer_value(json_object_get(v, "bytes"));
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
gather_space(const struct cf_ops_env *env, struct cf_alert_facts *f)
{
    struct statvfs sv;
    const char *path =
        env->repo_conf->type == CF_REPO_POSIX ? env->repo_conf->path : env->metrics->state_dir;

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
        if (item->time >= 0 && e->newest_mtime > item->time)
            item->time = e->newest_mtime; /* as prune ages it */
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
    if (f->oldest_backup_time == 0 || t < f->oldest_backup_time)
        f->oldest_backup_time = t;
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
cf_ops_gather(const struct cf_ops_env *env, const struct cf_repo *repo, json_t *state,
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
    read_drill(state, f);
    read_migrations(state, f);
    if (cf_repo_list_backups(repo, &v, &n, err) != CF_OK) {
        cf_error_context(err, "while gathering the status of instance \"%s\"", env->instance);
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
    cf_policy_from_conf(env->retention, &policy);
    cf_prune_plan(&policy, f->now, env->retention->stale_after, items, n, actions);
    for (size_t i = 0; i < n; i++)
        f->old_to_clean += items[i].time >= 0 && actions[i] == CF_PRUNE_DELETE;
    free(actions);
    free(items);
    free(v);
    gather_space(env, f);
    gather_wal(repo, f);
    cf_alerts_evaluate(env->alerts, env->instance, f);
    return CF_OK;
}

cf_err
cf_status_run(const struct cf_ops_env *env, const struct cf_repo *repo, struct cf_alert_facts *f,
              struct cf_error *err)
{
    char path[600];
    json_error_t je;
    json_t *state;
    cf_err rc;

    /* status only reads the state: no lock, no directory created */
    (void)snprintf(path, sizeof(path), "%s/state.json", env->metrics->state_dir);
    state = json_load_file(path, 0, &je);
    rc = cf_ops_gather(env, repo, state, f, err);
    json_decref(state);
    return rc;
}
