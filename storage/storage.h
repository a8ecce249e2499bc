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
 * WORM: a driver with CF_STORAGE_FEAT_OBJECT_LOCK honours write options'
 * retain_until (S3 Object Lock); before that date the object version can be
 * neither deleted nor overwritten, by coffre or by anyone holding the same
 * credentials.  remove() of a locked version fails with CF_ERR_LOCKED.  The
 * posix driver has no lock (it ignores retain_until: callers warn).
 *
 * Both drivers (posix, s3) say the same thing for the same failure.
 */
#ifndef CF_STORAGE_H
#define CF_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "stream/sink.h"

#define CF_STORAGE_KEY_MAX 1024
#define CF_STORAGE_VERSION_MAX 128
#define CF_STORAGE_FEAT_OBJECT_LOCK 0x1u   /* retain_until is enforced by the server */
#define CF_STORAGE_FEAT_VERSIONS 0x2u      /* list_versions and remove by version */
#define CF_STORAGE_FEAT_LATE_KEY 0x4u      /* write options' final_key is honoured */

struct cf_storage;

struct cf_storage_info {
    char key[CF_STORAGE_KEY_MAX + 1];
    uint64_t size;
    int64_t mtime;          /* seconds since the epoch */
    char version_id[CF_STORAGE_VERSION_MAX + 1]; /* "" where the driver has no versions */
    int64_t retain_until;   /* Object Lock date, 0 if none or unknown (list does not say) */
    bool is_delete_marker;  /* list_versions only */
    bool is_latest;         /* list_versions only */
};

/* Options for a new object; zero-initialise and set what you need. */
struct cf_write_opts {
    int64_t retain_until;   /* Object Lock retain-until date (seconds); 0: no lock */
    /*
     * Drivers with CF_STORAGE_FEAT_LATE_KEY only (else open_write refuses it): the
     * key given to open_write is a placeholder, and close(), once every byte is
     * written and before anything becomes visible, calls final_key for the key the
     * object is stored under; it must be in the placeholder's directory.  An
     * error from it aborts the write.  Lets a caller name an object after a digest
     * of its content in one pass over the data.
     */
    cf_err (*final_key)(void *arg, char *key, size_t size, struct cf_error *err);
    void *final_key_arg;
};

/* An unfinished multipart upload (s3): started at initiated. */
struct cf_storage_upload {
    char key[CF_STORAGE_KEY_MAX + 1];
    /* posix: the temporary file's key, longer than its object's (".KEY.tmp.PID.RAND"); at
     * 256 bytes the temporary file of a WAL partial (signed key) did not fit and prune never
     * removed what a killed wal-stream left (test_47, K2) */
    char upload_id[CF_STORAGE_KEY_MAX + 32];
    int64_t initiated;
};
typedef cf_err (*cf_storage_upload_cb)(void *ctx, const struct cf_storage_upload *up,
                                       struct cf_error *err);

/* Called once per object, in key order.  A non-OK return stops the listing. */
typedef cf_err (*cf_storage_list_cb)(void *ctx, const struct cf_storage_info *info,
                                     struct cf_error *err);

struct cf_storage_ops {
    const char *name;
    cf_err (*open_write)(struct cf_storage *st, const char *key, const struct cf_write_opts *opts,
                         struct cf_sink **out, struct cf_error *err);
    cf_err (*open_read)(struct cf_storage *st, const char *key, struct cf_source **out,
                        struct cf_error *err);
    cf_err (*info)(struct cf_storage *st, const char *key, struct cf_storage_info *info,
                   struct cf_error *err);
    cf_err (*list)(struct cf_storage *st, const char *prefix, cf_storage_list_cb cb, void *ctx,
                   struct cf_error *err);
    /* version_id NULL: the current version (s3: a delete marker on versioned buckets). */
    cf_err (*remove)(struct cf_storage *st, const char *key, const char *version_id,
                     struct cf_error *err);
    void (*free)(struct cf_storage *st);
    /* optional (NULL when the driver has no such thing) */
    cf_err (*list_versions)(struct cf_storage *st, const char *prefix, cf_storage_list_cb cb,
                            void *ctx, struct cf_error *err);
    cf_err (*get_retention)(struct cf_storage *st, const char *key, const char *version_id,
                            int64_t *retain_until, struct cf_error *err);
    cf_err (*extend_retention)(struct cf_storage *st, const char *key, const char *version_id,
                               int64_t retain_until, struct cf_error *err);
    cf_err (*list_uploads)(struct cf_storage *st, const char *prefix, cf_storage_upload_cb cb,
                           void *ctx, struct cf_error *err);
    cf_err (*abort_upload)(struct cf_storage *st, const struct cf_storage_upload *up,
                           struct cf_error *err);
};

struct cf_storage {
    const struct cf_storage_ops *ops;
    unsigned features;   /* CF_STORAGE_FEAT_*, known once the driver is open */
    int64_t server_date; /* S3: the Date of the server's last response; 0: unknown */
    int64_t server_date_at; /* this host's clock when that response came */
};

/* CF_ERR_USAGE unless key is a valid repository key. */
cf_err cf_storage_check_key(const char *key, struct cf_error *err);

/* opts may be NULL (no lock). */
cf_err cf_storage_open_write(struct cf_storage *st, const char *key,
                             const struct cf_write_opts *opts, struct cf_sink **out,
                             struct cf_error *err);
/* CF_ERR_NOT_FOUND: object "KEY" does not exist in the repository */
cf_err cf_storage_open_read(struct cf_storage *st, const char *key, struct cf_source **out,
                            struct cf_error *err);
cf_err cf_storage_info(struct cf_storage *st, const char *key, struct cf_storage_info *info,
                       struct cf_error *err);
/* Every object whose key starts with prefix (a "dir/" prefix lists a folder). */
cf_err cf_storage_list(struct cf_storage *st, const char *prefix, cf_storage_list_cb cb,
                       void *ctx, struct cf_error *err);
/* CF_ERR_LOCKED: object "KEY" is locked until DATE and cannot be deleted. */
cf_err cf_storage_remove(struct cf_storage *st, const char *key, const char *version_id,
                         struct cf_error *err);
/* The optional operations: CF_ERR_USAGE "the DRIVER repository has no ..." when absent. */
cf_err cf_storage_list_versions(struct cf_storage *st, const char *prefix, cf_storage_list_cb cb,
                                void *ctx, struct cf_error *err);
cf_err cf_storage_get_retention(struct cf_storage *st, const char *key, const char *version_id,
                                int64_t *retain_until, struct cf_error *err);
cf_err cf_storage_extend_retention(struct cf_storage *st, const char *key,
                                   const char *version_id, int64_t retain_until,
                                   struct cf_error *err);
cf_err cf_storage_list_uploads(struct cf_storage *st, const char *prefix,
                               cf_storage_upload_cb cb, void *ctx, struct cf_error *err);
cf_err cf_storage_abort_upload(struct cf_storage *st, const struct cf_storage_upload *up,
                               struct cf_error *err);
const char *cf_storage_driver_name(const struct cf_storage *st);
void cf_storage_free(struct cf_storage *st);

/* posix driver: objects are files under root (created if missing, mode 0700). */
cf_err cf_storage_posix_new(const char *root, struct cf_storage **out, struct cf_error *err);

#endif
