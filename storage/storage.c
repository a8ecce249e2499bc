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
cf_storage_open_write(struct cf_storage *st, const char *key, struct cf_sink **out,
                      struct cf_error *err)
{
    if (cf_storage_check_key(key, err) != CF_OK)
        return err->code;
    return st->ops->open_write(st, key, out, err);
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
cf_storage_remove(struct cf_storage *st, const char *key, struct cf_error *err)
{
    if (cf_storage_check_key(key, err) != CF_OK)
        return err->code;
    return st->ops->remove(st, key, err);
}

void
cf_storage_free(struct cf_storage *st)
{
    if (st != NULL)
        st->ops->free(st);
}
