/*
 * prune.c - `coffre prune`: delete what the retention policy lets go.
 *
 * The plan is policies/retention.c's (pure); this file only gathers the
 * facts (backups, their classes and lock dates from their manifests) and
 * carries the plan out.  A backup is deleted manifest first, so that an
 * interrupted prune leaves an incomplete backup, never a complete-looking
 * one with objects missing.  An object the storage refuses to delete
 * because of its lock is skipped with a one-line reason: WORM wins.
 */
#include "agent/prune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent/prunewal.h"
#include "common/log.h"
#include "common/walname.h"
#include "policies/policy.h"

struct backup {
    const struct cf_backup_entry *e;
    struct cf_prune_item item;
    enum cf_prune_action action;
    char note[512];
    size_t deleted, locked;
    bool is_unreadable;                   /* its manifest could not be read */
    bool is_physical;                     /* with start_lsn and segment_size: */
    uint64_t start_lsn, segment_size;
};

static void
gather(const struct cf_repo *repo, struct backup *b)
{
    struct cf_manifest *m = NULL;
    struct cf_error err = CF_ERROR_INIT;

    b->item.time = cf_backup_id_time(b->e->id);
    b->item.is_complete = b->e->has_manifest;
    if (!b->e->has_manifest)
        return;
    if (cf_repo_read_manifest(repo, b->e->id, &m, &err) != CF_OK) {
        /* cannot classify what it cannot read: never delete it */
        b->item.cls = CF_CLASS_MONTHLY;
        b->item.lock_until = INT64_MAX;
        b->is_unreadable = true;
        (void)snprintf(b->note, sizeof(b->note), "kept: manifest unreadable here (%s)", err.msg);
        return;
    }
    b->item.cls = cf_retention_class_parse(m->retention_class);
    b->item.lock_until = m->lock_until;
    if (m->physical != NULL && m->physical->start_lsn != NULL &&
        cf_lsn_parse(m->physical->start_lsn, &b->start_lsn) &&
        cf_wal_segment_size_valid(m->physical->wal_segment_size)) {
        b->is_physical = true;
        b->segment_size = m->physical->wal_segment_size;
    } else if (m->physical != NULL) {
        b->is_unreadable = true; /* a physical backup whose WAL start we cannot tell */
    }
    cf_manifest_free(m);
    {
        bool has_record = false, ok = false;

        /* a complete backup counts as verified until a verify run says otherwise */
        cf_error_clear(&err);
        if (cf_repo_last_verify(repo, b->e->id, &has_record, &ok, &err) != CF_OK)
            cf_log_warning("backup %s: could not read its last verification: %s", b->e->id,
                           err.msg);
        b->item.is_verified = !has_record || ok;
    }
}

struct deleter {
    struct cf_storage *st;
    const char *skip_key;     /* the manifest, deleted first */
    size_t deleted, locked;
    int use_versions;
};

static cf_err
delete_one(struct deleter *d, const struct cf_storage_info *info, struct cf_error *err)
{
    struct cf_error e = CF_ERROR_INIT;
    const char *version = d->use_versions && info->version_id[0] ? info->version_id : NULL;
    cf_err rc = cf_storage_remove(d->st, info->key, version, &e);

    if (rc == CF_OK || rc == CF_ERR_NOT_FOUND) {
        d->deleted++;
        return CF_OK;
    }
    if (rc == CF_ERR_LOCKED) {
        d->locked++;
        return CF_OK;
    }
    *err = e;
    return rc;
}

static cf_err
delete_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct deleter *d = ctx;

    if (d->skip_key != NULL && strcmp(info->key, d->skip_key) == 0)
        return CF_OK;
    return delete_one(d, info, err);
}

static cf_err
manifest_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct deleter *d = ctx;

    if (strcmp(info->key, d->skip_key) != 0)
        return CF_OK;
    return delete_one(d, info, err);
}

/* Delete every object (every version, on versioned storage) of one backup. */
static cf_err
delete_backup(const struct cf_repo *repo, struct backup *b, struct cf_error *err)
{
    char prefix[CF_STORAGE_KEY_MAX + 1], manifest[CF_STORAGE_KEY_MAX + 16];
    struct deleter d = {repo->st, manifest, 0, 0, 0};
    cf_err rc;

    d.use_versions = (repo->st->features & CF_STORAGE_FEAT_VERSIONS) != 0;
    if ((rc = cf_repo_backup_prefix(repo, b->e->id, prefix, sizeof(prefix), err)) != CF_OK ||
        (rc = cf_repo_key(repo, b->e->id, CF_MANIFEST_NAME, manifest, sizeof(manifest), err)) !=
            CF_OK)
        return rc;
    if (d.use_versions) {
        rc = cf_storage_list_versions(repo->st, prefix, manifest_cb, &d, err);
        if (rc == CF_OK && d.locked == 0)
            rc = cf_storage_list_versions(repo->st, prefix, delete_cb, &d, err);
    } else {
        rc = cf_storage_list(repo->st, prefix, manifest_cb, &d, err);
        if (rc == CF_OK && d.locked == 0)
            rc = cf_storage_list(repo->st, prefix, delete_cb, &d, err);
    }
    b->deleted = d.deleted;
    b->locked = d.locked;
    return rc;
}

struct upload_ctx {
    struct cf_storage *st;
    int64_t before;
    bool dry_run, json;
    size_t aborted;
    json_t *arr;
};

static cf_err
upload_cb(void *ctx, const struct cf_storage_upload *up, struct cf_error *err)
{
    struct upload_ctx *u = ctx;

    if (up->initiated >= u->before)
        return CF_OK;
    if (!u->dry_run && cf_storage_abort_upload(u->st, up, err) != CF_OK)
        return err->code;
    u->aborted++;
    if (u->json)
        json_array_append_new(u->arr, json_pack("{s:s, s:s}", "upload", up->key, "action",
                                                u->dry_run ? "would abort" : "aborted"));
    else
        (void)printf("%s unfinished upload of %s\n", u->dry_run ? "would abort" : "aborted",
                     up->key);
    return CF_OK;
}

/*
 * WAL retention: from the start of the oldest physical backup that stays
 * (kept, or not deletable because of its lock).  No WAL is deleted without a
 * retained physical backup, nor when a manifest could not be read.
 */
static cf_err
prune_wal(const struct cf_repo *repo, const struct backup *b, size_t n, bool dry_run, bool json,
          json_t *arr, struct cf_error *err)
{
    const struct backup *oldest = NULL;

    for (size_t i = 0; i < n; i++) {
        bool stays = b[i].action != CF_PRUNE_DELETE || (!dry_run && b[i].locked > 0);

        if (!stays || !b[i].item.is_complete)
            continue;
        if (b[i].is_unreadable) {
            cf_log_info("prune: no WAL deleted: the manifest of backup %s could not be read",
                        b[i].e->id);
            return CF_OK;
        }
        if (b[i].is_physical && (oldest == NULL || b[i].start_lsn < oldest->start_lsn))
            oldest = &b[i];
    }
    if (oldest == NULL)
        return CF_OK; /* no physical backup: the WAL is not ours to judge */
    return cf_prunewal_run(repo, oldest->start_lsn, oldest->segment_size, oldest->e->id, dry_run,
                           json, arr, err);
}

static const char *
describe(const struct backup *b, char *buf, size_t size)
{
    char when[32];

    if (b->note[0] != '\0')
        return b->note;
    switch (b->action) {
    case CF_PRUNE_KEEP_LOCKED:
        cf_format_time(b->item.lock_until, when, sizeof(when));
        (void)snprintf(buf, size, "kept: expired but locked until %s", when);
        break;
    case CF_PRUNE_KEEP_MIN:
        (void)snprintf(buf, size, "kept: expired, but retention.min_keep needs it");
        break;
    case CF_PRUNE_KEEP_RECENT:
        (void)snprintf(buf, size, "kept: incomplete but recent (it may still be running)");
        break;
    case CF_PRUNE_KEEP_RETAINED:
        (void)snprintf(buf, size, "kept: within its %s retention",
                       cf_retention_class_name(b->item.cls));
        break;
    case CF_PRUNE_DELETE:
        (void)snprintf(buf, size, b->item.is_complete ? "expired %s backup" :
                       "leftover of an incomplete backup",
                       cf_retention_class_name(b->item.cls));
        break;
    }
    return buf;
}

static void
report(struct backup *b, bool dry_run, bool json, json_t *arr)
{
    char why[512];
    const char *verb = b->action != CF_PRUNE_DELETE ? "keep"
                       : dry_run                    ? "would delete"
                       : b->locked > 0              ? "skipped"
                                                    : "deleted";

    if (b->action == CF_PRUNE_DELETE && !dry_run && b->locked > 0)
        (void)snprintf(b->note, sizeof(b->note),
                       b->deleted > 0 ? "partly deleted: %zu object(s) still locked by the "
                                        "storage; a later prune finishes it"
                                      : "skipped: %zu object(s) still locked by the storage",
                       b->locked);
    describe(b, why, sizeof(why));
    if (json)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "id", b->e->id, "action", verb,
                                             "reason", why));
    else
        (void)printf("%-14s %-22s %s\n", verb, b->e->id, why);
}

cf_err
cf_cmd_prune(const struct cf_config *cfg, const struct cf_repo *repo, bool dry_run, bool json,
             struct cf_error *err)
{
    struct cf_retention_policy policy;
    struct cf_backup_entry *v = NULL;
    struct backup *b = NULL;
    struct cf_prune_item *items = NULL;
    enum cf_prune_action *actions = NULL;
    json_t *arr = json_array();
    int64_t now = (int64_t)time(NULL);
    size_t n = 0, deleted = 0;
    cf_err rc;

    cf_policy_from_config(cfg, &policy);
    if ((rc = cf_repo_list_backups(repo, &v, &n, err)) != CF_OK)
        goto out;
    b = calloc(n + 1, sizeof(*b));
    items = calloc(n + 1, sizeof(*items));
    actions = calloc(n + 1, sizeof(*actions));
    if (b == NULL || items == NULL || actions == NULL) {
        rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        b[i].e = &v[i];
        gather(repo, &b[i]);
        items[i] = b[i].item;
    }
    cf_prune_plan(&policy, now, cfg->retention.stale_after, items, n, actions);
    for (size_t i = 0; i < n && rc == CF_OK; i++) {
        b[i].action = b[i].item.time < 0 ? CF_PRUNE_KEEP_RETAINED : actions[i];
        if (b[i].item.time < 0)
            (void)snprintf(b[i].note, sizeof(b[i].note), "kept: not a backup id");
        if (b[i].action == CF_PRUNE_DELETE && !dry_run) {
            rc = delete_backup(repo, &b[i], err);
            deleted += b[i].locked == 0;
        }
        report(&b[i], dry_run, json, arr);
    }
    if (rc == CF_OK)
        rc = prune_wal(repo, b, n, dry_run, json, arr, err);
    if (rc == CF_OK) {
        char prefix[CF_STORAGE_KEY_MAX + 1];
        struct upload_ctx u = {repo->st, now - cfg->retention.stale_after, dry_run, json, 0, arr};

        (void)snprintf(prefix, sizeof(prefix), "%s/", repo->instance);
        rc = cf_storage_list_uploads(repo->st, prefix, upload_cb, &u, err);
    }
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2));

        if (s != NULL)
            (void)printf("%s\n", s);
        free(s);
    }
    if (rc == CF_OK)
        cf_log_info("prune: %zu backup(s) examined, %zu deleted%s", n, deleted,
                    dry_run ? " (dry run: nothing changed)" : "");
out:
    json_decref(arr);
    free(actions);
    free(items);
    free(b);
    free(v);
    return rc;
}
