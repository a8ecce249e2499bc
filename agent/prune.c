/*
 * prune.c - the prune engine (see prune.h).
 */
#include "agent/prune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/prunewal.h"
#include "common/cancel.h"
#include "common/inject.h"
#include "common/log.h"
#include "common/walname.h"
#include "policies/policy.h"

struct backup {
    const struct cf_backup_entry *e;
    struct cf_prune_item item;
    enum cf_prune_action action;
    char note[512];
    size_t deleted, locked;
    bool is_unreadable;                   /* its manifest could not be read, or its WAL start */
    bool manifest_unreadable;             /* its manifest could not be read */
    bool is_physical;                     /* with start_lsn and segment_size: */
    uint64_t start_lsn, segment_size;
};

/* The storage failed to give an object (timeout, refusal, I/O), as opposed to an object
 * this host cannot decrypt or parse. */
static bool
is_repository_error(cf_err code)
{
    return code == CF_ERR_REMOTE || code == CF_ERR_REMOTE_RETRY || code == CF_ERR_IO;
}

/* Classify b from its manifest.  When the storage failed to give the manifest, the first
 * such error of the run goes to *repo_err (see check_unread). */
static void
gather(const struct cf_repo *repo, struct backup *b, struct cf_error *repo_err)
{
    struct cf_manifest *m = NULL;
    struct cf_error err = CF_ERROR_INIT;

    b->item.time = cf_backup_id_time(b->e->id);
    b->item.is_complete = b->e->has_manifest;
    if (!b->e->has_manifest) {
        /* it may still be running on a host whose clock is behind */
        if (b->item.time >= 0 && b->e->newest_mtime > b->item.time)
            b->item.time = b->e->newest_mtime;
        return;
    }
    if (cf_repo_read_manifest(repo, b->e->id, &m, &err) != CF_OK) {
        /* cannot classify what it cannot read: never delete it */
        b->item.cls = CF_CLASS_MONTHLY;
        b->item.lock_until = INT64_MAX;
        b->is_unreadable = true;
        b->manifest_unreadable = true;
        (void)snprintf(b->note, sizeof(b->note), "kept: manifest unreadable here (%s)", err.msg);
        if (is_repository_error(err.code) && repo_err->code == CF_OK)
            *repo_err = err;
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

/* A prune that kept backups unjudged because the keys failed must not pass (see prune.h). */
static cf_err
check_unread(const struct cf_prune_opts *opts, const struct backup *b, size_t n,
             const struct cf_error *repo_err, struct cf_error *err)
{
    size_t unread = 0;
    const char *first = NULL;

    for (size_t i = 0; i < n; i++)
        if (b[i].manifest_unreadable) {
            unread++;
            first = first != NULL ? first : b[i].e->id;
        }
    if (repo_err->code !=
        CF_OK) { /* the repository did not answer: this prune did not do its job */
        *err = *repo_err;
        cf_error_context(err,
                         "prune kept %zu backup(s) unjudged (the first: %s) because the "
                         "repository failed to give their manifest; nothing of them was "
                         "deleted: run prune again once the repository answers",
                         unread, first);
        return err->code;
    }
    if (unread == 0 || opts->keys_check == NULL ||
        opts->keys_check(opts->keys_check_arg, err) == CF_OK)
        return CF_OK;
    cf_error_context(err,
                     "prune kept %zu backup(s) unjudged (the first: %s) because their "
                     "manifest could not be read",
                     unread, first);
    return err->code;
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
    cf_err rc = cf_cancel_check(err);

    if (rc != CF_OK)
        return rc;
    rc = cf_storage_remove(d->st, info->key, version, &e);

    if (rc == CF_OK || rc == CF_ERR_NOT_FOUND) {
        d->deleted++;
        CF_INJECT("prune-deleted"); /* @1: a backup's manifest is gone, its objects not yet */
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
    bool dry_run;
    struct cf_prune_result *res;
};

static cf_err
upload_cb(void *ctx, const struct cf_storage_upload *up, struct cf_error *err)
{
    struct upload_ctx *u = ctx;

    if (up->initiated >= u->before)
        return CF_OK;
    if (!u->dry_run && cf_storage_abort_upload(u->st, up, err) != CF_OK)
        return err->code;
    if (cf_prune_result_add(u->res, CF_PRUNE_SUBJECT_UPLOAD, up->key,
                            u->dry_run ? "would abort" : "aborted") == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    return CF_OK;
}

/*
 * WAL retention: from the start of the oldest physical backup that stays
 * (kept, or not deletable because of its lock).  No WAL is deleted without a
 * retained physical backup, nor when a manifest could not be read.
 */
static cf_err
prune_wal(const struct cf_repo *repo, const struct backup *b, size_t n, bool dry_run,
          struct cf_prune_result *res, struct cf_error *err)
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
                           res, err);
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

static cf_err
report(struct backup *b, bool dry_run, struct cf_prune_result *res, struct cf_error *err)
{
    struct cf_prune_entry *e;
    char why[512];
    const char *reason;
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
    /* describe() returns the note when there is one, and writes why only otherwise */
    reason = describe(b, why, sizeof(why));
    if ((e = cf_prune_result_add(res, CF_PRUNE_SUBJECT_BACKUP, b->e->id, verb)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    (void)snprintf(e->reason, sizeof(e->reason), "%s", reason);
    return CF_OK;
}

struct cf_prune_entry *
cf_prune_result_add(struct cf_prune_result *res, enum cf_prune_subject subject, const char *name,
                    const char *verb)
{
    struct cf_prune_entry *e;

    if (res->n == res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 16;
        struct cf_prune_entry *grown = realloc(res->entries, cap * sizeof(*grown));

        if (grown == NULL)
            return NULL;
        res->entries = grown;
        res->cap = cap;
    }
    e = &res->entries[res->n++];
    memset(e, 0, sizeof(*e));
    e->subject = subject;
    (void)snprintf(e->name, sizeof(e->name), "%s", name);
    (void)snprintf(e->verb, sizeof(e->verb), "%s", verb);
    return e;
}

void
cf_prune_result_clear(struct cf_prune_result *res)
{
    free(res->entries);
    memset(res, 0, sizeof(*res));
}

cf_err
cf_prune_run(const struct cf_prune_opts *opts, struct cf_prune_result *res, struct cf_error *err)
{
    const struct cf_repo *repo = opts->repo;
    bool dry_run = opts->dry_run;
    struct cf_retention_policy policy;
    struct cf_backup_entry *v = NULL;
    struct backup *b = NULL;
    struct cf_prune_item *items = NULL;
    enum cf_prune_action *actions = NULL;
    int64_t now = (int64_t)time(NULL);
    size_t n = 0;
    struct cf_error repo_err = CF_ERROR_INIT; /* the first manifest the storage failed to give */
    cf_err rc;

    memset(res, 0, sizeof(*res));
    cf_policy_from_conf(opts->retention, &policy);
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
        gather(repo, &b[i], &repo_err);
        items[i] = b[i].item;
    }
    cf_prune_plan(&policy, now, opts->retention->stale_after, items, n, actions);
    res->examined = n;
    CF_INJECT("prune-start");
    for (size_t i = 0; i < n && rc == CF_OK; i++) {
        b[i].action = b[i].item.time < 0 ? CF_PRUNE_KEEP_RETAINED : actions[i];
        if (b[i].item.time < 0)
            (void)snprintf(b[i].note, sizeof(b[i].note), "kept: not a backup id");
        if (b[i].action == CF_PRUNE_DELETE && !dry_run) {
            /* stopped between two backups; within one, its manifest went first */
            rc = cf_cancel_check(err);
            if (rc == CF_OK)
                rc = delete_backup(repo, &b[i], err);
            if (rc != CF_OK)
                break; /* not reported as deleted: the error says what happened */
            res->deleted += b[i].locked == 0;
            CF_INJECT("prune-backup-done");
        }
        if (report(&b[i], dry_run, res, err) != CF_OK)
            rc = err->code;
    }
    if (rc == CF_OK)
        rc = prune_wal(repo, b, n, dry_run, res, err);
    if (rc == CF_OK) {
        char prefix[CF_STORAGE_KEY_MAX + 1];
        struct upload_ctx u = {repo->st, now - opts->retention->stale_after, dry_run, res};

        (void)snprintf(prefix, sizeof(prefix), "%s/", repo->instance);
        rc = cf_storage_list_uploads(repo->st, prefix, upload_cb, &u, err);
    }
    if (rc == CF_OK)
        cf_log_info("prune: %zu backup(s) examined, %zu deleted%s", n, res->deleted,
                    dry_run ? " (dry run: nothing changed)" : "");
    if (rc == CF_OK)
        rc = check_unread(opts, b, n, &repo_err, err);
out:
    free(actions);
    free(items);
    free(b);
    free(v);
    return rc;
}
