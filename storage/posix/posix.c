/*
 * posix.c - the posix repository driver: one file per object under a root
 * directory.  A write goes to ".NAME.tmp.PID.RAND" in the object's
 * directory, is fsynced, then linked to its final name (link() refuses to
 * replace an existing object) and the directory is fsynced, so a crash
 * leaves either the whole object or only a temporary file that list()
 * ignores.  Those leftovers are this driver's unfinished uploads:
 * list_uploads() reports them (with their last write as the date) and
 * abort_upload() removes them, so that prune cleans what kill -9 left.
 */
#include "storage/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/fsutil.h"

#include <sodium.h>

struct posix_storage {
    struct cf_storage base;
    char *root;
};

struct posix_write {
    struct cf_sink base;
    int fd;
    off_t written;   /* bytes written so far */
    off_t flushed;   /* bytes handed to writeback so far */
    char *path;      /* final */
    char *tmp;       /* temporary */
    char *root;      /* borrowed: the repository's */
    char key[CF_STORAGE_KEY_MAX + 1];
    cf_err (*final_key)(void *arg, char *key, size_t size, struct cf_error *err);
    void *final_key_arg;
};

static cf_err
write_errno(struct cf_error *err, int e, const char *what, const char *key)
{
    cf_error_setf_errno(err, e == ENOSPC || e == EDQUOT ? CF_ERR_DISK_FULL : CF_ERR_IO, e,
                       "could not %s object \"%s\"", what, key);
    if (e == ENOSPC || e == EDQUOT)
        cf_error_hint(err, "Free space in the repository file system (repository.path); "
                           "nothing was recorded as a backup.");
    return err->code;
}

static char *
join(const char *a, const char *b)
{
    size_t size = strlen(a) + strlen(b) + 2;
    char *p = malloc(size);

    if (p != NULL)
        (void)snprintf(p, size, "%s/%s", a, b);
    return p;
}

/*
 * The directory of an object's path, created (make) or fsynced: through
 * fsutil, with the driver's own message naming the object's key.
 */
static cf_err
object_dir(const char *path, bool make, const char *key, struct cf_error *err)
{
    char *dir = strndup(path, (size_t)(strrchr(path, '/') - path));
    struct cf_error e = CF_ERROR_INIT;

    if (dir == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (make)
        (void)cf_mkdir_p(dir, 0700, &e);
    else
        (void)cf_fsync_dir(dir, &e);
    free(dir);
    if (e.code == CF_ERR_NOMEM)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (e.code != CF_OK)
        return write_errno(err, e.sys_errno, make ? "create" : "fsync the directory of", key);
    return CF_OK;
}

/*
 * Start the disk writing what was written so far, every WRITEBACK_CHUNK
 * bytes, without waiting for it (sync_file_range(SYNC_FILE_RANGE_WRITE), as
 * PostgreSQL's *_flush_after settings do): the device writes while the
 * pipeline compresses and encrypts the rest, so the fsync at close finds
 * little left to write, and a large object does not fill the page cache with
 * dirty pages that the database then has to wait behind.  Advisory only:
 * an error here is ignored (a file system without it returns ENOSYS or
 * EINVAL); fsync at close is what makes the object durable and reports
 * write errors.
 */
#define WRITEBACK_CHUNK ((off_t)1 << 20)

static void
start_writeback(struct posix_write *w)
{
    if (w->written - w->flushed < WRITEBACK_CHUNK)
        return;
    (void)sync_file_range(w->fd, w->flushed, w->written - w->flushed, SYNC_FILE_RANGE_WRITE);
    w->flushed = w->written;
}

static cf_err
pw_write(struct cf_sink *s, const void *data, size_t len, struct cf_error *err)
{
    struct posix_write *w = (struct posix_write *)s;
    const unsigned char *p = data;

    while (len > 0) {
        ssize_t n = write(w->fd, p, len);

        if (n < 0 && errno == EINTR && !cf_cancel_requested())
            continue;
        if (n < 0 && errno == EINTR)
            return cf_cancel_check(err);
        if (n < 0)
            return write_errno(err, errno, "write", w->key);
        p += n;
        len -= (size_t)n;
        w->written += n;
    }
    start_writeback(w);
    return CF_OK;
}

/* write options' final_key: the object's key, in the placeholder's directory */
static cf_err
take_final_key(struct posix_write *w, struct cf_error *err)
{
    char key[CF_STORAGE_KEY_MAX + 1] = "";
    const char *slash = strrchr(w->key, '/');
    size_t dirlen = slash != NULL ? (size_t)(slash - w->key) + 1 : 0;
    char *path;

    if (w->final_key(w->final_key_arg, key, sizeof(key), err) != CF_OK)
        return err->code;
    if (cf_storage_check_key(key, err) != CF_OK)
        return err->code;
    if (strncmp(key, w->key, dirlen) != 0 || strchr(key + dirlen, '/') != NULL)
        return cf_error_set(err, CF_ERR_INTERNAL, "object \"%s\" is not in the directory of \"%s\"",
                            key, w->key);
    if ((path = join(w->root, key)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    free(w->path);
    w->path = path;
    (void)snprintf(w->key, sizeof(w->key), "%s", key);
    return CF_OK;
}

static cf_err
pw_close(struct cf_sink *s, struct cf_error *err)
{
    struct posix_write *w = (struct posix_write *)s;

    if (w->final_key != NULL && take_final_key(w, err) != CF_OK)
        return err->code; /* cf_sink_close aborts: the temporary file goes */
    if (fsync(w->fd) != 0)
        return write_errno(err, errno, "fsync", w->key);
    if (close(w->fd) != 0) {
        w->fd = -1;
        return write_errno(err, errno, "close", w->key);
    }
    w->fd = -1;
    if (link(w->tmp, w->path) != 0) {
        if (errno == EEXIST)
            return cf_error_set(err, CF_ERR_EXISTS,
                                "object \"%s\" already exists in the repository", w->key);
        return write_errno(err, errno, "store", w->key);
    }
    (void)unlink(w->tmp);
    return object_dir(w->path, false, w->key, err);
}

static void
pw_abort(struct cf_sink *s)
{
    struct posix_write *w = (struct posix_write *)s;

    if (w->fd >= 0)
        (void)close(w->fd);
    w->fd = -1;
    (void)unlink(w->tmp);
}

static void
pw_free(struct cf_sink *s)
{
    struct posix_write *w = (struct posix_write *)s;

    if (w->fd >= 0)
        (void)close(w->fd);
    if (w->fd >= 0 && w->tmp != NULL)
        (void)unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w);
}

static const struct cf_sink_ops pw_ops = {
    "posix-write", CF_STAGE_TERMINAL, pw_write, pw_close, pw_abort, pw_free,
};

static cf_err
posix_open_write(struct cf_storage *st, const char *key, const struct cf_write_opts *opts,
                 struct cf_sink **out, struct cf_error *err)
{
    struct posix_storage *ps = (struct posix_storage *)st;
    struct posix_write *w = calloc(1, sizeof(*w));
    char suffix[64];

    /* no Object Lock on a file system: retain_until is not enforced */
    char *slash;
    size_t plen;

    if (w == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    w->base.ops = &pw_ops;
    w->fd = -1;
    w->root = ps->root;
    if (opts != NULL) {
        w->final_key = opts->final_key;
        w->final_key_arg = opts->final_key_arg;
    }
    (void)snprintf(w->key, sizeof(w->key), "%s", key);
    w->path = join(ps->root, key);
    plen = w->path ? strlen(w->path) : 0;
    w->tmp = malloc(plen + 64);
    if (w->path == NULL || w->tmp == NULL) {
        pw_free(&w->base);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    if (access(w->path, F_OK) == 0) {
        pw_free(&w->base);
        return cf_error_set(err, CF_ERR_EXISTS, "object \"%s\" already exists in the repository",
                            key);
    }
    slash = strrchr(w->path, '/');
    if (slash == NULL) { /* cannot happen: path is root/key */
        pw_free(&w->base);
        return cf_error_set(err, CF_ERR_INTERNAL, "invalid object path for \"%s\"", key);
    }
    (void)snprintf(suffix, sizeof(suffix), ".tmp.%ld.%08x", (long)getpid(), randombytes_random());
    (void)snprintf(w->tmp, plen + 64, "%.*s/.%s%s", (int)(slash - w->path), w->path, slash + 1,
                   suffix);
    if (object_dir(w->path, true, key, err) != CF_OK) {
        pw_free(&w->base);
        return err->code;
    }
    if ((w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        cf_err rc = write_errno(err, errno, "create", key);

        pw_free(&w->base);
        return rc;
    }
    *out = &w->base;
    return CF_OK;
}

static cf_err
not_found(struct cf_error *err, const char *key)
{
    return cf_error_set(err, CF_ERR_NOT_FOUND, "object \"%s\" does not exist in the repository",
                        key);
}

static cf_err
posix_open_read(struct cf_storage *st, const char *key, struct cf_source **out,
                struct cf_error *err)
{
    struct posix_storage *ps = (struct posix_storage *)st;
    char *path = join(ps->root, key);
    int fd;
    cf_err rc;

    if (path == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0 && errno == ENOENT)
        return not_found(err, key);
    if (fd < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open object \"%s\"", key);
    rc = cf_fd_source_new(fd, 1, key, out, err);
    if (rc != CF_OK)
        (void)close(fd);
    return rc;
}

static cf_err
posix_info(struct cf_storage *st, const char *key, struct cf_storage_info *info,
           struct cf_error *err)
{
    struct posix_storage *ps = (struct posix_storage *)st;
    char *path = join(ps->root, key);
    struct stat sb;
    int rc;

    if (path == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    memset(info, 0, sizeof(*info)); /* no version id, no delete marker: files have neither */
    rc = stat(path, &sb);
    free(path);
    if (rc != 0 && errno == ENOENT)
        return not_found(err, key);
    if (rc != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not stat object \"%s\"", key);
    (void)snprintf(info->key, sizeof(info->key), "%s", key);
    info->size = (uint64_t)sb.st_size;
    info->mtime = (int64_t)sb.st_mtime;
    return CF_OK;
}

struct key_list {
    char **keys;
    size_t n, cap;
};

static cf_err
add_key(struct key_list *kl, const char *key, struct cf_error *err)
{
    if (kl->n == kl->cap || kl->keys == NULL) {
        size_t cap = kl->cap ? kl->cap * 2 : 64;
        char **nk = realloc(kl->keys, cap * sizeof(*nk));

        if (nk == NULL)
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        kl->keys = nk;
        kl->cap = cap;
    }
    if ((kl->keys[kl->n] = strdup(key)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    kl->n++;
    return CF_OK;
}

/*
 * ".NAME.tmp.PID.RAND" (RAND: 8 hex digits): the temporary file of a write
 * of NAME.  Copies NAME into name.
 */
static bool
temporary_of(const char *base, char *name, size_t size)
{
    const char *t, *p;
    size_t len = strlen(base);

    if (base[0] != '.' || len < 16 || strspn(base + len - 8, "0123456789abcdef") != 8 ||
        base[len - 9] != '.')
        return false;
    for (p = base + len - 10; p > base && *p >= '0' && *p <= '9'; p--)
        ;
    if (p == base + len - 10 || p - base < 5 || strncmp(p - 4, ".tmp.", 5) != 0)
        return false;
    t = p - 4;
    if (t - (base + 1) <= 0 || (size_t)(t - (base + 1)) >= size)
        return false;
    (void)snprintf(name, size, "%.*s", (int)(t - (base + 1)), base + 1);
    return true;
}

/*
 * Collect every regular file below dir (relative key rel); skips dot files,
 * or (temporaries) collects only the temporary files of unfinished writes.
 */
static cf_err
walk(const char *dir, const char *rel, bool temporaries, struct key_list *kl, struct cf_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    cf_err rc = CF_OK;

    if (d == NULL)
        return errno == ENOENT ? CF_OK
                               : cf_error_set_errno(err, CF_ERR_IO, errno,
                                                    "could not list repository directory \"%s\"",
                                                    dir);
    while (rc == CF_OK && (de = readdir(d)) != NULL) {
        char *path, *key, name[CF_STORAGE_KEY_MAX + 1];
        struct stat sb;

        if (de->d_name[0] == '.' && (!temporaries || !temporary_of(de->d_name, name, sizeof(name))))
            continue;
        path = join(dir, de->d_name);
        key = rel[0] ? join(rel, de->d_name) : strdup(de->d_name);
        if (path == NULL || key == NULL || lstat(path, &sb) != 0)
            sb.st_mode = 0;
        if (path == NULL || key == NULL)
            rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        else if (S_ISDIR(sb.st_mode))
            rc = walk(path, key, temporaries, kl, err);
        else if (S_ISREG(sb.st_mode) && (de->d_name[0] == '.') == temporaries)
            rc = add_key(kl, key, err);
        free(path);
        free(key);
    }
    (void)closedir(d);
    return rc;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
key_list_free(struct key_list *kl)
{
    for (size_t i = 0; i < kl->n; i++)
        free(kl->keys[i]);
    free(kl->keys);
}

/* The files (or temporaries) in prefix's directory and below, sorted. */
static cf_err
list_files(const struct posix_storage *ps, const char *prefix, bool temporaries,
           struct key_list *kl, struct cf_error *err)
{
    const char *slash = strrchr(prefix, '/');
    char *dir_rel = slash ? strndup(prefix, (size_t)(slash - prefix)) : strdup("");
    char *dir = dir_rel ? (dir_rel[0] ? join(ps->root, dir_rel) : strdup(ps->root)) : NULL;
    cf_err rc;

    if (dir == NULL)
        rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    else
        rc = walk(dir, dir_rel, temporaries, kl, err);
    if (rc == CF_OK && kl->n > 1)
        qsort(kl->keys, kl->n, sizeof(*kl->keys), cmp_str);
    free(dir);
    free(dir_rel);
    return rc;
}

static cf_err
posix_list(struct cf_storage *st, const char *prefix, cf_storage_list_cb cb, void *ctx,
           struct cf_error *err)
{
    struct key_list kl = {NULL, 0, 0};
    cf_err rc = list_files((const struct posix_storage *)st, prefix, false, &kl, err);

    for (size_t i = 0; i < kl.n && rc == CF_OK; i++) {
        struct cf_storage_info info;

        if (strncmp(kl.keys[i], prefix, strlen(prefix)) != 0)
            continue;
        rc = posix_info(st, kl.keys[i], &info, err);
        if (rc == CF_OK)
            rc = cb(ctx, &info, err);
    }
    key_list_free(&kl);
    return rc;
}

static cf_err
posix_remove(struct cf_storage *st, const char *key, const char *version_id,
             struct cf_error *err)
{
    struct posix_storage *ps = (struct posix_storage *)st;
    char *path = join(ps->root, key);
    int rc;

    (void)version_id; /* files have one version */
    if (path == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = unlink(path);
    if (rc == 0) {
        struct cf_error ignored = CF_ERROR_INIT; /* removed: its durability is best effort */

        (void)object_dir(path, false, key, &ignored);
    }
    free(path);
    if (rc != 0 && errno == ENOENT)
        return not_found(err, key);
    if (rc != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not remove object \"%s\"", key);
    return CF_OK;
}

/* The temporary files left by writes that never ended (kill -9, a crash). */
static cf_err
posix_list_uploads(struct cf_storage *st, const char *prefix, cf_storage_upload_cb cb, void *ctx,
                   struct cf_error *err)
{
    struct posix_storage *ps = (struct posix_storage *)st;
    struct key_list kl = {NULL, 0, 0};
    cf_err rc = list_files(ps, prefix, true, &kl, err);

    for (size_t i = 0; i < kl.n && rc == CF_OK; i++) {
        const char *rel = kl.keys[i], *base = strrchr(rel, '/');
        struct cf_storage_upload up;
        char name[CF_STORAGE_KEY_MAX + 1], *path = join(ps->root, rel);
        struct stat sb;

        base = base ? base + 1 : rel;
        memset(&up, 0, sizeof(up));
        if (path == NULL) {
            rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        } else if (temporary_of(base, name, sizeof(name)) && lstat(path, &sb) == 0 &&
                   snprintf(up.key, sizeof(up.key), "%.*s%s", (int)(base - rel), rel, name) <
                       (int)sizeof(up.key) &&
                   snprintf(up.upload_id, sizeof(up.upload_id), "%s", rel) <
                       (int)sizeof(up.upload_id)) {
            up.initiated = (int64_t)sb.st_mtime; /* the last write: a live writer stays fresh */
            if (strncmp(up.key, prefix, strlen(prefix)) == 0)
                rc = cb(ctx, &up, err);
        }
        free(path);
    }
    key_list_free(&kl);
    return rc;
}

static cf_err
posix_abort_upload(struct cf_storage *st, const struct cf_storage_upload *up, struct cf_error *err)
{
    struct posix_storage *ps = (struct posix_storage *)st;
    const char *base = strrchr(up->upload_id, '/');
    char name[CF_STORAGE_KEY_MAX + 1], *path;
    int rc;

    base = base ? base + 1 : up->upload_id;
    if (strstr(up->upload_id, "..") != NULL || up->upload_id[0] == '/' ||
        !temporary_of(base, name, sizeof(name)))
        return cf_error_set(err, CF_ERR_INTERNAL,
                            "\"%s\" is not a temporary file of the "
                            "repository",
                            up->upload_id);
    if ((path = join(ps->root, up->upload_id)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = unlink(path);
    free(path);
    if (rc != 0 && errno != ENOENT)
        return cf_error_set_errno(err, CF_ERR_IO, errno,
                                  "could not remove the temporary file "
                                  "\"%s\" of an unfinished write",
                                  up->upload_id);
    return CF_OK;
}

static void
posix_free(struct cf_storage *st)
{
    struct posix_storage *ps = (struct posix_storage *)st;

    free(ps->root);
    free(ps);
}

static const struct cf_storage_ops posix_ops = {
    "posix",
    posix_open_write,
    posix_open_read,
    posix_info,
    posix_list,
    posix_remove,
    posix_free,
    NULL,
    NULL,
    NULL,
    posix_list_uploads,
    posix_abort_upload,
};

cf_err
cf_storage_posix_new(const char *root, struct cf_storage **out, struct cf_error *err)
{
    struct posix_storage *ps;
    struct stat sb;

    if (root[0] != '/')
        return cf_error_set(err, CF_ERR_CONFIG, "repository path \"%s\" is not absolute", root);
    if (mkdir(root, 0700) != 0 && errno != EEXIST) {
        int e = errno;

        /* EACCES also when root exists behind a directory we may not enter */
        cf_error_setf_errno(
            err, CF_ERR_IO, e, "could not %s repository directory \"%s\"",
            e == EACCES && access(root, F_OK) != 0 && errno == EACCES ? "reach" : "create", root);
        if (e == EACCES)
            (void)cf_access_hint(err, root);
        return err->code;
    }
    if (stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cf_error_set(err, CF_ERR_IO, "repository path \"%s\" is not a directory", root);
    ps = calloc(1, sizeof(*ps));
    if (ps == NULL || (ps->root = strdup(root)) == NULL) {
        free(ps);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    ps->base.ops = &posix_ops;
    ps->base.features = CF_STORAGE_FEAT_LATE_KEY;
    *out = &ps->base;
    return CF_OK;
}
