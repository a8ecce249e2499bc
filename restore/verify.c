/*
 * verify.c - the verify engine (see verify.h).
 */
#include "restore/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cancel.h"
#include "common/inject.h"
#include "common/log.h"
#include "stream/hash.h"

struct presence {
    const struct cf_manifest *m;
    size_t prefix_len;
    char extra[CF_STORAGE_KEY_MAX + 1];
};

static cf_err
presence_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct presence *p = ctx;
    const char *name = info->key + p->prefix_len;

    (void)err;
    if (strcmp(name, CF_MANIFEST_NAME) == 0 || cf_repo_is_record_name(name, CF_VERIFY_PREFIX) ||
        cf_repo_is_record_name(name, CF_DRILL_PREFIX) ||
        cf_repo_is_record_name(name, CF_MIGRATE_PREFIX))
        return CF_OK;
    for (size_t i = 0; i < p->m->n_objects; i++)
        if (strcmp(p->m->objects[i].name, name) == 0)
            return CF_OK;
    if (p->extra[0] == '\0')
        (void)snprintf(p->extra, sizeof(p->extra), "%s", info->key);
    return CF_OK;
}

/*
 * The chain: the manifest names the backup before it and the digest of
 * that backup's manifest.  A replaced manifest there is a failure; a
 * missing one only a warning: prune follows the current retention
 * settings, which may be shorter than those the backup was taken under.
 */
static cf_err
check_link(const struct cf_repo *repo, const struct cf_manifest *m, struct cf_error *err)
{
    struct cf_error e = CF_ERROR_INIT;
    uint8_t digest[CF_SHA256_BYTES];
    char hex[CF_SHA256_HEX];

    if (cf_repo_manifest_digest(repo, m->previous_id, digest, &e) != CF_OK) {
        if (e.code != CF_ERR_NOT_FOUND)
            return cf_error_set(err, e.code,
                                "backup %s follows backup %s, which cannot be "
                                "checked: %s",
                                m->id, m->previous_id, e.msg);
        cf_log_warning("backup %s follows backup %s, which is gone; if prune did not remove "
                       "it, it was deleted",
                       m->id, m->previous_id);
        return CF_OK;
    }
    cf_hex_encode(digest, sizeof(digest), hex);
    if (strcmp(hex, m->previous_sha256) == 0)
        return CF_OK;
    cf_error_setf(err, CF_ERR_CORRUPT,
                  "the manifest of backup %s is not the one backup %s "
                  "followed when it was taken",
                  m->previous_id, m->id);
    cf_error_detail(err, "Backup %s's manifest was replaced after backup %s was signed.",
                    m->previous_id, m->id);
    return CF_ERR_CORRUPT;
}

static cf_err
check_backup(const struct cf_repo *repo, const char *id, int64_t *lock_until,
             struct cf_error *err)
{
    struct cf_manifest *m = NULL;
    struct presence p;
    char prefix[CF_STORAGE_KEY_MAX + 1];
    cf_err rc;

    if ((rc = cf_repo_read_manifest(repo, id, &m, err)) != CF_OK)
        return rc;
    *lock_until = m->lock_until;
    CF_INJECT("verify-start");
    for (size_t i = 0; i < m->n_objects && rc == CF_OK; i++) {
        const struct cf_manifest_object *o = &m->objects[i];
        uint8_t sha[CF_SHA256_BYTES];
        struct cf_sink *null = NULL;

        if (cf_hex_decode(o->sha256, sha, sizeof(sha)) != 0) {
            rc = cf_error_set(err, CF_ERR_CORRUPT, "manifest of backup %s has an invalid sha256 "
                              "for object \"%s\"", id, o->name);
            break;
        }
        if ((rc = cf_null_sink_new(&null, err)) == CF_OK)
            rc = cf_repo_get(repo, id, o->name, o->kind, sha, null, err);
    }
    if (rc == CF_OK) {
        memset(&p, 0, sizeof(p));
        p.m = m;
        if ((rc = cf_repo_backup_prefix(repo, id, prefix, sizeof(prefix), err)) == CF_OK) {
            p.prefix_len = strlen(prefix);
            rc = cf_storage_list(repo->st, prefix, presence_cb, &p, err);
        }
        if (rc == CF_OK && p.extra[0] != '\0')
            rc = cf_error_set(err, CF_ERR_CORRUPT, "backup %s holds object \"%s\" that its "
                              "manifest does not list", id, p.extra);
    }
    if (rc == CF_OK && m->previous_id != NULL)
        rc = check_link(repo, m, err);
    cf_manifest_free(m);
    return rc;
}

/*
 * Verify one backup and record the result with it, so that prune knows
 * which backups count as verified.  Nothing is recorded when the manifest
 * cannot be read (no key, or no backup): there is nothing to judge.
 */
static cf_err
verify_one(const struct cf_repo *repo, const char *id, struct cf_error *err)
{
    struct cf_error rec_err = CF_ERROR_INIT;
    int64_t lock_until = -1;
    cf_err rc = check_backup(repo, id, &lock_until, err);

    /* only a verdict on the data is recorded: an interruption, a network or a
     * key problem says nothing about the backup */
    if (lock_until < 0 || (rc != CF_OK && rc != CF_ERR_CORRUPT && rc != CF_ERR_NOT_FOUND))
        return rc;
    CF_INJECT("verify-before-record");
    /* stopped now, nothing is recorded: the next run checks again */
    if (cf_cancel_check(err) != CF_OK)
        return err->code;
    if (cf_repo_record_verify(repo, id, lock_until, rc == CF_OK, rc == CF_OK ? NULL : err->msg,
                              &rec_err) != CF_OK)
        cf_log_warning("could not record the verification of backup %s: %s", id, rec_err.msg);
    else
        CF_INJECT("verify-after-record");
    return rc;
}

static cf_err
add_item(const struct cf_verify_opts *o, struct cf_verify_result *res, const char *id,
         const struct cf_error *e, struct cf_error *err)
{
    struct cf_verify_item *it, *grown = realloc(res->items, (res->n + 1) * sizeof(*it));

    if (grown == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    res->items = grown;
    it = &res->items[res->n++];
    memset(it, 0, sizeof(*it));
    (void)snprintf(it->id, sizeof(it->id), "%s", id);
    it->ok = e->code == CF_OK;
    it->error = *e;
    if (it->ok)
        res->n_ok++;
    else
        res->n_failed++;
    if (o->on_item != NULL)
        o->on_item(o->arg, it);
    return CF_OK;
}

cf_err
cf_verify_run(const struct cf_verify_opts *opts, struct cf_verify_result *res,
              struct cf_error *err)
{
    const struct cf_repo *repo = opts->repo;
    struct cf_backup_entry *v = NULL;
    size_t n = 0;
    cf_err first = CF_OK;

    memset(res, 0, sizeof(*res));
    if (opts->id != NULL) {
        struct cf_error e = CF_ERROR_INIT;

        (void)verify_one(repo, opts->id, &e);
        if (add_item(opts, res, opts->id, &e, err) != CF_OK)
            return err->code;
        if (e.code != CF_OK)
            *err = e;
        return e.code;
    }
    if (cf_repo_list_backups(repo, &v, &n, err) != CF_OK)
        return err->code;
    for (size_t i = 0; i < n; i++) {
        struct cf_error e = CF_ERROR_INIT;

        if (!v[i].has_manifest)
            continue;  /* incomplete backups are not restorable and not verified */
        (void)verify_one(repo, v[i].id, &e);
        if (add_item(opts, res, v[i].id, &e, err) != CF_OK) {
            free(v);
            return err->code;
        }
        if (e.code != CF_OK && first == CF_OK)
            first = e.code;
    }
    free(v);
    /* the repository still ends with the newest backup this host wrote (repohead.c):
     * every backup above can be genuine while the newest ones are gone */
    if (cf_repo_head_check(repo, err) != CF_OK)
        return err->code;
    if (res->n == 0) {
        cf_error_setf(err, CF_ERR_NOT_FOUND, "no complete backup of instance \"%s\" to verify",
                      repo->instance);
        cf_error_hint(err, "Run \"coffre backup\" first; \"coffre list\" shows what the "
                           "repository holds.");
        return CF_ERR_NOT_FOUND;
    }
    if (res->n_failed > 0)
        cf_error_setf(err, first, "%zu of %zu backups failed verification", res->n_failed,
                      res->n);
    return first;
}

void
cf_verify_result_clear(struct cf_verify_result *res)
{
    free(res->items);
    memset(res, 0, sizeof(*res));
}
