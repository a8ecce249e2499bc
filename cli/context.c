/*
 * context.c - open the configuration, the repository and the keyring (see
 * context.h).
 */
#include "cli/context.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "storage/s3/s3.h"

static cf_err
open_storage(struct cf_context *c, struct cf_error *err)
{
    const struct cf_repo_conf *rc = &c->cfg->repo;

    if (rc->type == CF_REPO_S3)
        return cf_storage_s3_new(&rc->s3, &c->st, err);
    return cf_storage_posix_new(rc->path, &c->st, err);
}

static cf_err
open_keyring(struct cf_context *c, struct cf_error *err)
{
    const struct cf_keys_conf *k = &c->cfg->keys;
    struct cf_keyring_options ko;

    ko.module = k->module;
    ko.keks = (const char *const *)k->keks;
    ko.n_keks = k->n_keks;
    ko.pin_file = k->pin_file;
    ko.sign = k->sign;
    ko.trust = (const char *const *)k->trust;
    ko.n_trust = k->n_trust;
    ko.read = (const char *const *)k->read;
    ko.n_read = k->n_read;
    ko.require = k->require;
    /* in the state directory, which every coffre process of the instance shares */
    ko.lock_path = NULL;
    if (snprintf(c->hsm_lock, sizeof(c->hsm_lock), "%s/hsm.lock", c->cfg->state_dir) <
        (int)sizeof(c->hsm_lock))
        ko.lock_path = c->hsm_lock;
    return cf_keyring_open(&ko, &c->kr, err);
}

cf_err
cf_context_open(const char *config_path, unsigned needs, struct cf_context **out,
                struct cf_error *err)
{
    struct cf_context *c = calloc(1, sizeof(*c));
    cf_err rc = CF_OK;

    if (c == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if ((rc = cf_config_load(config_path, &c->cfg, err)) != CF_OK)
        goto fail;
    for (size_t i = 0; i < c->cfg->n_warnings; i++)
        cf_log_warning("%s", c->cfg->warnings[i]);
    if ((needs & CF_NEED_STORAGE) && (rc = open_storage(c, err)) != CF_OK)
        goto fail;
    if ((needs & CF_NEED_KEYS) && (rc = open_keyring(c, err)) != CF_OK)
        goto fail;
    c->repo.st = c->st;
    c->repo.keys = c->kr != NULL ? cf_keyring_keyops(c->kr) : NULL;
    c->repo.instance = c->cfg->instance;
    c->repo.chunk_size = (uint32_t)c->cfg->object.chunk_size;
    c->repo.comp.level = c->cfg->object.zstd_level;
    c->repo.comp.workers = c->cfg->object.zstd_workers;
    c->repo.comp.workers_auto = c->cfg->object.zstd_workers_auto;
    c->repo.allow_unsigned = c->cfg->keys.allow_unsigned;
    if (snprintf(c->head_file, sizeof(c->head_file), "%s/newest-backup.json", c->cfg->state_dir) <
        (int)sizeof(c->head_file)) {
        cf_repo_conf_identity(&c->cfg->repo, c->cfg->instance, c->repo_identity,
                              sizeof(c->repo_identity));
        c->repo.head_file = c->head_file;
        c->repo.repo_identity = c->repo_identity;
    }
    *out = c;
    return CF_OK;
fail:
    cf_context_free(c);
    return rc;
}

cf_err
cf_context_open_storage(struct cf_context *c, struct cf_error *err)
{
    if (c->st == NULL && open_storage(c, err) != CF_OK)
        return err->code;
    c->repo.st = c->st;
    return CF_OK;
}

cf_err
cf_context_open_keys(struct cf_context *c, struct cf_error *err)
{
    if (c->kr == NULL && open_keyring(c, err) != CF_OK)
        return err->code;
    c->repo.keys = cf_keyring_keyops(c->kr);
    return CF_OK;
}

void
cf_context_free(struct cf_context *c)
{
    if (c == NULL)
        return;
    cf_keyring_free(c->kr);
    cf_storage_free(c->st);
    cf_config_free(c->cfg);
    free(c);
}
