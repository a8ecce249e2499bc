/*
 * storage.c - driver-independent checks and dispatch (see storage.h).
 */
#include "storage/storage.h"

#include <string.h>

cf_err
cf_storage_check_key(const char *key, struct cf_error *err)
{
    size_t len = strlen(key), comp = 0;

    if (len == 0 || len > CF_STORAGE_KEY_MAX || key[0] == '/')
        return cf_error_set(err, CF_ERR_USAGE, "invalid repository key \"%s\"", key);
    for (const char *p = key;; p++) {
        if (*p == '/' || *p == '\0') {
            if (comp == 0 || (comp == 1 && p[-1] == '.') ||
                (comp == 2 && p[-1] == '.' && p[-2] == '.'))
                return cf_error_set(err, CF_ERR_USAGE, "invalid repository key \"%s\"", key);
            comp = 0;
            if (*p == '\0')
                break;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-' || *p == '='))
            return cf_error_set(err, CF_ERR_USAGE, "invalid repository key \"%s\"", key);
        comp++;
    }
    return CF_OK;
}

cf_err
cf_storage_open_write(struct cf_storage *st, const char *key, const struct cf_write_opts *opts,
                      struct cf_sink **out, struct cf_error *err)
{
    static const struct cf_write_opts none = {0};

    if (cf_storage_check_key(key, err) != CF_OK)
        return err->code;
    if (opts != NULL && opts->final_key != NULL && !(st->features & CF_STORAGE_FEAT_LATE_KEY))
        return cf_error_set(err, CF_ERR_INTERNAL,
                            "the %s repository cannot name an object "
                            "after it was written",
                            st->ops->name);
    return st->ops->open_write(st, key, opts != NULL ? opts : &none, out, err);
}

cf_err
cf_storage_open_read(struct cf_storage *st, const char *key, struct cf_source **out,
                     struct cf_error *err)
{
    if (cf_storage_check_key(key, err) != CF_OK)
        return err->code;
    return st->ops->open_read(st, key, out, err);
}

cf_err
cf_storage_info(struct cf_storage *st, const char *key, struct cf_storage_info *info,
                struct cf_error *err)
{
    if (cf_storage_check_key(key, err) != CF_OK)
        return err->code;
    return st->ops->info(st, key, info, err);
}

cf_err
cf_storage_list(struct cf_storage *st, const char *prefix, cf_storage_list_cb cb, void *ctx,
                struct cf_error *err)
{
    return st->ops->list(st, prefix, cb, ctx, err);
}

cf_err
cf_storage_remove(struct cf_storage *st, const char *key, const char *version_id,
                  struct cf_error *err)
{
    if (cf_storage_check_key(key, err) != CF_OK)
        return err->code;
    return st->ops->remove(st, key, version_id, err);
}

static cf_err
absent(const struct cf_storage *st, const char *what, struct cf_error *err)
{
    return cf_error_set(err, CF_ERR_USAGE, "the %s repository has no %s", st->ops->name, what);
}

cf_err
cf_storage_list_versions(struct cf_storage *st, const char *prefix, cf_storage_list_cb cb,
                         void *ctx, struct cf_error *err)
{
    if (st->ops->list_versions == NULL)
        return absent(st, "object versions", err);
    return st->ops->list_versions(st, prefix, cb, ctx, err);
}

cf_err
cf_storage_get_retention(struct cf_storage *st, const char *key, const char *version_id,
                         int64_t *retain_until, struct cf_error *err)
{
    if (st->ops->get_retention == NULL)
        return absent(st, "object lock", err);
    if (cf_storage_check_key(key, err) != CF_OK)
        return err->code;
    return st->ops->get_retention(st, key, version_id, retain_until, err);
}

cf_err
cf_storage_extend_retention(struct cf_storage *st, const char *key, const char *version_id,
                            int64_t retain_until, struct cf_error *err)
{
    if (st->ops->extend_retention == NULL)
        return absent(st, "object lock", err);
    if (cf_storage_check_key(key, err) != CF_OK)
        return err->code;
    return st->ops->extend_retention(st, key, version_id, retain_until, err);
}

cf_err
cf_storage_list_uploads(struct cf_storage *st, const char *prefix, cf_storage_upload_cb cb,
                        void *ctx, struct cf_error *err)
{
    if (st->ops->list_uploads == NULL)
        return CF_OK;  /* nothing unfinished can exist: writes are atomic files */
    return st->ops->list_uploads(st, prefix, cb, ctx, err);
}

cf_err
cf_storage_abort_upload(struct cf_storage *st, const struct cf_storage_upload *up,
                        struct cf_error *err)
{
    if (st->ops->abort_upload == NULL)
        return absent(st, "multipart uploads", err);
    return st->ops->abort_upload(st, up, err);
}

const char *
cf_storage_driver_name(const struct cf_storage *st)
{
    return st->ops->name;
}

void
cf_storage_free(struct cf_storage *st)
{
    if (st != NULL)
        st->ops->free(st);
}
