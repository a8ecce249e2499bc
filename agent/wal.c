/*
 * wal.c - `coffre wal-push` and `coffre wal-get` (see wal.h, docs/wal.md).
 *
 * wal-push returns 0 only once cf_wal_store() returned: the object is durable
 * (posix: fsync'd file and directory; s3: the upload completed).  wal-get
 * writes a temporary file beside PATH and renames it only once every byte
 * was decrypted and its sha256 checked, so PostgreSQL never reads a
 * half-written file.
 *
 * Exit statuses that PostgreSQL reads (docs/wal.md):
 *   wal-get: 0 served; 1 the file is not in the repository (not an error:
 *   PostgreSQL asks for files past the end of the archive); any other failure
 *   200 + the documented class status (205 storage, 206 corrupt, 204 key...).
 *   PostgreSQL treats a restore_command exit status above 125 as fatal and
 *   stops recovery; an ordinary non-zero status would make it end recovery
 *   there and promote, silently losing every later transaction.
 */
#include "agent/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/walspool.h"
#include "common/fsutil.h"
#include "common/inject.h"
#include "common/log.h"
#include "policies/policy.h"
#include "storage/walrepo.h"
#include "stream/hash.h"

#define WAL_DEFAULT_SEGMENT_SIZE ((uint64_t)16 * 1024 * 1024)

/* ---- the cluster's system ------------------------------------------------ */

/*
 * The system identifier of the cluster whose data directory is the current
 * directory (PostgreSQL runs archive_command and restore_command there, and
 * coffre's own read-ahead children inherit it): the first 8 bytes of
 * global/pg_control.  0 when coffre runs elsewhere.
 */
static uint64_t
cluster_sysid(void)
{
    uint64_t v = 0;
    int fd = open("global/pg_control", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    if (pread(fd, &v, sizeof(v), 0) != (ssize_t)sizeof(v))
        v = 0;
    (void)close(fd);
    return v;
}

/* ---- wal-push ----------------------------------------------------------- */

/* The Object Lock date of new WAL objects: they live as long as a daily backup. */
void
cf_wal_lock_repo(const struct cf_wal_env *env, const struct cf_repo *repo, struct cf_repo *copy)
{
    struct cf_retention_policy policy;

    *copy = *repo;
    if (repo->st->features & CF_STORAGE_FEAT_OBJECT_LOCK) {
        cf_policy_from_conf(env->retention, &policy);
        copy->retain_until = cf_retention_lock_until(&policy, CF_CLASS_DAILY, (int64_t)time(NULL));
    }
}

/*
 * The object name for the file at path: its base name, except for the
 * ".partial" file PostgreSQL archives at a timeline switch, stored as a
 * partial of its full length ("<segment>.partial.<SIZE>").
 */
static cf_err
push_name(const char *path, uint64_t size, char *name, size_t nsize, struct cf_wal_file *f,
          struct cf_error *err)
{
    const char *base = strrchr(path, '/');

    base = base ? base + 1 : path;
    if (!cf_wal_parse_name(base, f)) {
        cf_error_setf(err, CF_ERR_USAGE, "\"%s\" is not a WAL file name", base);
        cf_error_hint(err, "archive_command must pass %%p: coffre -c CONF wal-push %%p");
        return CF_ERR_USAGE;
    }
    if (f->type == CF_WAL_SEGMENT || f->type == CF_WAL_PARTIAL) {
        if (!cf_wal_segment_size_valid(size)) {
            cf_error_setf(err, CF_ERR_CORRUPT, "WAL file \"%s\" has %llu bytes, not a WAL "
                          "segment size", path, (unsigned long long)size);
            cf_error_hint(err, "A segment is a power of two from 1 MiB to 1 GiB; this file "
                               "is truncated or is not WAL.");
            return CF_ERR_CORRUPT;
        }
    }
    if (f->type == CF_WAL_PARTIAL)
        (void)snprintf(name, nsize, "%.24s.partial.%08llX", base, (unsigned long long)size);
    else
        (void)snprintf(name, nsize, "%s", base);
    return CF_OK;
}

cf_err
cf_wal_push_file(const struct cf_repo *repo, const char *path, char sha256[65], bool *already,
                 struct cf_wal_read *read, struct cf_error *err)
{
    time_t at = time(NULL); /* before the fstat: see cf_walspool_mark_pushed */
    char name[CF_WAL_NAME_MAX + 1];
    struct cf_wal_file f;
    struct stat st;
    cf_err rc;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open WAL file \"%s\"", path);
    if (fstat(fd, &st) != 0) {
        rc = cf_error_set_errno(err, CF_ERR_IO, errno, "could not stat WAL file \"%s\"", path);
        goto out;
    }
    if (read != NULL) {
        read->st = st;
        read->at = at;
    }
    if ((rc = push_name(path, (uint64_t)st.st_size, name, sizeof(name), &f, err)) != CF_OK)
        goto out;
    CF_INJECT("wal-push-start");
    /* named after the sha256 of exactly the bytes stored (one pass over them on posix) */
    rc = cf_wal_store_fd(repo, name, fd, (uint64_t)st.st_size, cluster_sysid(), sha256, already,
                         err);
out:
    (void)close(fd);
    if (rc != CF_OK)
        cf_error_context(err, "while archiving WAL file \"%s\"", path);
    return rc;
}

cf_err
cf_wal_push_run(const struct cf_wal_env *env, const char *path, bool spool_only,
                struct cf_error *err)
{
    struct cf_repo locked;
    struct cf_wal_read read;
    bool already = false;
    char sha[65];
    cf_err rc;

    cf_wal_lock_repo(env, env->repo, &locked);
    if (env->wal->async && !spool_only)
        return cf_wal_push_async(env, &locked, path, err);
    /* [compression] workers = auto: a lone push is latency-bound (archive_command waits
     * for it), so one zstd thread compresses while this one hashes, encrypts and writes,
     * the same CPU time in less wall time.  Not for async children: push_jobs of them
     * already share the cores (bench/README.md, issue 13). */
    if (locked.comp.workers_auto && !spool_only && sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        locked.comp.workers = 1;
        cf_log_debug("compressing with one zstd worker thread ([compression] workers = auto)");
    }
    if ((rc = cf_wal_push_file(&locked, path, sha, &already, &read, err)) != CF_OK)
        return rc;
    if (spool_only)
        return cf_walspool_mark_pushed(env, path, sha, &read, err);
    if (already)
        cf_log_info("WAL file \"%s\" was already archived (same sha256)", path);
    else
        cf_log_debug("archived WAL file \"%s\"", path);
    return CF_OK;
}

/* ---- wal-get ------------------------------------------------------------ */

/* The segment size to pad a partial to: from the newest physical backup's
 * manifest, else PostgreSQL's default (16 MiB). */
static uint64_t
segment_size_for_partial(const struct cf_repo *r)
{
    struct cf_backup_entry *v = NULL;
    uint64_t size = 0;
    size_t n = 0;
    struct cf_error ignored = CF_ERROR_INIT;

    if (cf_repo_list_backups(r, &v, &n, &ignored) != CF_OK)
        return WAL_DEFAULT_SEGMENT_SIZE;
    for (size_t i = n; i-- > 0 && size == 0;) {
        struct cf_manifest *m = NULL;

        cf_error_clear(&ignored);
        if (!v[i].has_manifest || cf_repo_read_manifest(r, v[i].id, &m, &ignored) != CF_OK)
            continue;
        if (m->physical != NULL && cf_wal_segment_size_valid(m->physical->wal_segment_size))
            size = m->physical->wal_segment_size;
        cf_manifest_free(m);
    }
    free(v);
    return size ? size : WAL_DEFAULT_SEGMENT_SIZE;
}

/* Choose what serves name: its complete object, else its longest partial.
 * CF_ERR_NOT_FOUND (no message) when there is neither. */
static cf_err
choose_object(const struct cf_repo *r, const char *name, struct cf_wal_object *out,
              struct cf_error *err)
{
    struct cf_wal_object *v = NULL, *best = NULL;
    size_t n = 0;
    cf_err rc;

    if ((rc = cf_wal_find(r, name, true, &v, &n, err)) != CF_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, name) == 0) {
            if (best != NULL && best->file.type != CF_WAL_PARTIAL &&
                strcmp(best->sha256, v[i].sha256) != 0) {
                /* two pushers raced with different files: neither can be trusted */
                cf_error_setf(err, CF_ERR_CORRUPT, "the repository holds two different "
                              "objects for WAL file \"%s\"", name);
                cf_error_detail(err, "\"%s\" and \"%s\".", best->key, v[i].key);
                cf_error_hint(err, "Two clusters archive into one repository instance; "
                                   "find out which object belongs to this cluster.");
                free(v);
                return CF_ERR_CORRUPT;
            }
            best = &v[i];
            continue;
        }
        if (best != NULL && best->file.type != CF_WAL_PARTIAL)
            continue;
        if (v[i].file.type == CF_WAL_PARTIAL &&
            (best == NULL || v[i].partial_bytes > best->partial_bytes))
            best = &v[i];
    }
    if (best != NULL)
        *out = *best;
    free(v);
    return best != NULL ? CF_OK : CF_ERR_NOT_FOUND;
}

cf_err
cf_wal_get_to_path(const struct cf_repo *r, const struct cf_wal_object *o, const char *path,
                   struct cf_error *err)
{
    struct cf_atomic_file *f = NULL;
    struct cf_sink *sink = NULL;
    cf_err rc;
    int fd;

    if ((rc = cf_atomic_file_open(path, 0600, &f, err)) != CF_OK)
        return rc;
    fd = cf_atomic_file_fd(f);
    if ((rc = cf_fd_sink_new(fd, 0, path, &sink, err)) != CF_OK)
        goto out;
    if ((rc = cf_wal_fetch(r, o, sink, err)) != CF_OK) /* sink: transferred */
        goto out;
    if (o->file.type == CF_WAL_PARTIAL) {
        uint64_t size = segment_size_for_partial(r);

        if (o->partial_bytes > size) {
            rc = cf_error_set(err, CF_ERR_CORRUPT, "partial WAL object \"%s\" is longer than "
                              "the segment size %llu", o->key, (unsigned long long)size);
            goto out;
        }
        cf_log_info("serving %s from partial object \"%s\" (%u bytes, zero-padded to %llu)",
                    o->name, o->key, o->partial_bytes, (unsigned long long)size);
        if (ftruncate(fd, (off_t)size) != 0) {
            rc = cf_error_set_errno(err, CF_ERR_IO, errno, "could not extend \"%s\"",
                                    cf_atomic_file_tmp_path(f));
            goto out;
        }
    }
    /* no fsync: restore_command's file is read at once and asked for again
     * after a crash, and a read-ahead copy is checked before it is served */
    rc = cf_atomic_file_commit_nosync(f, err);
    f = NULL; /* committed or not, freed */
out:
    cf_atomic_file_abort(f);
    return rc;
}

/* The segment size is the size of what was just served. */
static void
start_readahead(const struct cf_wal_env *env, const char *name, const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0)
        cf_walspool_readahead(env, name, (uint64_t)st.st_size);
}

static cf_err
wal_get(const struct cf_wal_env *env, const struct cf_repo *repo, const char *name,
        const char *path, bool *missing, struct cf_error *err)
{
    struct cf_wal_object o;
    struct cf_wal_file f;
    cf_err rc;

    *missing = false;
    if (!cf_wal_parse_name(name, &f) || f.type == CF_WAL_PARTIAL) {
        cf_error_setf(err, CF_ERR_USAGE, "\"%s\" is not a WAL file name", name);
        cf_error_hint(err, "restore_command must pass %%f and %%p: coffre -c CONF wal-get %%f %%p");
        return CF_ERR_USAGE;
    }
    if ((rc = choose_object(repo, name, &o, err)) == CF_ERR_NOT_FOUND) {
        *missing = true;
        return rc;
    }
    if (rc == CF_OK && (rc = cf_wal_get_to_path(repo, &o, path, err)) == CF_OK) {
        cf_log_debug("restored WAL file \"%s\" from \"%s\"", name, o.key);
        if (f.type == CF_WAL_SEGMENT)
            start_readahead(env, name, path);
    }
    if (rc != CF_OK)
        cf_error_context(err, "while restoring WAL file \"%s\" to \"%s\"", name, path);
    return rc;
}

cf_err
cf_wal_get_spooled(const struct cf_wal_env *env, const char *name, const char *path)
{
    struct cf_wal_file f;
    struct cf_error ignored = CF_ERROR_INIT; /* not served: the repository will say */

    if (!cf_wal_parse_name(name, &f) || f.type != CF_WAL_SEGMENT ||
        cf_walspool_serve(env, name, path, &ignored) != CF_OK)
        return CF_ERR_NOT_FOUND;
    start_readahead(env, name, path);
    return CF_OK;
}

/* The repository as wal-get reads it: WAL of other database systems is not this cluster's. */
static void
reading_repo(const struct cf_wal_env *env, struct cf_repo *copy)
{
    *copy = *env->repo;
    copy->wal_system = cluster_sysid();
}

cf_err
cf_wal_prefetch_run(const struct cf_wal_env *env, const char *name, uint64_t segment_size,
                    struct cf_error *err)
{
    struct cf_repo r;

    reading_repo(env, &r);
    return cf_walspool_prefetch(env, &r, name, segment_size, err);
}

cf_err
cf_wal_get_run(const struct cf_wal_env *env, const char *name, const char *path, bool *missing,
               struct cf_error *err)
{
    struct cf_repo r;
    cf_err rc;

    reading_repo(env, &r);
    rc = wal_get(env, &r, name, path, missing, err);

    if (rc == CF_ERR_NOT_FOUND && *missing) {
        /* the normal end of the archive: the CLI says so quietly and exits 1 */
        cf_error_clear(err);
        return CF_ERR_NOT_FOUND;
    }
    return rc;
}
