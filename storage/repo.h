/*
 * repo.h - the repository layout and encrypted object I/O on top of a driver.
 *
 *   <instance>/backup/<id>/<name>        objects of one backup
 *   <instance>/backup/<id>/manifest      the manifest, written last
 *   <instance>/wal/...                   the WAL archive (storage/walrepo.h)
 *
 * Keys are built only here and in walrepo.c, from the prefixes below.
 *
 * Every object goes through the standard chains (stream/pipeline.h).
 */
#ifndef CF_REPO_H
#define CF_REPO_H

#include <stdbool.h>

#include "common/manifest.h"
#include "storage/storage.h"
#include "stream/pipeline.h"

#define CF_MANIFEST_NAME "manifest"
#define CF_MANIFEST_MAX ((size_t)64 * 1024 * 1024)
#define CF_PUMP_BUFFER ((size_t)256 * 1024)

struct cf_repo {
    struct cf_storage *st;               /* borrowed */
    const struct cf_keyops *keys;        /* borrowed */
    const char *instance;                /* borrowed */
    uint32_t chunk_size;
    struct cf_compress_options comp;
    int64_t retain_until;                /* Object Lock date for new objects; 0: none */
    bool allow_unsigned;                 /* accept manifests without a signature
                                            (--allow-unsigned, keys.allow_unsigned) */
    uint64_t wal_system;                 /* WAL listings skip objects bound to another
                                            database system (0: list them all) */
    const char *head_file;               /* borrowed: <state_dir>/newest-backup.json, the
                                            newest backup this host completed (repohead.c);
                                            NULL: not kept */
    const char *repo_identity;           /* borrowed: which repository (posix path, S3
                                            endpoint, bucket, prefix) the record is about */
};

/* "<instance>/backup/" (id NULL: every backup) or "<instance>/backup/<id>/" (one
 * backup's objects), a listing prefix, into buf; CF_ERR_USAGE if it does not fit. */
cf_err cf_repo_backup_prefix(const struct cf_repo *r, const char *id, char *buf, size_t size,
                             struct cf_error *err);
/* "<instance>/wal/": the whole WAL archive; CF_ERR_USAGE if it does not fit. */
cf_err cf_repo_wal_prefix(const struct cf_repo *r, char *buf, size_t size, struct cf_error *err);

/* "<instance>/check/probe.<tag>": coffre check's probe object, outside backup/ and wal/ so
 * that no listing of backups or WAL ever sees it; CF_ERR_USAGE if it does not fit. */
cf_err cf_repo_probe_key(const struct cf_repo *r, const char *tag, char *buf, size_t size,
                         struct cf_error *err);

/* "<instance>/backup/<id>/<name>" into buf; CF_ERR_USAGE if it does not fit or is invalid. */
cf_err cf_repo_key(const struct cf_repo *r, const char *id, const char *name, char *buf,
                   size_t size, struct cf_error *err);

/* Store src's bytes as object name of backup id; sizes filled on success. */
cf_err cf_repo_put(const struct cf_repo *r, const char *id, const char *name, unsigned kind,
                   struct cf_source *src, struct cf_backup_sizes *sizes, struct cf_error *err);

/*
 * A last check before an object becomes visible.  cf_repo_put_hooked calls
 * it once, after src reported its end (for a child source: the child exited
 * 0) and before the chain is closed, i.e. before the storage driver commits
 * (posix link(), S3 single PUT or CompleteMultipartUpload).  When it fails,
 * its error is returned and the chain is aborted: nothing is stored.  It
 * must fill err when it fails; arg is the caller's.
 */
typedef cf_err (*cf_repo_precommit_fn)(void *arg, struct cf_error *err);
/* cf_repo_put with a pre-commit check (precommit NULL: cf_repo_put). */
cf_err cf_repo_put_hooked(const struct cf_repo *r, const char *id, const char *name,
                          unsigned kind, struct cf_source *src, cf_repo_precommit_fn precommit,
                          void *arg, struct cf_backup_sizes *sizes, struct cf_error *err);

/* Decrypt object name of backup id into terminal (owned: freed here).
 * sha256 (binary) may be NULL to skip the manifest check. */
cf_err cf_repo_get(const struct cf_repo *r, const char *id, const char *name, unsigned kind,
                   const uint8_t *sha256, struct cf_sink *terminal, struct cf_error *err);

/* The same under an explicit key (WAL objects): id and name go into the object header. */
cf_err cf_repo_put_key(const struct cf_repo *r, const char *key, const char *id, const char *name,
                       unsigned kind, struct cf_source *src, struct cf_backup_sizes *sizes,
                       struct cf_error *err);
cf_err cf_repo_get_key(const struct cf_repo *r, const char *key, const char *id, const char *name,
                       unsigned kind, const uint8_t *sha256, struct cf_sink *terminal,
                       struct cf_error *err);

/*
 * cf_repo_put_key when the key depends on the content (WAL objects are named
 * after their sha256), in one pass over src: placeholder is a key in the
 * object's directory, and once every byte is written, before the object
 * becomes visible, key_fn gets the plaintext's sha256 and writes the real key.
 * Only where the driver has CF_STORAGE_FEAT_LATE_KEY (posix).
 */
typedef cf_err (*cf_repo_key_fn)(void *arg, const uint8_t sha256[32], char *key, size_t size,
                                 struct cf_error *err);
cf_err cf_repo_put_late_key(const struct cf_repo *r, const char *placeholder, const char *id,
                            const char *name, unsigned kind, struct cf_source *src,
                            cf_repo_key_fn key_fn, void *arg, struct cf_backup_sizes *sizes,
                            struct cf_error *err);

/*
 * Manifests are signed (stream/signed.h).  Writing links m to the newest
 * complete backup before it (m->previous_*), signs it with the keyring's
 * signing key and stores it; it fails, storing nothing, when it cannot sign.
 */
cf_err cf_repo_write_manifest(const struct cf_repo *r, struct cf_manifest *m, struct cf_error *err);
/*
 * Read and check a manifest: its signature (a trusted signer; an unsigned
 * one only with allow_unsigned), its instance and id.  CF_ERR_NOT_FOUND
 * (with a hint) when the backup has no manifest; CF_ERR_KEY when it is
 * unsigned or its signer is not trusted; CF_ERR_CORRUPT when it does not
 * verify.
 */
cf_err cf_repo_read_manifest(const struct cf_repo *r, const char *id, struct cf_manifest **out,
                             struct cf_error *err);
/* The checked manifest JSON itself (for `coffre cat ID/manifest`; *json malloc'd). */
cf_err cf_repo_manifest_text(const struct cf_repo *r, const char *id, char **json, size_t *len,
                             struct cf_error *err);
/* The same check; digest = SHA-256 of the manifest object's plaintext (the chain link). */
cf_err cf_repo_manifest_digest(const struct cf_repo *r, const char *id,
                               uint8_t digest[CF_SHA256_BYTES], struct cf_error *err);

/*
 * Verification records: "verify-<UTC time>" objects stored with the backup
 * they judge (new immutable objects, never rewritten; the latest one
 * counts).  record_verify writes one; last_verify reads the latest one.
 */
#define CF_VERIFY_PREFIX "verify-"
#define CF_DRILL_PREFIX "drill-"
#define CF_MIGRATE_PREFIX "migrate-"   /* a migration's journal, with its final backup */
#define CF_RECORD_MAX ((size_t)1024 * 1024)
/*
 * A record (verification, drill) as a new object of backup id named
 * "<prefix>YYYYMMDDTHHMMSSZ-uuuuuu" (UTC, microseconds: names sort in time
 * order), holding text (JSON), locked until lock_until when the storage
 * locks and that date is still ahead.  The name is written into name.
 */
cf_err cf_repo_put_record(const struct cf_repo *r, const char *id, const char *prefix,
                          int64_t lock_until, const char *text, char *name, size_t name_size,
                          struct cf_error *err);
/* Read record name of backup id (at most CF_RECORD_MAX bytes; *out malloc'd, NUL-ended). */
cf_err cf_repo_read_record(const struct cf_repo *r, const char *id, const char *name, char **out,
                           size_t *len, struct cf_error *err);
cf_err cf_repo_record_verify(const struct cf_repo *r, const char *id, int64_t lock_until,
                             bool ok, const char *problem, struct cf_error *err);
/* Whether name is "<prefix>YYYYMMDDTHHMMSSZ-uuuuuu" exactly, as cf_repo_put_record names. */
bool cf_repo_is_record_name(const char *name, const char *prefix);
/*
 * The newest verification record (exact name form only) decides.  *has_record
 * false when the backup was never verified after it was taken.  A record that
 * cannot be read, is not signed by a trusted key or judges another backup
 * counts as a failed verification (*has_record true, *ok false; the error
 * says why).
 */
cf_err cf_repo_last_verify(const struct cf_repo *r, const char *id, bool *has_record, bool *ok,
                           struct cf_error *err);

/* Read only the clear header of the object stored under key (no key needed):
 * kind, backup id, name and recipients.  CF_ERR_CORRUPT if it is not one. */
cf_err cf_repo_read_header(const struct cf_repo *r, const char *key,
                           struct cf_object_header *hdr, struct cf_error *err);

struct cf_backup_entry {
    char id[CF_OBJECT_ID_MAX + 1];
    bool has_manifest;
    size_t n_objects;
    uint64_t stored_bytes;
    /* the storage's date of its newest object: an incomplete backup is aged
     * from the later of this and its id (a start time on the clock of the
     * host that runs it, which may be behind) */
    int64_t newest_mtime;
};

/* Every backup directory of the instance, sorted by id (oldest first). */
cf_err cf_repo_list_backups(const struct cf_repo *r, struct cf_backup_entry **out, size_t *n,
                            struct cf_error *err);

/*
 * The newest backup this host completed (storage/repohead.c), kept in
 * head_file so that a repository that lost its newest backups (deleted,
 * rolled back) is detected, and so that a write-only host can link each
 * backup to the one it wrote before.
 */
struct cf_repo_head {
    char id[CF_OBJECT_ID_MAX + 1];
    char sha256[65]; /* of its manifest object's plaintext, as the chain links */
    int64_t expires;
};
/* False (nothing read) without a record for this instance and repository; an
 * unreadable record is a warning. */
bool cf_repo_head_read(const struct cf_repo *r, struct cf_repo_head *h);
/* Record m (its manifest's sha256 in hex) as the newest backup this host completed. */
cf_err cf_repo_head_write(const struct cf_repo *r, const struct cf_manifest *m, const char *sha256,
                          struct cf_error *err);
/* CF_ERR_CORRUPT when the recorded backup is missing or its manifest was replaced. */
cf_err cf_repo_head_check(const struct cf_repo *r, struct cf_error *err);

#endif
