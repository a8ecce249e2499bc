/*
 * walspool.h - the local WAL spool ([wal] spool): async wal-push and wal-get
 * read-ahead (docs/wal.md).
 *
 *   <spool>/pushed/<segment>             "sha256\nrepository\n": an async wal-push child stored
 *                                        this segment, durably, with this content
 *   <spool>/prefetch/<segment>-<sha256>  a segment fetched ahead by wal-get
 *
 * A marker is written (temporary name, fsync, rename, fsync of the directory)
 * only after cf_wal_store() returned, so it never claims more than the
 * repository holds; it is consumed (removed) by the wal-push that trusts it,
 * and only when the file to archive still has the recorded sha256.
 */
#ifndef CF_WALSPOOL_H
#define CF_WALSPOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/wal.h"
#include "storage/walrepo.h"

/* wal.c: shared with the spool. */
void cf_wal_lock_repo(const struct cf_wal_env *env, const struct cf_repo *repo,
                      struct cf_repo *copy);
/* What a push saw of its file: its state when opened, and the time then. */
struct cf_wal_read {
    struct stat st;
    time_t at;
};

/* Store the WAL file at path; sha256 of its content in sha256; read: NULL or out. */
cf_err cf_wal_push_file(const struct cf_repo *repo, const char *path, char sha256[65],
                        bool *already, struct cf_wal_read *read, struct cf_error *err);
/* Decrypt o into path through a temporary file beside it (rename on success;
 * partials zero-padded to the segment size). */
cf_err cf_wal_get_to_path(const struct cf_repo *r, const struct cf_wal_object *o,
                          const char *path, struct cf_error *err);

/* Async wal-push of path: consume its marker, or push it while up to
 * push_jobs - 1 children push other ready segments (bounded wait). */
cf_err cf_wal_push_async(const struct cf_wal_env *env, const struct cf_repo *repo,
                         const char *path, struct cf_error *err);
/* Record that path (content sha256, read as read says; NULL: unknown) is durably
 * archived. */
cf_err cf_walspool_mark_pushed(const struct cf_wal_env *env, const char *path,
                               const char sha256[65], const struct cf_wal_read *read,
                               struct cf_error *err);

/* Serve segment name from the prefetch spool into path: CF_OK, or
 * CF_ERR_NOT_FOUND (no message) when it is not there or fails its check. */
cf_err cf_walspool_serve(const struct cf_wal_env *env, const char *name, const char *path,
                         struct cf_error *err);
/* Start a detached child that prefetches the segments after name (no-op
 * when [wal] readahead = 0).  Never fails: read-ahead is an optimisation. */
void cf_walspool_readahead(const struct cf_wal_env *env, const char *name, uint64_t segment_size);
/* The child's work (wal-get --prefetch=SIZE NAME). */
cf_err cf_walspool_prefetch(const struct cf_wal_env *env, const struct cf_repo *repo,
                            const char *name, uint64_t segment_size, struct cf_error *err);

#endif
