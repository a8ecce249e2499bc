/*
 * physical_files.c - choose the base backup, extract it into a staging
 * directory, check it with pg_verifybackup, write the recovery settings and
 * move it into place (see physical_int.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/fsutil.h"
#include "common/inject.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/walname.h"
#include "restore/physical_int.h"
#include "stream/child.h"
#include "stream/hash.h"

/* Does backup m end before the requested target?  (--xid, --immediate: any does.) */
static bool
ends_before_target(const struct cf_manifest *m, const struct cf_phys_opts *o)
{
    uint64_t stop = 0;

    if (o->time != NULL)
        return m->stop_time <= o->target_time;
    if (o->lsn != NULL)
        return cf_lsn_parse(m->physical->stop_lsn, &stop) && stop <= o->target_lsn;
    return true;
}

static cf_err
read_physical(const struct cf_repo *repo, const char *id, struct cf_manifest **out,
              struct cf_error *err)
{
    if (cf_repo_read_manifest(repo, id, out, err) != CF_OK)
        return err->code;
    if (strcmp((*out)->kind, "physical") != 0 || (*out)->physical == NULL) {
        cf_manifest_free(*out);
        *out = NULL;
        cf_error_setf(err, CF_ERR_USAGE, "backup %s is not a physical backup", id);
        cf_error_hint(err, "Restore logical backups with \"coffre restore ID --target ...\".");
        return CF_ERR_USAGE;
    }
    return CF_OK;
}

cf_err
cf_phys_choose_backup(const struct cf_repo *repo, const struct cf_phys_opts *o,
                      struct cf_manifest **out, struct cf_error *err)
{
    struct cf_backup_entry *v = NULL;
    struct cf_manifest *m = NULL;
    size_t n = 0;

    if (o->id != NULL) {
        if (read_physical(repo, o->id, &m, err) != CF_OK)
            return err->code;
        if (!ends_before_target(m, o)) {
            cf_error_setf(err, CF_ERR_USAGE, "backup %s ended after the recovery target", o->id);
            cf_error_detail(err, "Backup %s stopped at LSN %s; recovery cannot stop before "
                            "the end of the base backup.", o->id, m->physical->stop_lsn);
            cf_error_hint(err, "Choose an earlier backup, or omit the ID to let coffre choose.");
            cf_manifest_free(m);
            return CF_ERR_USAGE;
        }
        *out = m;
        return CF_OK;
    }
    if (cf_repo_list_backups(repo, &v, &n, err) != CF_OK)
        return err->code;
    for (size_t i = n; i-- > 0 && *out == NULL;) {
        struct cf_error e = CF_ERROR_INIT;

        if (!v[i].has_manifest)
            continue;
        if (read_physical(repo, v[i].id, &m, &e) != CF_OK) {
            if (e.code != CF_ERR_USAGE)
                cf_log_warning("skipping backup %s: %s", v[i].id, e.msg);
            continue;
        }
        if (ends_before_target(m, o))
            *out = m;
        else
            cf_manifest_free(m);
    }
    free(v);
    if (*out != NULL) {
        cf_log_info("chose physical backup %s (stopped at LSN %s)", (*out)->id,
                    (*out)->physical->stop_lsn);
        return CF_OK;
    }
    cf_error_setf(err, CF_ERR_NOT_FOUND, "no complete physical backup of instance \"%s\"%s",
                  repo->instance, o->time || o->lsn ? " ended before the recovery target" : "");
    cf_error_hint(err, "\"coffre list\" shows the backups; take one with \"coffre backup "
                       "--physical\".");
    return CF_ERR_NOT_FOUND;
}

/* ---------------------------------------------------------------- extraction */

/*
 * Everything is extracted into staging directories next to its destination
 * (".NAME.coffre-restore-PID"), checked there, and renamed into place at the
 * end: the tablespaces first, the data directory last.  A restore that is
 * killed leaves only staging directories, which the next restore into the
 * same place removes once their process is gone.
 */
struct job {
    const struct cf_repo *repo;
    const struct cf_phys_opts *o;
    const struct cf_manifest *m;
    char pgdata[PATH_MAX];
    char staging[PATH_MAX + 64];
    int pgdata_state;           /* 1: to create, 0: existing empty directory */
    char **ts_new;              /* per tablespace: where it goes (NULL for oid 0) */
    char **ts_stage;            /* per tablespace: its staging directory, once made */
    size_t ts_placed;           /* how many of them are renamed into place */
    bool staging_made;
    pthread_t flusher; /* early writeback, see flush_start() */
    bool flushing;
    struct cf_error flush_err;
};

static const char *
find_sha(const struct cf_manifest *m, const char *name, uint8_t sha[CF_SHA256_BYTES])
{
    for (size_t i = 0; i < m->n_objects; i++)
        if (strcmp(m->objects[i].name, name) == 0 &&
            cf_hex_decode(m->objects[i].sha256, sha, CF_SHA256_BYTES) == 0)
            return m->objects[i].name;
    return NULL;
}

cf_err
cf_phys_tar_sink_new(const char *dir, const struct cf_phys_opts *o, struct cf_sink **out,
                     struct cf_error *err)
{
    char reuid[40], regid[40];
    /* no owner, no set-ID bits, modes under our umask: also when run as root;
     * 256 KiB records gathered from the pipe, not tar's 10 KiB reads and writes */
    const char *argv[] = {"setpriv",
                          reuid,
                          regid,
                          "--clear-groups",
                          "--",
                          "tar",
                          "--extract",
                          "--file=-",
                          "--directory",
                          dir,
                          "--no-same-owner",
                          "--no-same-permissions",
                          "--delay-directory-restore",
                          "--blocking-factor=512",
                          "--read-full-records",
                          NULL};

    if (o == NULL || !o->as_other)
        return cf_child_sink_new(argv + 5, NULL, out, err);
    (void)snprintf(reuid, sizeof(reuid), "--reuid=%lu", (unsigned long)o->uid);
    (void)snprintf(regid, sizeof(regid), "--regid=%lu", (unsigned long)o->gid);
    return cf_child_sink_new(argv, NULL, out, err);
}

/* object (a tar) -> decrypt -> zstd -d -> sha256 -> `tar -x` in dir. */
static cf_err
extract(struct job *j, const char *object, const char *dir, struct cf_error *err)
{
    uint8_t sha[CF_SHA256_BYTES];
    struct cf_sink *tar = NULL;

    if (find_sha(j->m, object, sha) == NULL)
        return cf_error_set(err, CF_ERR_CORRUPT, "manifest of backup %s does not list object "
                            "\"%s\"", j->m->id, object);
    cf_log_info("extracting %s into %s", object, dir);
    if (cf_phys_tar_sink_new(dir, j->o, &tar, err) != CF_OK)
        return err->code;
    return cf_repo_get(j->repo, j->m->id, object, CF_OBJ_BASE_TAR, sha, tar, err);
}

static cf_err
fetch_pg_manifest(struct job *j, struct cf_error *err)
{
    const char *name = j->m->physical->pg_manifest;
    uint8_t sha[CF_SHA256_BYTES];
    struct cf_sink *file = NULL;
    char path[PATH_MAX + 128];
    int fd;

    if (find_sha(j->m, name, sha) == NULL)
        return cf_error_set(err, CF_ERR_CORRUPT, "manifest of backup %s does not list object "
                            "\"%s\"", j->m->id, name);
    (void)snprintf(path, sizeof(path), "%s/backup_manifest", j->staging);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not create \"%s\"", path);
    if (cf_fd_sink_new(fd, 1, path, &file, err) != CF_OK) {
        (void)close(fd);
        return err->code;
    }
    return cf_repo_get(j->repo, j->m->id, name, CF_OBJ_PG_MANIFEST, sha, file, err);
}

static const char *
mapped(const struct cf_phys_opts *o, const char *location)
{
    size_t l = strlen(location);

    for (int i = 0; i < o->n_maps; i++)
        if (strncmp(o->maps[i], location, l) == 0 && o->maps[i][l] == '=')
            return o->maps[i] + l + 1;
    return location;
}

/* The staging directory of dir for this process: "PARENT/.NAME.coffre-restore-PID". */
static void
staging_name(const char *dir, char *buf, size_t size)
{
    const char *slash = strrchr(dir, '/');

    (void)snprintf(buf, size, "%.*s/.%s.coffre-restore-%ld", (int)(slash - dir), dir, slash + 1,
                   (long)getpid());
}

/* Remove the staging directories of dir that earlier restores, now gone, left. */
static void
remove_dead_staging(const char *dir)
{
    const char *slash = strrchr(dir, '/');
    char parent[PATH_MAX], prefix[NAME_MAX + 32];
    struct dirent *de;
    DIR *d;

    (void)snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dir), dir);
    (void)snprintf(prefix, sizeof(prefix), ".%s.coffre-restore-", slash + 1);
    if ((d = opendir(parent[0] ? parent : "/")) == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX + NAME_MAX + 2], *end = NULL;
        long pid;

        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        pid = strtol(de->d_name + strlen(prefix), &end, 10);
        if (end == de->d_name + strlen(prefix) || *end != '\0' || pid <= 0 ||
            pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* not ours, or its restore still runs */
        (void)snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);
        cf_log_info("removing \"%s\", left by a restore (process %ld) that did not end", path, pid);
        cf_remove_tree(path, false);
    }
    (void)closedir(d);
}

/* Work out and claim every destination before writing anything. */
static cf_err
prepare(struct job *j, struct cf_phys_opts *o, struct cf_error *err)
{
    const struct cf_manifest_physical *p = j->m->physical;
    int n;

    if (o->pgdata[0] == '/')
        n = snprintf(j->pgdata, sizeof(j->pgdata), "%s", o->pgdata);
    else {
        char cwd[PATH_MAX];

        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return cf_error_set_errno(err, CF_ERR_IO, errno, "could not get the current directory");
        n = snprintf(j->pgdata, sizeof(j->pgdata), "%s/%s", cwd, o->pgdata);
    }
    while (n > 1 && j->pgdata[n - 1] == '/')
        j->pgdata[--n] = '\0';
    if (n < 0 || (size_t)n >= sizeof(j->pgdata) - 64)
        return cf_error_set(err, CF_ERR_USAGE, "--pgdata is too long");
    (void)snprintf(o->pgdata_abs, sizeof(o->pgdata_abs), "%s", j->pgdata);
    o->pgdata = o->pgdata_abs;
    remove_dead_staging(j->pgdata);
    if ((j->pgdata_state = cf_dir_state(j->pgdata)) < 0) {
        cf_error_setf(err, CF_ERR_EXISTS, "data directory \"%s\" exists and is not empty",
                      j->pgdata);
        cf_error_hint(err, "Restore into a new or empty directory; coffre never overwrites a "
                           "data directory.");
        return CF_ERR_EXISTS;
    }
    staging_name(j->pgdata, j->staging, sizeof(j->staging));
    if (mkdir(j->staging, 0700) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not create staging directory "
                                  "\"%s\" next to the data directory", j->staging);
    j->staging_made = true;
    if (o->as_other && chown(j->staging, o->uid, o->gid) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno,
                                  "could not give staging directory "
                                  "\"%s\" to uid %lu",
                                  j->staging, (unsigned long)o->uid);
    for (int i = 0; i < o->n_maps; i++) {
        bool used = false;

        for (size_t k = 0; k < p->n_tablespaces; k++)
            used = used || (p->tablespaces[k].location != NULL &&
                            mapped(o, p->tablespaces[k].location) != p->tablespaces[k].location &&
                            strncmp(o->maps[i], p->tablespaces[k].location,
                                    strlen(p->tablespaces[k].location)) == 0);
        if (!used)
            return cf_error_set(err, CF_ERR_USAGE, "--tablespace-map %s names no tablespace of "
                                "backup %s", o->maps[i], j->m->id);
    }
    j->ts_new = calloc(p->n_tablespaces + 1, sizeof(*j->ts_new));
    j->ts_stage = calloc(p->n_tablespaces + 1, sizeof(*j->ts_stage));
    if (j->ts_new == NULL || j->ts_stage == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < p->n_tablespaces; k++) {
        const char *loc = p->tablespaces[k].location;
        char stage[PATH_MAX + 64];

        if (p->tablespaces[k].oid == 0)
            continue;
        if ((j->ts_new[k] = strdup(mapped(o, loc))) == NULL)
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        if (j->ts_new[k][0] != '/' || strlen(j->ts_new[k]) >= PATH_MAX - 64)
            return cf_error_set(err, CF_ERR_USAGE,
                                "tablespace directory \"%s\" is not an "
                                "absolute path",
                                j->ts_new[k]);
        remove_dead_staging(j->ts_new[k]);
        if (cf_dir_state(j->ts_new[k]) < 0) {
            cf_error_setf(err, CF_ERR_EXISTS, "tablespace directory \"%s\" exists and is not "
                          "empty", j->ts_new[k]);
            cf_error_hint(err, "Map it elsewhere with --tablespace-map %s=NEW.", loc);
            return CF_ERR_EXISTS;
        }
        staging_name(j->ts_new[k], stage, sizeof(stage));
        if (mkdir(stage, 0700) != 0)
            return cf_error_set_errno(err, CF_ERR_IO, errno,
                                      "could not create staging "
                                      "directory \"%s\" next to tablespace directory \"%s\"",
                                      stage, j->ts_new[k]);
        if ((j->ts_stage[k] = strdup(stage)) == NULL) {
            (void)rmdir(stage);
            return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
        }
        if (o->as_other && chown(stage, o->uid, o->gid) != 0)
            return cf_error_set_errno(err, CF_ERR_IO, errno,
                                      "could not give staging directory "
                                      "\"%s\" to uid %lu",
                                      stage, (unsigned long)o->uid);
    }
    return CF_OK;
}

/*
 * What an archive may leave in a data directory or a tablespace (issue 12,
 * finding 4): regular files and directories, and symbolic links only as
 * pg_tblspc/<oid> (GNU tar already refuses ".." and strips leading "/"):
 * any other link could point out of the data directory, and a device node,
 * FIFO or socket has no business in a base backup.  Set-user-ID, set-group-ID
 * and sticky bits are cleared (tar runs with --no-same-permissions, so this is
 * a second line), and the data directory itself gets 0700.
 */
static const char *walk_root;
static bool walk_is_pgdata;
static char walk_bad[PATH_MAX];
static const char *walk_what;

static int
tree_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    size_t l = strlen(walk_root);

    if (flag == FTW_SL) {
        if (walk_is_pgdata && ftw->level == 2 && strncmp(path + l, "/pg_tblspc/", 11) == 0 &&
            strchr(path + l + 11, '/') == NULL)
            return 0;
        walk_what = "an unexpected symbolic link";
    } else if (flag == FTW_NS || flag == FTW_DNR) {
        walk_what = "an entry it cannot read";
    } else if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
        walk_what = "a special file (device, FIFO or socket)";
    } else if ((st->st_mode & (S_ISUID | S_ISGID | S_ISVTX)) != 0 &&
               chmod(path, st->st_mode & 0777) != 0) {
        walk_what = "a set-ID file whose mode cannot be reset";
    } else {
        return 0;
    }
    (void)snprintf(walk_bad, sizeof(walk_bad), "%s", path);
    return 1;
}

cf_err
cf_phys_check_tree(const char *root, bool is_pgdata, struct cf_error *err)
{
    walk_root = root;
    walk_is_pgdata = is_pgdata; /* a tablespace may hold no symlink at all */
    walk_bad[0] = '\0';
    walk_what = NULL;
    if (nftw(root, tree_cb, 16, FTW_PHYS) < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not walk \"%s\"", root);
    if (walk_bad[0] != '\0') {
        cf_error_setf(err, CF_ERR_CORRUPT, "the backup holds %s \"%s\"", walk_what, walk_bad);
        cf_error_detail(err, "A base backup holds regular files, directories and the "
                             "pg_tblspc links only; nothing was moved into place.");
        return CF_ERR_CORRUPT;
    }
    if (is_pgdata && chmod(root, 0700) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not set mode 0700 on \"%s\"", root);
    return CF_OK;
}

/*
 * With --as-user: what coffre itself wrote into the staging directories
 * (backup_manifest, recovery.signal, the pg_tblspc links) is root's; give
 * every entry to the user, without following links.
 */
static uid_t own_uid;
static gid_t own_gid;
static char own_bad[PATH_MAX];
static int own_errno;

static int
own_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    if ((st->st_uid != own_uid || st->st_gid != own_gid) && lchown(path, own_uid, own_gid) != 0) {
        own_errno = errno;
        (void)snprintf(own_bad, sizeof(own_bad), "%s", path);
        return 1;
    }
    return 0;
}

static cf_err
own_tree(const char *root, const struct cf_phys_opts *o, struct cf_error *err)
{
    own_uid = o->uid;
    own_gid = o->gid;
    own_bad[0] = '\0';
    if (nftw(root, own_cb, 16, FTW_PHYS) < 0 && own_bad[0] == '\0')
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not walk \"%s\"", root);
    if (own_bad[0] != '\0')
        return cf_error_set_errno(err, CF_ERR_IO, own_errno, "could not give \"%s\" to uid %lu",
                                  own_bad, (unsigned long)o->uid);
    return CF_OK;
}

/* Point pg_tblspc/<oid> at the tablespaces' staging (for pg_verifybackup) or final places. */
static cf_err
relink_tablespaces(struct job *j, bool to_final, struct cf_error *err)
{
    const struct cf_manifest_physical *p = j->m->physical;

    for (size_t k = 0; k < p->n_tablespaces; k++) {
        const char *target = to_final ? j->ts_new[k] : j->ts_stage[k];
        char link[PATH_MAX + 128];

        if (p->tablespaces[k].oid == 0)
            continue;
        (void)snprintf(link, sizeof(link), "%s/pg_tblspc/%u", j->staging, p->tablespaces[k].oid);
        if ((unlink(link) != 0 && errno != ENOENT) || symlink(target, link) != 0)
            return cf_error_set_errno(err, CF_ERR_IO, errno, "could not point \"%s\" to \"%s\"",
                                      link, target);
    }
    return CF_OK;
}

static cf_err
verify_files(const struct cf_phys_opts *o, struct job *j, struct cf_error *err)
{
    char tool[512], manifest[PATH_MAX + 128], *out = NULL;
    const char *argv[] = {tool, "--no-parse-wal", "--quiet", "--manifest-path", manifest,
                          j->staging, NULL};
    cf_err rc;

    cf_pg_tool_path(o->bindir, j->m->pg_version_num, "pg_verifybackup", tool, sizeof(tool));
    (void)snprintf(manifest, sizeof(manifest), "%s/backup_manifest", j->staging);
    rc = cf_child_run(argv, NULL, &out, (size_t)64 * 1024, err);
    free(out);
    if (rc != CF_OK) {
        char detail[sizeof(err->msg)];

        (void)snprintf(detail, sizeof(detail), "%s", err->msg);
        cf_error_clear(err);
        cf_error_setf(err, CF_ERR_CORRUPT, "the restored files do not match the server's "
                      "backup_manifest of backup %s", j->m->id);
        cf_error_detail(err, "%s", detail);
        return CF_ERR_CORRUPT;
    }
    cf_log_info("pg_verifybackup: the restored files match the backup_manifest");
    return CF_OK;
}

/* A value for postgresql.auto.conf, single-quoted with '' doubling. */
static void
put_setting(FILE *f, const char *key, const char *value)
{
    (void)fprintf(f, "%s = '", key);
    for (const char *p = value; *p; p++)
        (void)fprintf(f, *p == '\'' ? "''" : "%c", *p);
    (void)fputs("'\n", f);
}

/* The shell runs restore_command: paths must need no quoting. */
static bool
shell_safe(const char *s)
{
    return s[0] == '/' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789/._+-@:,=") == strlen(s);
}

static cf_err
write_recovery(struct job *j, const struct cf_phys_opts *o, struct cf_error *err)
{
    char exe[PATH_MAX], conf[PATH_MAX], path[PATH_MAX + 128], cmd[4 * PATH_MAX], when[32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    FILE *f;
    int fd;

    if (n <= 0 || realpath(o->config_path, conf) == NULL)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not resolve the paths of coffre "
                                  "and of its configuration for restore_command");
    exe[n] = '\0';
    if (!shell_safe(exe) || !shell_safe(conf))
        return cf_error_set(err, CF_ERR_CONFIG, "cannot use \"%s\" or \"%s\" in restore_command: "
                            "only letters, digits and /._+-@:,= are allowed", exe, conf);
    /* A server coffre starts itself (--start, drills) runs while this process does: under
     * systemd its wal-get finds the PIN credential only through the command, since the
     * postmaster's environment has no CREDENTIALS_DIRECTORY (stream/child.c).  The path
     * names no secret and dies with the unit; a server started later must use
     * keys.pin_file (docs/physical.md). */
    const char *cred = o->start || o->runs_here ? getenv("CREDENTIALS_DIRECTORY") : NULL;

    if (cred != NULL && cred[0] != '\0' && strlen(cred) < PATH_MAX && shell_safe(cred))
        (void)snprintf(cmd, sizeof(cmd), "CREDENTIALS_DIRECTORY=%s %s --config %s wal-get %%f %%p",
                       cred, exe, conf);
    else
        (void)snprintf(cmd, sizeof(cmd), "%s --config %s wal-get %%f %%p", exe, conf);
    (void)snprintf(path, sizeof(path), "%s/postgresql.auto.conf", j->staging);
    if ((f = fopen(path, "ae")) == NULL)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not open \"%s\"", path);
    cf_format_time((int64_t)time(NULL), when, sizeof(when));
    (void)fprintf(f, "\n# coffre restore --physical of backup %s, %s\n", j->m->id, when);
    put_setting(f, "restore_command", cmd);
    if (o->time != NULL)
        put_setting(f, "recovery_target_time", o->time);
    else if (o->lsn != NULL)
        put_setting(f, "recovery_target_lsn", o->lsn);
    else if (o->xid != NULL)
        put_setting(f, "recovery_target_xid", o->xid);
    else if (o->immediate)
        put_setting(f, "recovery_target", "immediate");
    if (o->time || o->lsn || o->xid || o->immediate)
        put_setting(f, "recovery_target_action", "promote");
    put_setting(f, "recovery_target_timeline", o->timeline);
    if (o->no_archive)
        put_setting(f, "archive_mode", "off");
    if (fclose(f) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not write \"%s\"", path);
    (void)snprintf(path, sizeof(path), "%s/recovery.signal", j->staging);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not create \"%s\"", path);
    (void)close(fd);
    return CF_OK;
}

static cf_err
fsync_parent(const char *path, struct cf_error *err)
{
    char parent[PATH_MAX];

    (void)snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(path, '/') - path), path);
    return cf_fsync_dir(parent[0] ? parent : "/", err);
}

/*
 * Writeback of the extracted files starts in a second thread while
 * pg_verifybackup reads them back from the page cache, so that the disk
 * works while the files are checked; move_into_place() then has little left
 * to flush.  Its result counts like the last one's: a writeback error that
 * one syncfs(2) reported is not reported again to a later caller.
 */
static void *
flush_run(void *arg)
{
    struct job *j = arg;

    if (cf_syncfs_dir(j->staging, &j->flush_err) != CF_OK)
        return NULL;
    for (size_t k = 0; k < j->m->physical->n_tablespaces; k++)
        if (j->ts_stage[k] != NULL && cf_syncfs_dir(j->ts_stage[k], &j->flush_err) != CF_OK)
            return NULL;
    return NULL;
}

/* Best effort: without a thread, move_into_place() flushes everything. */
static void
flush_start(struct job *j)
{
    sigset_t all, old;

    cf_error_clear(&j->flush_err);
    (void)sigfillset(&all);
    (void)pthread_sigmask(SIG_SETMASK, &all, &old);
    j->flushing = pthread_create(&j->flusher, NULL, flush_run, j) == 0;
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static cf_err
flush_wait(struct job *j, struct cf_error *err)
{
    if (!j->flushing)
        return CF_OK;
    (void)pthread_join(j->flusher, NULL);
    j->flushing = false;
    if (j->flush_err.code != CF_OK && err->code == CF_OK)
        *err = j->flush_err;
    return j->flush_err.code;
}

/*
 * syncfs every staging file system, then rename (rename(2) replaces an empty
 * directory atomically): the tablespaces first, the data directory last.
 */
static cf_err
move_into_place(struct job *j, struct cf_error *err)
{
    const struct cf_manifest_physical *p = j->m->physical;

    if (cf_syncfs_dir(j->staging, err) != CF_OK)
        return err->code;
    for (size_t k = 0; k < p->n_tablespaces; k++)
        if (j->ts_stage[k] != NULL && cf_syncfs_dir(j->ts_stage[k], err) != CF_OK)
            return err->code;
    for (j->ts_placed = 0; j->ts_placed < p->n_tablespaces; j->ts_placed++) {
        size_t k = j->ts_placed;

        if (j->ts_stage[k] != NULL && rename(j->ts_stage[k], j->ts_new[k]) != 0)
            return cf_error_set_errno(err, CF_ERR_IO, errno, "could not rename \"%s\" to \"%s\"",
                                      j->ts_stage[k], j->ts_new[k]);
    }
    if (rename(j->staging, j->pgdata) != 0)
        return cf_error_set_errno(err, CF_ERR_IO, errno, "could not rename \"%s\" to \"%s\"",
                                  j->staging, j->pgdata);
    j->staging_made = false;
    for (size_t k = 0; k < p->n_tablespaces; k++)
        if (j->ts_stage[k] != NULL && fsync_parent(j->ts_new[k], err) != CF_OK)
            return err->code;
    return fsync_parent(j->pgdata, err);
}

static cf_err
restore_steps(struct job *j, struct cf_phys_opts *o,
              struct cf_error *err)
{
    const struct cf_manifest_physical *p = j->m->physical;

    if (prepare(j, o, err) != CF_OK)
        return err->code;
    CF_INJECT("restore-start");
    for (size_t k = 0; k < p->n_tablespaces; k++)
        if (extract(j, p->tablespaces[k].object,
                    p->tablespaces[k].oid == 0 ? j->staging : j->ts_stage[k], err) != CF_OK ||
            cf_phys_check_tree(p->tablespaces[k].oid == 0 ? j->staging : j->ts_stage[k],
                               p->tablespaces[k].oid == 0, err) != CF_OK)
            return err->code;
    flush_start(j);
    if (fetch_pg_manifest(j, err) != CF_OK || relink_tablespaces(j, false, err) != CF_OK ||
        verify_files(o, j, err) != CF_OK || flush_wait(j, err) != CF_OK ||
        relink_tablespaces(j, true, err) != CF_OK || write_recovery(j, o, err) != CF_OK)
        return err->code;
    for (size_t k = 0; o->as_other && k < p->n_tablespaces; k++)
        if (own_tree(p->tablespaces[k].oid == 0 ? j->staging : j->ts_stage[k], o, err) != CF_OK)
            return err->code;
    CF_INJECT("restore-before-rename");
    /* stopped now, nothing is renamed: every staging directory is removed */
    if (cf_cancel_check(err) != CF_OK || move_into_place(j, err) != CF_OK)
        return err->code;
    CF_INJECT("restore-after-rename");
    return CF_OK;
}

cf_err
cf_phys_restore_files(const struct cf_repo *repo,
                      const struct cf_manifest *m, struct cf_phys_opts *o, struct cf_error *err)
{
    const struct cf_manifest_physical *p = m->physical;
    struct job j;
    cf_err rc;

    memset(&j, 0, sizeof(j));
    j.repo = repo;
    j.o = o;
    j.m = m;
    rc = restore_steps(&j, o, err);
    if (j.flushing) {
        struct cf_error ignored = CF_ERROR_INIT;

        (void)flush_wait(&j, &ignored); /* the restore failed before: that error counts */
    }
    if (rc != CF_OK) {
        if (j.staging_made) {
            /* the data directory is not in place: take back the tablespaces that are */
            for (size_t k = 0; k < j.ts_placed; k++)
                if (j.ts_stage[k] != NULL)
                    (void)rename(j.ts_new[k], j.ts_stage[k]);
            cf_remove_tree(j.staging, false);
            for (size_t k = 0; j.ts_stage != NULL && k < p->n_tablespaces; k++)
                if (j.ts_stage[k] != NULL)
                    cf_remove_tree(j.ts_stage[k], false);
        }
        cf_error_context(err, "nothing was restored into \"%s\"", o->pgdata);
    }
    for (size_t k = 0; j.ts_new != NULL && k < p->n_tablespaces; k++) {
        free(j.ts_new[k]);
        free(j.ts_stage != NULL ? j.ts_stage[k] : NULL);
    }
    free(j.ts_new);
    free(j.ts_stage);
    return rc;
}
