/*
 * fsutil.h - the small file-system operations coffre needs in several
 * places, written once: mkdir -p, making a directory entry durable, replacing
 * a file atomically, removing a tree, and the state of a destination
 * directory.
 *
 * Errors name the path that failed and say what to do next: CF_ERR_IO (with
 * errno), CF_ERR_DISK_FULL when the file system is full, CF_ERR_NOMEM.
 * Callers add their own context ("while writing metrics.textfile").
 */
#ifndef CF_FSUTIL_H
#define CF_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

/* mkdir -p: create every missing level of path with mode (existing levels
 * are left as they are); path must end up a directory. */
cf_err cf_mkdir_p(const char *path, mode_t mode, struct cf_error *err);

/* fsync the directory path itself, so that the entries created, renamed or
 * removed in it survive a crash. */
cf_err cf_fsync_dir(const char *path, struct cf_error *err);
/* After EACCES on an absolute path: if this user may not enter a directory
 * on the way, or may not write the path or the directory that would hold it,
 * set a hint naming the user, that directory, its mode and owner, and the
 * right missing; false (no hint set) when none of that explains it. */
bool cf_access_hint(struct cf_error *err, const char *path);
/* syncfs(2) the whole file system holding path: cheaper than an fsync per
 * file after writing a large tree (a restored data directory). */
cf_err cf_syncfs_dir(const char *path, struct cf_error *err);

/*
 * Atomic replacement of a file.  open creates a temporary file in the
 * directory of path (".NAME.tmp.XXXXXX": a dot name with an unpredictable
 * suffix, O_EXCL, mode); the caller writes through cf_atomic_file_fd().
 * commit fsyncs it, renames it onto path and fsyncs the directory, so after
 * a crash path holds either its old content or the whole new one.  commit
 * and abort free f (abort removes the temporary file; NULL-safe; cannot fail).
 */
struct cf_atomic_file;

cf_err cf_atomic_file_open(const char *path, mode_t mode, struct cf_atomic_file **out,
                           struct cf_error *err);
int cf_atomic_file_fd(const struct cf_atomic_file *f);
/* The temporary file's path (for messages), valid until commit or abort. */
const char *cf_atomic_file_tmp_path(const struct cf_atomic_file *f);
cf_err cf_atomic_file_commit(struct cf_atomic_file *f, struct cf_error *err);
/* The same without either fsync, for a file whose loss in a crash costs
 * nothing: after the rename, path holds the whole new content or, after a
 * crash, possibly garbage (a WAL file handed to PostgreSQL's restore_command,
 * which it asks for again after a crash; a read-ahead copy, checked against
 * its sha256 before use). */
cf_err cf_atomic_file_commit_nosync(struct cf_atomic_file *f, struct cf_error *err);
void cf_atomic_file_abort(struct cf_atomic_file *f);

/* The whole of data into path, atomically (open, write, commit). */
cf_err cf_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                       struct cf_error *err);

/* Write all of data to fd (EINTR retried); -1 with errno on failure. */
int cf_write_all(int fd, const void *data, size_t len);

/* Read the whole regular file at path (at most max bytes, else CF_ERR_CONFIG
 * naming it) into *out, NUL-terminated, malloc'd; what names it in messages. */
cf_err cf_read_file(const char *path, const char *what, size_t max, char **out, size_t *len,
                    struct cf_error *err);

/* Remove path recursively without following symlinks; keep_root: remove
 * only what is inside.  Best effort (cleanup paths): cannot fail. */
void cf_remove_tree(const char *path, bool keep_root);

/* 1: path does not exist, 0: it is an empty directory, -1: anything else
 * (errno: ENOTEMPTY for a non-empty directory, ENOTDIR for a file, ...). */
int cf_dir_state(const char *path);

#endif
