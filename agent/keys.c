/*
 * keys.c - the key engines (see keys.h).
 */
#include "agent/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

cf_err
cf_keys_init_run(const struct cf_keys_init_opts *opts, size_t *n_created, struct cf_error *err)
{
    struct cf_keyring_init init = {NULL, opts->type, opts->rsa_bits};

    *n_created = 0;
    for (size_t i = 0; i < opts->n_uris; i++) {
        init.uri = opts->uris[i];
        if (cf_keyring_create(opts->kr, &init, err) != CF_OK)
            return err->code;
        (*n_created)++;
    }
    if (opts->with_signer && cf_keyring_create_signer(opts->kr, err) != CF_OK)
        return err->code;
    return CF_OK;
}

cf_err
cf_keys_list_run(struct cf_keyring *kr, const struct cf_keys_conf *keys,
                 struct cf_keys_list_result *res, struct cf_error *err)
{
    memset(res, 0, sizeof(*res));
    res->keks = calloc(keys->n_keks + 1, sizeof(*res->keks));
    if (res->keks == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (cf_keyring_status(kr, res->keks, keys->n_keks, err) != CF_OK) {
        cf_keys_list_result_clear(res);
        return err->code;
    }
    res->n = keys->n_keks;
    for (size_t i = 0; i < res->n; i++)
        res->unreachable += !res->keks[i].is_reachable;
    if (res->unreachable > 0)
        return cf_error_set(err, CF_ERR_KEY, "%zu of %zu configured keys are not reachable",
                            res->unreachable, res->n);
    return CF_OK;
}

void
cf_keys_list_result_clear(struct cf_keys_list_result *res)
{
    free(res->keks);
    memset(res, 0, sizeof(*res));
}

/* Every recipient URI the objects of the repository name, with how many backups need it. */
struct inventory {
    const struct cf_repo *repo;
    struct cf_object_header *hdr;
    struct cf_keys_check_result *res;
};

static cf_err
note_uri(struct cf_keys_check_result *res, const char *uri, const char *id,
         struct cf_error *err)
{
    struct cf_key_need *nd = NULL;

    for (size_t i = 0; i < res->n_needs && nd == NULL; i++)
        if (strcmp(res->needs[i].uri, uri) == 0)
            nd = &res->needs[i];
    if (nd == NULL) {
        if (res->n_needs == res->cap) {
            size_t cap = res->cap ? res->cap * 2 : 8;
            struct cf_key_need *nn = realloc(res->needs, cap * sizeof(*nn));

            if (nn == NULL)
                return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
            res->needs = nn;
            res->cap = cap;
        }
        nd = &res->needs[res->n_needs++];
        memset(nd, 0, sizeof(*nd));
        (void)snprintf(nd->uri, sizeof(nd->uri), "%s", uri);
    }
    if (strcmp(nd->last_id, id) != 0) {
        nd->backups++;
        (void)snprintf(nd->last_id, sizeof(nd->last_id), "%s", id);
    }
    return CF_OK;
}

static cf_err
inventory_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct inventory *inv = ctx;
    struct cf_error e = CF_ERROR_INIT;

    inv->res->objects++;
    if (cf_repo_read_header(inv->repo, info->key, inv->hdr, &e) != CF_OK) {
        inv->res->unreadable++;
        cf_log_warning("%s", e.msg);
        return CF_OK;
    }
    for (size_t i = 0; i < inv->hdr->n_recipients; i++)
        if (note_uri(inv->res, inv->hdr->recipients[i].uri, inv->hdr->backup_id, err) != CF_OK)
            return err->code;
    return CF_OK;
}

static bool
is_configured(const struct cf_keys_conf *keys, const char *uri)
{
    for (size_t i = 0; i < keys->n_keks; i++)
        if (strncmp(keys->keks[i], uri, strlen(uri)) == 0 &&
            (keys->keks[i][strlen(uri)] == '\0' || keys->keks[i][strlen(uri)] == '?'))
            return true;
    return false;
}

cf_err
cf_keys_check_run(struct cf_keyring *kr, const struct cf_keys_conf *keys,
                  const struct cf_repo *repo, struct cf_keys_check_result *res,
                  struct cf_error *err)
{
    struct inventory inv = {repo, NULL, res};
    char prefix[CF_STORAGE_KEY_MAX + 1];
    cf_err rc;

    memset(res, 0, sizeof(*res));
    if (cf_keyring_check(kr, true, err) != CF_OK)
        return err->code;
    res->n_keks = keys->n_keks;
    if (cf_keyring_check_signer(kr, err) != CF_OK)
        return err->code;
    res->signer_ok = true;
    inv.hdr = malloc(sizeof(*inv.hdr));
    if (inv.hdr == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = cf_repo_backup_prefix(repo, NULL, prefix, sizeof(prefix), err);
    if (rc == CF_OK)
        rc = cf_storage_list(repo->st, prefix, inventory_cb, &inv, err);
    free(inv.hdr);
    for (size_t i = 0; i < res->n_needs; i++)
        res->needs[i].is_configured = is_configured(keys, res->needs[i].uri);
    if (rc == CF_OK && res->unreadable > 0)
        rc = cf_error_set(err, CF_ERR_CORRUPT, "%zu object(s) have no readable header",
                          res->unreadable);
    return rc;
}

void
cf_keys_check_result_clear(struct cf_keys_check_result *res)
{
    free(res->needs);
    memset(res, 0, sizeof(*res));
}
