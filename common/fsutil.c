/*
 * fsutil.c - file-system helpers (see fsutil.h).
 */
#include "common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "postgres (uid 108)": who this process is, for a permission hint. */
static void
who(uid_t uid, char *buf, size_t size)
{
    const struct passwd *pw = getpwuid(uid);

    (void)snprintf(buf, size, "%s (uid %u)", pw != NULL ? pw->pw_name : "?", (unsigned)uid);
}

/* "mode 0700, owner coffre:coffre" of a directory, for a permission hint. */
static void
owned(const char *path, char *buf, size_t size)
{
    struct stat st;
    const struct passwd *pw;
    const struct group *gr;

    if (stat(path, &st) != 0) {
        (void)snprintf(buf, size, "not readable");
        return;
    }
    pw = getpwuid(st.st_uid);
    gr = getgrgid(st.st_gid);
    (void)snprintf(buf, size, "mode %04o, owner %s:%s", (unsigned)(st.st_mode & 07777),
                   pw != NULL ? pw->pw_name : "?", gr != NULL ? gr->gr_name : "?");
}

bool
cf_access_hint(struct cf_error *err, const char *path)
{
    char dir[4096], user[128], mode[160];
    uid_t uid = geteuid();
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(dir) || path[0] != '/')
        return false;
    who(uid, user, sizeof(user));
    /* every directory on the way must be searchable (x) */
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        memcpy(dir, path, i);
        dir[i] = '\0';
        if (path[i] == '\0')
            break; /* the path itself: below */
        if (access(dir, F_OK) == 0 && access(dir, X_OK) != 0) {
            owned(dir, mode, sizeof(mode));
            cf_error_hint(err,
                          "User %s may not enter \"%s\" (%s): it needs the search (x) right "
                          "on every directory of the path.",
                          user, dir, mode);
            return true;
        }
    }
    /* then the path itself, if it exists, or the directory that would hold it */
    if (access(path, F_OK) == 0) {
        if (access(path, W_OK) != 0) {
            owned(path, mode, sizeof(mode));
            cf_error_hint(err, "User %s may not write \"%s\" (%s).", user, path, mode);
            return true;
        }
        return false;
    }
    memcpy(dir, path, n + 1);
    while (n > 1 && dir[n - 1] != '/')
        n--;
    dir[n > 1 ? n - 1 : 1] = '\0';
    if (access(dir, F_OK) == 0 && access(dir, W_OK) != 0) {
        owned(dir, mode, sizeof(mode));
        cf_error_hint(err, "User %s may not create entries in \"%s\" (%s).", user, dir, mode);
        return true;
    }
    return false;
}

static cf_err
io_error(struct cf_error *err, int e, const char *what, const char *path)
{
    bool full = e == ENOSPC || e == EDQUOT;

    cf_error_setf_errno(err, full ? CF_ERR_DISK_FULL : CF_ERR_IO, e, "could not %s \"%s\"", what,
                        path);
    if (full)
        cf_error_hint(err, "Free space in the file system holding \"%s\".", path);
    else if ((e == EACCES || e == EPERM) && cf_access_hint(err, path))
        ; /* names the user, the directory and the right missing */
    else if (e == EACCES || e == EPERM || e == EROFS)
        cf_error_hint(err, "Check that the user running coffre may write there (ReadWritePaths= "
                           "under systemd).");
    return err->code;
}

cf_err
cf_mkdir_p(const char *path, mode_t mode, struct cf_error *err)
{
    char *copy = strdup(path);
    struct stat st;
    cf_err rc = CF_OK;

    if (copy == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    /* every level, the last one included ('\0' ends the loop after it) */
    for (char *p = copy + 1; rc == CF_OK; p++) {
        char c = *p;

        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(copy, mode) != 0 && errno != EEXIST)
            rc = io_error(err, errno, "create directory", copy);
        *p = c;
        if (c == '\0')
            break;
    }
    free(copy);
    if (rc == CF_OK && stat(path, &st) != 0)
        rc = io_error(err, errno, "create directory", path);
    else if (rc == CF_OK && !S_ISDIR(st.st_mode))
        rc = io_error(err, ENOTDIR, "create directory", path);
    return rc;
}

static cf_err
sync_dir(const char *path, bool whole_fs, struct cf_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return io_error(err, errno, "open directory", path);
    rc = whole_fs ? syncfs(fd) : fsync(fd);
    if (rc != 0) {
        int e = errno;

        (void)close(fd);
        return io_error(err, e, whole_fs ? "sync the file system of" : "fsync directory", path);
    }
    (void)close(fd);
    return CF_OK;
}

cf_err
cf_fsync_dir(const char *path, struct cf_error *err)
{
    return sync_dir(path, false, err);
}

cf_err
cf_syncfs_dir(const char *path, struct cf_error *err)
{
    return sync_dir(path, true, err);
}

int
cf_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

cf_err
cf_read_file(const char *path, const char *what, size_t max, char **out, size_t *len,
             struct cf_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t used = 0;

    if (fd < 0)
        return cf_error_set_errno(err, CF_ERR_CONFIG, errno, "could not read %s \"%s\"", what,
                                  path);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        int e = errno;

        (void)close(fd);
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
            return cf_error_set(err, CF_ERR_CONFIG, "%s \"%s\" is larger than %zu bytes", what,
                                path, max);
        return cf_error_set_errno(err, CF_ERR_CONFIG, S_ISREG(st.st_mode) ? e : EINVAL,
                                  "could not read %s \"%s\"", what, path);
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        (void)close(fd);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    while (used < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + used, (size_t)st.st_size - used);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;

            free(buf);
            (void)close(fd);
            return cf_error_set_errno(err, CF_ERR_CONFIG, e, "could not read %s \"%s\"", what,
                                      path);
        }
        used += (size_t)n;
    }
    (void)close(fd);
    buf[used] = '\0';
    *out = buf;
    *len = used;
    return CF_OK;
}

/* ---- atomic replacement ------------------------------------------------ */

struct cf_atomic_file {
    int fd;
    mode_t mode;
    char *path; /* final */
    char *dir;  /* its directory */
    char *tmp;  /* the temporary file */
};

cf_err
cf_atomic_file_open(const char *path, mode_t mode, struct cf_atomic_file **out,
                    struct cf_error *err)
{
    struct cf_atomic_file *f = calloc(1, sizeof(*f));
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;

    if (f == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    f->fd = -1;
    f->mode = mode;
    if (slash == path)
        f->dir = strdup("/");
    else if (slash != NULL)
        f->dir = strndup(path, (size_t)(slash - path));
    else
        f->dir = strdup(".");
    f->path = strdup(path);
    if (f->dir == NULL || f->path == NULL ||
        asprintf(&f->tmp, "%s/.%s.tmp.XXXXXX", f->dir, base) < 0) {
        f->tmp = NULL;
        cf_atomic_file_abort(f);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    if (base[0] == '\0') {
        cf_atomic_file_abort(f);
        return cf_error_set(err, CF_ERR_USAGE, "\"%s\" does not name a file", path);
    }
    /* mkostemp: O_EXCL and a random suffix, so nobody can plant the file first */
    if ((f->fd = mkostemp(f->tmp, O_CLOEXEC)) < 0) {
        (void)io_error(err, errno, "create a temporary file in directory", f->dir);
        free(f->tmp);
        f->tmp = NULL;
        cf_atomic_file_abort(f);
        return err->code;
    }
    *out = f;
    return CF_OK;
}

int
cf_atomic_file_fd(const struct cf_atomic_file *f)
{
    return f->fd;
}

const char *
cf_atomic_file_tmp_path(const struct cf_atomic_file *f)
{
    return f->tmp;
}

static cf_err
atomic_commit(struct cf_atomic_file *f, bool sync, struct cf_error *err)
{
    cf_err rc = CF_OK;
    int e = 0;

    /* mkostemp made it 0600: the mode asked for, whatever the umask */
    if (fchmod(f->fd, f->mode) != 0 || (sync && fsync(f->fd) != 0))
        e = errno;
    if (close(f->fd) != 0 && e == 0)
        e = errno;
    f->fd = -1; /* closed, even when close() failed */
    if (e != 0)
        rc = io_error(err, e, "write", f->tmp);
    if (rc == CF_OK && rename(f->tmp, f->path) != 0)
        rc = io_error(err, errno, "replace", f->path);
    if (rc == CF_OK) {
        free(f->tmp);
        f->tmp = NULL; /* renamed: nothing left to remove */
        if (sync)
            rc = cf_fsync_dir(f->dir, err);
    }
    cf_atomic_file_abort(f);
    return rc;
}

cf_err
cf_atomic_file_commit(struct cf_atomic_file *f, struct cf_error *err)
{
    return atomic_commit(f, true, err);
}

cf_err
cf_atomic_file_commit_nosync(struct cf_atomic_file *f, struct cf_error *err)
{
    return atomic_commit(f, false, err);
}

void
cf_atomic_file_abort(struct cf_atomic_file *f)
{
    if (f == NULL)
        return;
    if (f->fd >= 0)
        (void)close(f->fd);
    if (f->tmp != NULL)
        (void)unlink(f->tmp);
    free(f->tmp);
    free(f->dir);
    free(f->path);
    free(f);
}

cf_err
cf_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                struct cf_error *err)
{
    struct cf_atomic_file *f = NULL;

    if (cf_atomic_file_open(path, mode, &f, err) != CF_OK || f == NULL)
        return err->code;
    if (cf_write_all(f->fd, data, len) != 0) {
        (void)io_error(err, errno, "write", f->tmp);
        cf_atomic_file_abort(f);
        return err->code;
    }
    return cf_atomic_file_commit(f, err);
}

/* ---- trees and destination directories ----------------------------------- */

/* nftw callbacks (FTW_DEPTH | FTW_PHYS: children first, symlinks not followed) */
static int
remove_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    (void)remove(path);
    return 0;
}

static int
remove_contents_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag;
    if (ftw->level > 0)
        (void)remove(path);
    return 0;
}

void
cf_remove_tree(const char *path, bool keep_root)
{
    (void)nftw(path, keep_root ? remove_contents_cb : remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int
cf_dir_state(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = 1;

    if (d == NULL)
        return errno == ENOENT ? 1 : -1;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    (void)closedir(d);
    if (!empty)
        errno = ENOTEMPTY;
    return empty ? 0 : -1;
}
