/*
 * storage.h - the repository driver interface.
 *
 * Keys are relative paths ("acme/backup/20261122T020000Z/db/app.dump"):
 * components of [A-Za-z0-9._=-], never "." or "..", no leading '/'.
 *
 * Writing is atomic from a reader's point of view: open_write returns a
 * terminal sink whose close() makes the object visible under its key only
 * after every byte is durable (posix: temporary name, fsync, link, fsync of
 * the directory); abort() leaves nothing under the key.  An existing key is
 * never overwritten (CF_ERR_EXISTS): repositories are write-once.
 *
 * Both drivers (posix now, s3 next) say the same thing for the same failure.
 */
#ifndef CF_STORAGE_H
#define CF_STORAGE_H

#include <stdint.h>

#include "common/error.h"
#include "stream/sink.h"

#define CF_STORAGE_KEY_MAX 1024
#define CF_STORAGE_FEAT_OBJECT_LOCK 0x1u

struct cf_storage;

struct cf_storage_info {
    char key[CF_STORAGE_KEY_MAX + 1];
    uint64_t size;
    int64_t mtime;   /* seconds since the epoch */
};

/* Called once per object, in key order.  A non-OK return stops the listing. */
typedef cf_err (*cf_storage_list_cb)(void *ctx, const struct cf_storage_info *info,
                                     struct cf_error *err);

struct cf_storage_ops {
    const char *name;
    unsigned features;
    cf_err (*open_write)(struct cf_storage *st, const char *key, struct cf_sink **out,
                         struct cf_error *err);
    cf_err (*open_read)(struct cf_storage *st, const char *key, struct cf_source **out,
                        struct cf_error *err);
    cf_err (*info)(struct cf_storage *st, const char *key, struct cf_storage_info *info,
                   struct cf_error *err);
    cf_err (*list)(struct cf_storage *st, const char *prefix, cf_storage_list_cb cb, void *ctx,
                   struct cf_error *err);
    cf_err (*remove)(struct cf_storage *st, const char *key, struct cf_error *err);
    void (*free)(struct cf_storage *st);
};

struct cf_storage {
    const struct cf_storage_ops *ops;
};

/* CF_ERR_USAGE unless key is a valid repository key. */
cf_err cf_storage_check_key(const char *key, struct cf_error *err);

cf_err cf_storage_open_write(struct cf_storage *st, const char *key, struct cf_sink **out,
                             struct cf_error *err);
/* CF_ERR_NOT_FOUND: object "KEY" does not exist in the repository */
cf_err cf_storage_open_read(struct cf_storage *st, const char *key, struct cf_source **out,
                            struct cf_error *err);
cf_err cf_storage_info(struct cf_storage *st, const char *key, struct cf_storage_info *info,
                       struct cf_error *err);
/* Every object whose key starts with prefix (a "dir/" prefix lists a folder). */
cf_err cf_storage_list(struct cf_storage *st, const char *prefix, cf_storage_list_cb cb,
                       void *ctx, struct cf_error *err);
cf_err cf_storage_remove(struct cf_storage *st, const char *key, struct cf_error *err);
void cf_storage_free(struct cf_storage *st);

/* posix driver: objects are files under root (created if missing, mode 0700). */
cf_err cf_storage_posix_new(const char *root, struct cf_storage **out, struct cf_error *err);

#endif
