/*
 * walspool.c - async wal-push and wal-get read-ahead (see walspool.h).
 *
 * Children are separate processes (coffre started again, detached, through
 * cf_child_spawn_detached), never threads and never a bare fork: a PKCS#11
 * module may not be used across fork() and the keyring is not thread-safe,
 * so each child opens its own.
 */
#include "agent/walspool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/fsutil.h"
#include "common/inject.h"
#include "common/log.h"
#include "stream/child.h"

#define SPOOL_MAX_MARKERS 1024         /* pushed/ never holds more than this */
#define SPOOL_STALE_SECONDS 86400      /* older markers and prefetched files are removed */
#define MAX_JOBS 32

/* ---- small file helpers ------------------------------------------------- */

static cf_err
spool_dir(const struct cf_wal_env *env, const char *sub, char *buf, size_t size,
          struct cf_error *err)
{
    int n = snprintf(buf, size, "%s/%s", env->state_dir, sub);

    if (n < 0 || (size_t)n >= size)
        return cf_error_set(err, CF_ERR_CONFIG, "wal.spool \"%s\" is too long", env->state_dir);
    if (cf_mkdir_p(buf, 0700, err) != CF_OK)
        cf_error_context(err, "while creating the spool directory (state_dir)");
    return err->code;
}

/* ---- async wal-push ------------------------------------------------------- */

/* What a marker vouches for: this content, in this repository and instance (a
 * marker must not survive a change of repository in the configuration). */
static void
repo_identity(const struct cf_wal_env *env, char *buf, size_t size)
{
    cf_repo_conf_identity(env->repo_conf, env->instance, buf, size);
}

static const char *
base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

/*
 * A marker may vouch for a file by its state (device, inode, size, mtime and
 * ctime to the nanosecond) instead of by its sha256, which the parent would
 * otherwise have to compute again.  Only for a file that had been quiet for
 * QUIET_SECONDS when the child looked at it, and that it found unchanged after
 * the push: any later write sets a ctime past the one recorded (even with a
 * coarse file system clock), so an equal state means the same bytes.
 */
#define QUIET_SECONDS 2

static bool
same_state(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* "file DEV INO SIZE MTIME.NS CTIME.NS" */
static void
format_state(const struct stat *st, char *buf, size_t size)
{
    (void)snprintf(buf, size, "file %ju %ju %jd %jd.%09ld %jd.%09ld", (uintmax_t)st->st_dev,
                   (uintmax_t)st->st_ino, (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec,
                   st->st_mtim.tv_nsec, (intmax_t)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

cf_err
cf_walspool_mark_pushed(const struct cf_wal_env *env, const char *path, const char sha256[65],
                        const struct cf_wal_read *read, struct cf_error *err)
{
    char dir[2048], final[4200], id[2048], text[2400], state[160] = "";
    struct stat after;
    int n;

    repo_identity(env, id, sizeof(id));

    if (spool_dir(env, "pushed", dir, sizeof(dir), err) != CF_OK)
        return err->code;
    (void)snprintf(final, sizeof(final), "%s/%s", dir, base_name(path));
    if (read != NULL && stat(path, &after) == 0 && same_state(&read->st, &after) &&
        read->at - read->st.st_ctim.tv_sec >= QUIET_SECONDS) {
        format_state(&after, state, sizeof(state));
    }
    n = snprintf(text, sizeof(text), "%s\n%s\n%s%s", sha256, id, state, state[0] ? "\n" : "");
    if (n < 0 || (size_t)n >= sizeof(text))
        return cf_error_set(err, CF_ERR_INTERNAL, "marker for \"%s\" is too long", final);
    CF_INJECT("wal-push-marker-before");
    if (cf_write_atomic(final, text, (size_t)n, 0600, err) != CF_OK)
        return err->code;
    CF_INJECT("wal-push-marker-after");
    /* the claim our parent took for us: the marker now speaks (the flock lasts until exit) */
    (void)snprintf(final, sizeof(final), "%s/%s.inflight", dir, base_name(path));
    (void)unlink(final);
    return CF_OK;
}

/*
 * True (and the marker removed) if a child recorded name, as the file at
 * wal_path is now, in the repository identified by id: by the file's state
 * when the marker has one and it still matches, else by its sha256 (computed
 * here).  *by_state says which.
 */
static bool
take_marker(const char *dir, const char *name, const char *wal_path, const char *id, bool *by_state)
{
    char path[4200], got[80] = "", got_id[2100] = "", got_state[200] = "", now[160], sha[65];
    struct cf_error ignored = CF_ERROR_INIT; /* unreadable file: no vouching, push it */
    struct stat st;
    FILE *fp;
    bool ok;
    int fd;

    *by_state = false;
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((fp = fopen(path, "re")) == NULL)
        return false;
    ok = fgets(got, sizeof(got), fp) != NULL && strlen(got) == 65 && got[64] == '\n' &&
         fgets(got_id, sizeof(got_id), fp) != NULL && strlen(got_id) == strlen(id) + 1 &&
         strncmp(got_id, id, strlen(id)) == 0;
    if (ok && fgets(got_state, sizeof(got_state), fp) != NULL && stat(wal_path, &st) == 0) {
        format_state(&st, now, sizeof(now));
        *by_state =
            strlen(got_state) == strlen(now) + 1 && strncmp(got_state, now, strlen(now)) == 0;
    }
    (void)fclose(fp);
    (void)unlink(path); /* used or wrong: either way it has served */
    if (!ok || *by_state)
        return ok;
    if ((fd = open(wal_path, O_RDONLY | O_CLOEXEC)) < 0)
        return false;
    ok = cf_wal_hash_fd(fd, 0, wal_path, sha, &ignored) == CF_OK && strncmp(got, sha, 64) == 0;
    (void)close(fd);
    return ok;
}

static bool
has_marker(const char *dir, const char *name)
{
    char path[4200];

    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* A read-ahead copy's name: "<segment>-<sha256>". */
static bool
is_prefetched_name(const char *name)
{
    return strlen(name) == 24 + 1 + 64 && name[24] == '-';
}

/*
 * Remove stale entries, and the read-ahead copies of segments at or before
 * upto (NULL: none); return how many entries are left.  Lock files (".lock")
 * are never removed: another process may hold or be about to take them.
 * Temporary files (".<name>.tmp.XXXXXX", from cf_atomic_file) may belong to a
 * process writing them now; they go when stale, or at once when the caller
 * holds the directory's lock (owned_temps): then nobody else writes there.
 */
static size_t
sweep_dir(const char *dir, const char *upto, bool owned_temps)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    time_t now = time(NULL);

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char path[4200];
        struct stat st;
        bool temp = e->d_name[0] == '.', drop;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, ".lock") == 0)
            continue;
        (void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        drop = now - st.st_mtime > SPOOL_STALE_SECONDS || (temp && owned_temps) ||
               (upto != NULL && is_prefetched_name(e->d_name) && strncmp(e->d_name, upto, 24) <= 0);
        if (drop)
            (void)unlink(path);
        else
            n++;
    }
    (void)closedir(d);
    return n;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Claims.  Before starting a child for segment S, the parent creates
 * pushed/S.inflight and takes an flock on it; the child inherits the
 * descriptor across fork and exec (keep_fd of cf_child_spawn_detached; the
 * lock belongs to the open file, so it lasts until the child exits), writes
 * the marker, then removes the file.
 * A later wal-push of S that finds the lock held waits for it, then reads
 * the marker.  A child that fails simply exits: the lock goes, no marker
 * stays, and that wal-push pushes S itself.
 */
static int
claim(const char *dir, const char *name)
{
    char path[4200];
    int fd;

    (void)snprintf(path, sizeof(path), "%s/%s.inflight", dir, name);
    /* O_CLOEXEC all the same: only the child it is passed to keeps it through exec */
    if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* True while another process holds the claim on name. */
static bool
in_flight(const char *dir, const char *name)
{
    char path[4200];
    bool busy;
    int fd;

    (void)snprintf(path, sizeof(path), "%s/%s.inflight", dir, name);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return false;
    busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    (void)close(fd);
    return busy;
}

/* Wait (until deadline) for the child holding the claim on name to finish;
 * a signal (SIGTERM from the archiver's stop) ends the wait at once. */
static void
wait_claim(const char *dir, const char *name, time_t deadline)
{
    char path[4200];
    int fd;

    (void)snprintf(path, sizeof(path), "%s/%s.inflight", dir, name);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return;
    while (flock(fd, LOCK_SH | LOCK_NB) != 0 && time(NULL) < deadline && !cf_cancel_requested())
        (void)usleep(10000);
    (void)close(fd);
}

/* Up to max ready segments (oldest first) other than self, without a marker. */
static size_t
ready_segments(const char *waldir, const char *self, const char *markers, char **out, size_t max)
{
    char status[4200];
    char *all[1024];
    size_t n = 0, k = 0;
    DIR *d;
    struct dirent *e;

    (void)snprintf(status, sizeof(status), "%s/archive_status", waldir);
    if ((d = opendir(status)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL && n < 1024) {
        struct cf_wal_file f;
        size_t len = strlen(e->d_name);
        char name[CF_WAL_NAME_MAX + 1];

        if (len != 24 + 6 || strcmp(e->d_name + 24, ".ready") != 0)
            continue;
        (void)snprintf(name, sizeof(name), "%.24s", e->d_name);
        if (!cf_wal_parse_name(name, &f) || f.type != CF_WAL_SEGMENT || strcmp(name, self) == 0)
            continue;
        if ((all[n] = strdup(name)) != NULL)
            n++;
    }
    (void)closedir(d);
    qsort(all, n, sizeof(all[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (k < max && !has_marker(markers, all[i]) && !in_flight(markers, all[i]))
            out[k++] = all[i];
        else
            free(all[i]);
    }
    return k;
}

/* Start coffre itself with extra arguments, detached (see cf_child_spawn_detached);
 * keep_fd: a claim the child inherits (-1: none). */
static cf_err
spawn_self(const struct cf_wal_env *env, const char *const extra[], int keep_fd,
           struct cf_error *err)
{
    const char *argv[12];
    size_t k = 0;

    argv[k++] = "coffre";
    argv[k++] = "-c";
    argv[k++] = env->config_path;
    if (cf_log_get_level() < CF_LOG_INFO)
        argv[k++] = "-q";
    for (size_t i = 0; extra[i] != NULL && k < 11; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    return cf_child_spawn_detached("/proc/self/exe", argv, keep_fd, NULL, err);
}

cf_err
cf_wal_push_async(const struct cf_wal_env *env, const struct cf_repo *repo, const char *path,
                  struct cf_error *err)
{
    char markers[2048], sha[65], id[2048], *names[MAX_JOBS], *dir_copy;
    bool by_state;
    size_t n = 0, busy = 0, want = env->wal->push_jobs > 0 ? env->wal->push_jobs - 1 : 0;
    int64_t timeout = env->wal->archive_timeout > 0 ? env->wal->archive_timeout : 300;
    time_t deadline = time(NULL) + (time_t)timeout;
    bool already = false;
    cf_err rc;

    if (spool_dir(env, "pushed", markers, sizeof(markers), err) != CF_OK)
        return err->code;
    repo_identity(env, id, sizeof(id));
    /* first keep up to push_jobs - 1 children busy with the next ready segments (the
     * pipeline must not drain while this call waits for its own segment's child) */
    if (sweep_dir(markers, NULL, false) >= SPOOL_MAX_MARKERS)
        want = 0; /* bounded spool: nobody consumes the markers, stop making more */
    if (want > MAX_JOBS)
        want = MAX_JOBS;
    if ((dir_copy = strdup(path)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    {
        char *all[MAX_JOBS * 2];
        size_t m = ready_segments(dirname(dir_copy), base_name(path), markers, all,
                                  want > 0 ? MAX_JOBS * 2 : 0);
        /* ready_segments skipped the claimed ones: count them against want */
        DIR *d = opendir(markers);
        struct dirent *e;

        while (d != NULL && (e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            char nm[32];

            if (len == 24 + 9 && strcmp(e->d_name + 24, ".inflight") == 0) {
                (void)snprintf(nm, sizeof(nm), "%.24s", e->d_name);
                busy += in_flight(markers, nm) ? 1 : 0;
            }
        }
        if (d != NULL)
            (void)closedir(d);
        for (size_t i = 0; i < m; i++) {
            if (n + busy < want)
                names[n++] = all[i];
            else
                free(all[i]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        char seg[4200];
        const char *extra[] = {"wal-push", "--spool-only", seg, NULL};
        const char *slash = strrchr(path, '/');
        struct cf_error e = CF_ERROR_INIT;
        int cfd = claim(markers, names[i]);

        if (cfd < 0)
            continue; /* somebody else has it */
        (void)snprintf(seg, sizeof(seg), "%.*s%s", slash ? (int)(slash - path + 1) : 0, path,
                       names[i]);
        if (spawn_self(env, extra, cfd, &e) != CF_OK)
            cf_log_warning("could not start an async push of %s: %s", names[i], e.msg);
        (void)close(cfd); /* the child holds the claim now (or nobody: this call pushes) */
    }
    free(dir_copy);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    CF_INJECT("wal-push-spawned");
    /* a child is pushing this very segment: wait for it (bounded), then trust its marker */
    if (in_flight(markers, base_name(path))) {
        cf_log_debug("WAL file \"%s\" is being archived by an async push: waiting", path);
        CF_INJECT("wal-push-waiting");
        wait_claim(markers, base_name(path), deadline);
        if (cf_cancel_check(err) != CF_OK) {
            cf_error_context(err, "while waiting for the async push of WAL file \"%s\"", path);
            return err->code;
        }
    }
    if (take_marker(markers, base_name(path), path, id, &by_state)) {
        CF_INJECT("wal-push-marker-taken");
        cf_log_debug("WAL file \"%s\" was archived by an async push (%s)", path,
                     by_state ? "the file is unchanged since" : "same sha256");
        return CF_OK;
    }
    rc = cf_wal_push_file(repo, path, sha, &already, NULL, err);
    if (rc == CF_OK && already)
        cf_log_info("WAL file \"%s\" was already archived (same sha256)", path);
    return rc;
}

/* ---- wal-get read-ahead --------------------------------------------------- */

/* The spool file holding a prefetched segment name ("" if none). */
static bool
find_prefetched(const char *dir, const char *name, char *file, size_t size)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;

    if (d == NULL)
        return false;
    while (!found && (e = readdir(d)) != NULL) {
        if (is_prefetched_name(e->d_name) && strncmp(e->d_name, name, 24) == 0) {
            (void)snprintf(file, size, "%s/%s", dir, e->d_name);
            found = true;
        }
    }
    (void)closedir(d);
    return found;
}

static cf_err
copy_verified(const char *src, const char *want_sha, const char *path, struct cf_error *err)
{
    char sha[65];
    struct cf_atomic_file *out = NULL;
    struct cf_error ignored = CF_ERROR_INIT; /* any failure: served from the repository */
    int in = -1;
    cf_err rc = CF_ERR_NOT_FOUND;
    char buf[65536];
    ssize_t got;
    off_t off = 0;

    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
        goto out;
    if (cf_wal_hash_fd(in, 0, src, sha, err) != CF_OK) {
        cf_error_clear(err);
        goto out;
    }
    if (strcmp(sha, want_sha) != 0) {
        cf_log_warning("prefetched WAL file \"%s\" fails its sha256 check: fetching it again",
                       src);
        goto out;
    }
    /* same file system (the usual case): hand the checked file over as it is */
    if (rename(src, path) == 0) {
        (void)close(in);
        cf_log_debug("moved read-ahead copy \"%s\" to \"%s\"", src, path);
        return CF_OK;
    }
    if (cf_atomic_file_open(path, 0600, &out, &ignored) != CF_OK)
        goto out;
    while ((got = pread(in, buf, sizeof(buf), off)) > 0) {
        if (cf_write_all(cf_atomic_file_fd(out), buf, (size_t)got) != 0)
            goto out;
        off += got;
    }
    if (got < 0)
        goto out;
    rc = cf_atomic_file_commit_nosync(out, &ignored) == CF_OK ? CF_OK : CF_ERR_NOT_FOUND;
    out = NULL; /* committed or not, freed */
out:
    cf_atomic_file_abort(out);
    if (in >= 0)
        (void)close(in);
    (void)unlink(src); /* served or bad: it goes either way */
    return rc;
}

/*
 * Whether a read-ahead child holds the prefetch lock of dir.  It fetches the
 * segments after the one that started it, in order: the one recovery asks
 * for next is the one it is fetching, and fetching it here as well would
 * only halve the speed of both.
 */
static bool
prefetch_running(const char *dir)
{
    char lock[4200];
    int fd;
    bool held;

    (void)snprintf(lock, sizeof(lock), "%s/.lock", dir);
    if ((fd = open(lock, O_RDWR | O_CLOEXEC)) < 0)
        return false;
    held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    (void)close(fd); /* also drops a shared lock we got */
    return held;
}

#define PREFETCH_WAIT_MS 10000 /* then the repository, as if there were no read-ahead */

/* The spool file of name, waiting while a read-ahead child is running. */
static bool
wait_prefetched(const char *dir, const char *name, char *file, size_t size)
{
    for (int waited = 0; waited < PREFETCH_WAIT_MS && !cf_cancel_requested(); waited += 5) {
        if (find_prefetched(dir, name, file, size))
            return true;
        if (!prefetch_running(dir))
            return find_prefetched(dir, name, file, size);
        (void)nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    return false;
}

cf_err
cf_walspool_serve(const struct cf_wal_env *env, const char *name, const char *path,
                  struct cf_error *err)
{
    char dir[2048], file[4200];

    if (env->wal->readahead == 0)
        return CF_ERR_NOT_FOUND;
    if (spool_dir(env, "prefetch", dir, sizeof(dir), err) != CF_OK) {
        cf_error_clear(err); /* no spool: serve from the repository */
        return CF_ERR_NOT_FOUND;
    }
    if (!wait_prefetched(dir, name, file, sizeof(file)))
        return CF_ERR_NOT_FOUND;
    if (copy_verified(file, file + strlen(file) - 64, path, err) != CF_OK)
        return CF_ERR_NOT_FOUND;
    cf_log_debug("restored WAL file \"%s\" from the read-ahead spool", name);
    return CF_OK;
}

void
cf_walspool_readahead(const struct cf_wal_env *env, const char *name, uint64_t segment_size)
{
    char opt[64], seg[CF_WAL_NAME_MAX + 1], dir[2048];
    const char *extra[] = {"wal-get", opt, seg, NULL};
    struct cf_error ignored = CF_ERROR_INIT; /* no read-ahead: recovery asks the repository */

    if (env->wal->readahead == 0 || !cf_wal_segment_size_valid(segment_size))
        return;
    /* one already running would make the new one exit at once, after opening the
     * repository and the keys for nothing; the next wal-get after it ends starts one */
    if (spool_dir(env, "prefetch", dir, sizeof(dir), &ignored) == CF_OK && prefetch_running(dir))
        return;
    (void)snprintf(opt, sizeof(opt), "--prefetch=%" PRIu64, segment_size);
    (void)snprintf(seg, sizeof(seg), "%s", name);
    (void)spawn_self(env, extra, -1, &ignored);
}

cf_err
cf_walspool_prefetch(const struct cf_wal_env *env, const struct cf_repo *repo, const char *name,
                     uint64_t segment_size, struct cf_error *err)
{
    char dir[2048], lock[4200];
    struct cf_wal_file f;
    uint64_t segno, n = env->wal->readahead;
    int lfd;
    cf_err rc = CF_OK;

    if (!cf_wal_parse_name(name, &f) || f.type != CF_WAL_SEGMENT ||
        !cf_wal_segment_size_valid(segment_size))
        return cf_error_set(err, CF_ERR_USAGE, "wal-get --prefetch needs a segment name");
    if (spool_dir(env, "prefetch", dir, sizeof(dir), err) != CF_OK)
        return err->code;
    (void)snprintf(lock, sizeof(lock), "%s/.lock", dir);
    if ((lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open \"%s\"", lock);
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) { /* another prefetch is running */
        (void)close(lfd);
        return CF_OK;
    }
    /* what recovery has passed is never asked again; under the lock, temporary files
     * are a killed read-ahead's */
    (void)sweep_dir(dir, name, true);
    if (n * segment_size > env->wal->spool_max)
        n = env->wal->spool_max / segment_size;
    segno = cf_wal_segno(&f, segment_size);
    for (uint64_t i = 1; i <= n && rc == CF_OK; i++) {
        char next[CF_WAL_NAME_MAX + 1], file[4200];
        struct cf_wal_object *v = NULL;
        size_t k = 0, j;

        cf_wal_segno_name(f.timeline, segno + i, segment_size, next, sizeof(next));
        if (find_prefetched(dir, next, file, sizeof(file)))
            continue;
        if ((rc = cf_wal_find(repo, next, false, &v, &k, err)) != CF_OK)
            break;
        for (j = 0; j < k && strcmp(v[j].name, next) != 0; j++)
            ;
        if (j == k) { /* the end of the archive, for now */
            free(v);
            break;
        }
        (void)snprintf(file, sizeof(file), "%s/%s-%s", dir, next, v[j].sha256);
        rc = cf_wal_get_to_path(repo, &v[j], file, err);
        free(v);
    }
    (void)close(lfd);
    return rc;
}
