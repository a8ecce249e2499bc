/*
 * walstream_spool.c - the wal-stream spool (see walstream_int.h).
 *
 * <spool>/stream/<segment>.partial   the segment being received, written in
 *                                     order from its first byte (never
 *                                     preallocated: its size is what arrived)
 * <spool>/stream/<segment>           a complete segment not yet uploaded
 * <spool>/stream/<TLI>.history       a history file not yet uploaded
 *
 * A segment file is fsynced before its bytes are reported flushed; a complete
 * segment is renamed (directory fsynced) before its upload, and removed only
 * after cf_wal_store returned OK.  After a crash, streaming resumes at the
 * start of the newest partial: the server still holds that segment, since
 * the slot's restart_lsn never passes what was fsynced here.
 */
#include "agent/walstream_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/walspool.h"
#include "common/fsutil.h"
#include "common/inject.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "storage/walrepo.h"

static cf_err
path_of(const struct cf_ws_spool *s, const char *name, char *buf, size_t size, struct cf_error *err)
{
    int n = snprintf(buf, size, "%s/%s", s->dir, name);

    if (n < 0 || (size_t)n >= size)
        return cf_error_set(err, CF_ERR_CONFIG, "spool path \"%s\" is too long", s->dir);
    return CF_OK;
}

cf_err
cf_ws_spool_init(struct cf_ws_spool *s, const struct cf_wal_env *env, const struct cf_repo *repo,
                 struct cf_error *err)
{
    const char *spool = env->state_dir;
    int n;
    cf_err rc;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->env = env;
    s->repo = repo;
    n = snprintf(s->dir, sizeof(s->dir), "%s/stream", spool);
    if (n < 0 || (size_t)n >= sizeof(s->dir))
        return cf_error_set(err, CF_ERR_CONFIG, "wal.spool \"%s\" is too long", spool);
    if ((rc = cf_mkdir_p(s->dir, 0700, err)) != CF_OK) {
        cf_error_hint(err, "Create the directory named by wal.spool, owned by the user "
                           "coffre runs as, or fix its permissions.");
        return rc;
    }
    return CF_OK;
}

/* Store the first len bytes of file name (in the spool) as object. */
static cf_err
store_path(struct cf_ws_spool *s, const char *file, const char *object, uint64_t len,
           struct cf_error *err)
{
    char path[WS_PATH_MAX], sha[65];
    struct cf_repo locked;
    bool already = false;
    cf_err rc;
    int fd;

    if ((rc = path_of(s, file, path, sizeof(path), err)) != CF_OK)
        return rc;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open \"%s\"", path);
    /* an upload blocks the receiving loop: ping the watchdog around it */
    cf_notify_watchdog(cf_monotonic_us());
    /* Object Lock (S3): the same retention as wal-push's objects, from now */
    cf_wal_lock_repo(s->env, s->repo, &locked);
    rc = cf_wal_store_fd(&locked, object, fd, len, s->sysid, sha, &already, err);
    (void)close(fd);
    cf_notify_watchdog(cf_monotonic_us());
    if (rc != CF_OK) {
        cf_error_context(err, "while uploading \"%s\" from the spool", object);
        return rc;
    }
    (void)snprintf(s->last_upload, sizeof(s->last_upload), "%s", object);
    cf_log_debug("wal-stream: stored %s%s", object, already ? " (already there)" : "");
    return CF_OK;
}

/* Upload a complete file of the spool under its own name, then remove it. */
static cf_err
upload_and_remove(struct cf_ws_spool *s, const char *name, struct cf_error *err)
{
    char path[WS_PATH_MAX];
    cf_err rc;

    if ((rc = store_path(s, name, name, 0, err)) != CF_OK ||
        (rc = path_of(s, name, path, sizeof(path), err)) != CF_OK)
        return rc;
    CF_INJECT("walstream-stored"); /* K5: stored, still in the spool */
    if (unlink(path) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not remove \"%s\"", path);
    cf_log_info("wal-stream: archived %s", name);
    if ((rc = cf_fsync_dir(s->dir, err)) != CF_OK)
        return rc;
    CF_INJECT("walstream-archived"); /* K3: removed from the spool, the next upload not begun */
    return CF_OK;
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in the spool of the given type, sorted (segment names sort by
 * timeline first; callers needing LSN order sort again). */
static cf_err
list_spool(const struct cf_ws_spool *s, enum cf_wal_file_type type, char ***out, size_t *n,
           struct cf_error *err)
{
    DIR *d = opendir(s->dir);
    struct dirent *de;
    char **names = NULL;
    size_t count = 0, cap = 0;

    *n = 0;
    if (d == NULL)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open spool directory \"%s\"",
                                  s->dir);
    while ((de = readdir(d)) != NULL) {
        struct cf_wal_file f;

        if (!cf_wal_parse_name(de->d_name, &f) || f.type != type)
            continue;
        if (count == cap) {
            char **nn = realloc(names, (cap ? cap * 2 : 16) * sizeof(*names));

            if (nn == NULL)
                break;
            names = nn;
            cap = cap ? cap * 2 : 16;
        }
        if ((names[count] = strdup(de->d_name)) == NULL)
            break;
        count++;
    }
    (void)closedir(d);
    if (de != NULL) {
        for (size_t i = 0; i < count; i++)
            free(names[i]);
        free(names);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    if (count > 0)
        qsort(names, count, sizeof(*names), compare_names);
    *out = names;
    *n = count;
    return CF_OK;
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

cf_err
cf_ws_spool_upload_complete(struct cf_ws_spool *s, struct cf_error *err)
{
    static const enum cf_wal_file_type types[] = {CF_WAL_HISTORY, CF_WAL_SEGMENT};
    cf_err rc = CF_OK;

    for (size_t t = 0; t < 2 && rc == CF_OK; t++) {
        char **names = NULL;
        size_t n = 0;

        if ((rc = list_spool(s, types[t], &names, &n, err)) != CF_OK)
            return rc;
        for (size_t i = 0; i < n && rc == CF_OK; i++)
            rc = upload_and_remove(s, names[i], err);
        free_names(names, n);
    }
    return rc;
}

static cf_err
file_size(const struct cf_ws_spool *s, const char *name, uint64_t *size, struct cf_error *err)
{
    char path[WS_PATH_MAX];
    struct stat st;
    cf_err rc;

    if ((rc = path_of(s, name, path, sizeof(path), err)) != CF_OK)
        return rc;
    if (stat(path, &st) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not stat \"%s\"", path);
    *size = (uint64_t)st.st_size;
    return CF_OK;
}

/* A partial that will not be resumed: store what it holds, then remove it. */
static cf_err
retire_partial(struct cf_ws_spool *s, const char *name, struct cf_error *err)
{
    char object[CF_WAL_NAME_MAX + 1], path[WS_PATH_MAX];
    uint64_t size = 0;
    cf_err rc;

    if ((rc = file_size(s, name, &size, err)) != CF_OK ||
        (rc = path_of(s, name, path, sizeof(path), err)) != CF_OK)
        return rc;
    if (size > s->segsz)
        size = s->segsz;
    if (size > 0) {
        (void)snprintf(object, sizeof(object), "%.24s.partial.%08X", name, (unsigned)size);
        if ((rc = store_path(s, name, object, size, err)) != CF_OK)
            return rc;
    }
    if (unlink(path) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not remove \"%s\"", path);
    cf_log_info("wal-stream: retired %s (%llu bytes)", name, (unsigned long long)size);
    return cf_fsync_dir(s->dir, err);
}

cf_err
cf_ws_spool_resume_point(struct cf_ws_spool *s, struct cf_ws_pos *pos, struct cf_error *err)
{
    char **names = NULL;
    size_t n = 0, best = 0;
    uint64_t best_segno = 0;
    uint32_t best_tli = 0;
    cf_err rc;

    pos->tli = 0;
    pos->lsn = 0;
    if ((rc = list_spool(s, CF_WAL_PARTIAL, &names, &n, err)) != CF_OK)
        return rc;
    /* the newest is the highest segment number, then the highest timeline */
    for (size_t i = 0; i < n; i++) {
        struct cf_wal_file f;
        uint64_t segno;

        (void)cf_wal_parse_name(names[i], &f);
        segno = cf_wal_segno(&f, s->segsz);
        if (i == 0 || segno > best_segno || (segno == best_segno && f.timeline > best_tli)) {
            best = i;
            best_segno = segno;
            best_tli = f.timeline;
        }
    }
    for (size_t i = 0; i < n && rc == CF_OK; i++)
        if (i != best)
            rc = retire_partial(s, names[i], err);
    if (rc == CF_OK && n > 0) {
        pos->tli = best_tli;
        pos->lsn = best_segno * s->segsz;
    }
    free_names(names, n);
    return rc;
}

static cf_err
open_segment(struct cf_ws_spool *s, uint32_t tli, uint64_t lsn, struct cf_error *err)
{
    char name[CF_WAL_NAME_MAX + 1], path[WS_PATH_MAX];
    cf_err rc;

    if (lsn % s->segsz != 0)
        return cf_error_set(err, CF_ERR_INTERNAL,
                            "WAL stream does not begin at a segment start");
    cf_wal_segment_name(tli, lsn, s->segsz, s->seg, sizeof(s->seg));
    (void)snprintf(name, sizeof(name), "%s.partial", s->seg);
    if ((rc = path_of(s, name, path, sizeof(path), err)) != CF_OK)
        return rc;
    s->is_new_file = access(path, F_OK) != 0;
    s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->fd < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open \"%s\"", path);
    s->tli = tli;
    s->seg_start = lsn;
    s->written = s->synced = s->uploaded = 0;
    return CF_OK;
}

/* The open segment is full: make it durable under its final name, upload it,
 * and remove it from the spool. */
static cf_err
complete_segment(struct cf_ws_spool *s, struct cf_error *err)
{
    char from[WS_PATH_MAX], to[WS_PATH_MAX], name[CF_WAL_NAME_MAX + 1], seg[25];
    cf_err rc;

    if ((rc = cf_ws_spool_sync(s, err)) != CF_OK)
        return rc;
    (void)snprintf(seg, sizeof(seg), "%s", s->seg);
    (void)snprintf(name, sizeof(name), "%s.partial", seg);
    if ((rc = path_of(s, name, from, sizeof(from), err)) != CF_OK ||
        (rc = path_of(s, seg, to, sizeof(to), err)) != CF_OK)
        return rc;
    if (ftruncate(s->fd, (off_t)s->segsz) != 0) /* a longer stale file from a past life */
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not truncate \"%s\"", from);
    (void)close(s->fd);
    s->fd = -1;
    if (rename(from, to) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not rename \"%s\"", from);
    if ((rc = cf_fsync_dir(s->dir, err)) != CF_OK)
        return rc;
    CF_INJECT("walstream-renamed"); /* K4: complete in the spool, not stored */
    s->seg_start += s->segsz;
    s->written = s->synced = s->uploaded = 0;
    return upload_and_remove(s, seg, err);
}

cf_err
cf_ws_spool_write(struct cf_ws_spool *s, uint32_t tli, uint64_t lsn, const char *data, size_t len,
               struct cf_error *err)
{
    cf_err rc;

    if (s->fd >= 0 && (tli != s->tli || lsn != s->seg_start + s->written)) {
        char want[CF_LSN_MAX_TEXT], got[CF_LSN_MAX_TEXT];

        cf_lsn_format(s->seg_start + s->written, want, sizeof(want));
        cf_lsn_format(lsn, got, sizeof(got));
        cf_error_setf(err, CF_ERR_PG, "unexpected WAL position from the server");
        cf_error_detail(err, "Received WAL at %s on timeline %u; expected %s on timeline %u.",
                        got, tli, want, s->tli);
        return CF_ERR_PG;
    }
    while (len > 0) {
        size_t room, n;
        ssize_t w;

        if (s->fd < 0 && (rc = open_segment(s, tli, lsn, err)) != CF_OK)
            return rc;
        room = (size_t)(s->segsz - s->written);
        n = len < room ? len : room;
        w = pwrite(s->fd, data, n, (off_t)s->written);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return cf_error_set_errno(err, errno == ENOSPC ? CF_ERR_DISK_FULL : CF_ERR_IO, errno,
                                      "could not write to spool segment \"%s.partial\"", s->seg);
        }
        s->written += (uint64_t)w;
        data += w;
        len -= (size_t)w;
        lsn += (uint64_t)w;
        if (s->written == s->segsz && (rc = complete_segment(s, err)) != CF_OK)
            return rc;
    }
    return CF_OK;
}

cf_err
cf_ws_spool_sync(struct cf_ws_spool *s, struct cf_error *err)
{
    cf_err rc;

    if (s->fd < 0 || s->synced == s->written)
        return CF_OK;
    if (fdatasync(s->fd) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not fsync \"%s/%s.partial\"",
                                  s->dir, s->seg);
    if (s->is_new_file) {
        if ((rc = cf_fsync_dir(s->dir, err)) != CF_OK)
            return rc;
        s->is_new_file = false;
    }
    s->synced = s->written;
    return CF_OK;
}

uint64_t
cf_ws_spool_write_lsn(const struct cf_ws_spool *s)
{
    return s->seg_start + s->written;
}

uint64_t
cf_ws_spool_flush_lsn(const struct cf_ws_spool *s)
{
    return s->seg_start + s->synced;
}

cf_err
cf_ws_spool_upload_partial(struct cf_ws_spool *s, struct cf_error *err)
{
    char name[CF_WAL_NAME_MAX + 1], object[CF_WAL_NAME_MAX + 1];
    cf_err rc;

    if (s->fd < 0 || s->written <= s->uploaded)
        return CF_OK;
    if ((rc = cf_ws_spool_sync(s, err)) != CF_OK)
        return rc;
    (void)snprintf(name, sizeof(name), "%s.partial", s->seg);
    (void)snprintf(object, sizeof(object), "%s.partial.%08X", s->seg, (unsigned)s->synced);
    if ((rc = store_path(s, name, object, s->synced, err)) != CF_OK)
        return rc;
    s->uploaded = s->synced;
    return CF_OK;
}

cf_err
cf_ws_spool_end_timeline(struct cf_ws_spool *s, struct cf_error *err)
{
    char name[CF_WAL_NAME_MAX + 1], path[WS_PATH_MAX];
    cf_err rc;

    if (s->fd < 0)
        return CF_OK;
    if ((rc = cf_ws_spool_upload_partial(s, err)) != CF_OK)
        return rc;
    (void)snprintf(name, sizeof(name), "%s.partial", s->seg);
    if ((rc = path_of(s, name, path, sizeof(path), err)) != CF_OK)
        return rc;
    /* what it holds is stored: the file would only be resumed on the wrong timeline */
    if (unlink(path) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not remove \"%s\"", path);
    cf_ws_spool_close(s);
    return cf_fsync_dir(s->dir, err);
}

cf_err
cf_ws_spool_store_file(struct cf_ws_spool *s, const char *name, const char *data, size_t len,
                    struct cf_error *err)
{
    char path[WS_PATH_MAX];
    cf_err rc;

    if ((rc = path_of(s, name, path, sizeof(path), err)) != CF_OK)
        return rc;
    /* atomic: a file of the spool is uploaded as complete after a crash */
    if ((rc = cf_write_atomic(path, data, len, 0600, err)) != CF_OK)
        return rc;
    CF_INJECT("walstream-history"); /* K4 at a timeline switch: in the spool, not stored */
    return upload_and_remove(s, name, err);
}

void
cf_ws_spool_close(struct cf_ws_spool *s)
{
    if (s->fd >= 0)
        (void)close(s->fd);
    s->fd = -1;
    s->written = s->synced = s->uploaded = 0;
}
