/*
 * verify.c - `coffre verify`: read every object of a backup, check its AEAD
 * and its sha256 against the manifest, restore nothing.  Also checks that
 * the backup holds exactly the objects its manifest lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "restore/commands.h"
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
    if (strcmp(name, CF_MANIFEST_NAME) == 0 ||
        strncmp(name, CF_VERIFY_PREFIX, strlen(CF_VERIFY_PREFIX)) == 0)
        return CF_OK;
    for (size_t i = 0; i < p->m->n_objects; i++)
        if (strcmp(p->m->objects[i].name, name) == 0)
            return CF_OK;
    if (p->extra[0] == '\0')
        (void)snprintf(p->extra, sizeof(p->extra), "%s", info->key);
    return CF_OK;
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
    if (cf_repo_record_verify(repo, id, lock_until, rc == CF_OK, rc == CF_OK ? NULL : err->msg,
                              &rec_err) != CF_OK)
        cf_log_warning("could not record the verification of backup %s: %s", id, rec_err.msg);
    return rc;
}

cf_err
cf_cmd_verify(const struct cf_repo *repo, const char *id, bool json, struct cf_error *err)
{
    struct cf_backup_entry *v = NULL;
    size_t n = 0, bad = 0, good = 0;
    cf_err first = CF_OK;

    if (id != NULL) {
        if (verify_one(repo, id, err) != CF_OK)
            return err->code;
        if (json)
            (void)printf("{\"id\": \"%s\", \"status\": \"ok\"}\n", id);
        else
            (void)printf("backup %s: ok\n", id);
        return CF_OK;
    }
    if (cf_repo_list_backups(repo, &v, &n, err) != CF_OK)
        return err->code;
    for (size_t i = 0; i < n; i++) {
        struct cf_error e = CF_ERROR_INIT;

        if (!v[i].has_manifest)
            continue;  /* incomplete backups are not restorable and not verified */
        if (verify_one(repo, v[i].id, &e) == CF_OK) {
            good++;
            (void)printf(json ? "{\"id\": \"%s\", \"status\": \"ok\"}\n" : "backup %s: ok\n", v[i].id);
            continue;
        }
        bad++;
        (void)printf(json ? "{\"id\": \"%s\", \"status\": \"failed\"}\n" : "backup %s: FAILED\n",
               v[i].id);
        cf_log_cf_error(&e);
        if (first == CF_OK) {
            *err = e;
            first = e.code;
        }
    }
    free(v);
    if (bad + good == 0) {
        cf_error_setf(err, CF_ERR_NOT_FOUND, "no complete backup of instance \"%s\" to verify",
                      repo->instance);
        cf_error_hint(err, "Run \"coffre backup\" first; \"coffre list\" shows what the "
                           "repository holds.");
        return CF_ERR_NOT_FOUND;
    }
    if (bad > 0) {
        cf_error_clear(err);
        cf_error_setf(err, first, "%zu of %zu backups failed verification", bad, bad + good);
    }
    return bad > 0 ? first : CF_OK;
}
