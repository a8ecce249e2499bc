/*
 * fuzz_tar.c - libFuzzer: a base backup's tar archive, extracted the way
 * restore --physical does it.  coffre has no tar parser of its own: GNU tar
 * extracts (restore/physical_files.c, a child sink), then
 * cf_phys_check_tree refuses special files and stray links, clears set-ID
 * bits and gives the data directory 0700.  This target feeds arbitrary
 * archives through that same sink into a fresh directory and checks:
 *   - nothing appears beside that directory, and a file beside it is not
 *     touched (no hard link to it, no mode change);
 *   - once cf_phys_check_tree accepts the tree, it holds only regular files,
 *     directories and pg_tblspc/<name> links, with no set-ID or sticky bit,
 *     and the directory has mode 0700.
 */
#include <dirent.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restore/physical_int.h"
#include "stream/sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char sandbox[64]; /* /tmp/coffre-fuzz-tar-XXXXXX: root/ and outside/ */
static char root[96], canary[96];
static const char *tree_root;

/* Without root, a directory extracted as 0000 or 0500 keeps its entries:
 * open it up first (an unreadable one is walked again once it is). */
static int
unlock_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_DNR) {
        if (chmod(path, 0700) != 0 || nftw(path, unlock_cb, 16, FTW_PHYS | FTW_MOUNT) != 0)
            abort();
    } else if (flag == FTW_D && (st->st_mode & 0700) != 0700 && chmod(path, 0700) != 0) {
        abort();
    }
    return 0;
}

static int
remove_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        abort();
    return 0;
}

/* rm -rf dir, never following a link (FTW_PHYS) nor leaving the file system. */
static void
remove_tree(const char *dir)
{
    if (nftw(dir, unlock_cb, 16, FTW_PHYS | FTW_MOUNT) != 0 ||
        nftw(dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
        abort();
}

static void
remove_sandbox(void)
{
    if (sandbox[0] != '\0')
        remove_tree(sandbox);
}

static void
setup(void)
{
    FILE *f;

    (void)snprintf(sandbox, sizeof(sandbox), "/tmp/coffre-fuzz-tar-XXXXXX");
    if (mkdtemp(sandbox) == NULL)
        abort();
    atexit(remove_sandbox);
    (void)snprintf(root, sizeof(root), "%s/root", sandbox);
    (void)snprintf(canary, sizeof(canary), "%s/outside", sandbox);
    if (mkdir(canary, 0700) != 0)
        abort();
    (void)snprintf(canary, sizeof(canary), "%s/outside/canary", sandbox);
    if ((f = fopen(canary, "w")) == NULL || fputs("canary", f) < 0 || fclose(f) != 0 ||
        chmod(canary, 0600) != 0)
        abort();
}

/* The sandbox holds root/ (maybe) and outside/canary, untouched. */
static void
check_outside(void)
{
    DIR *d = opendir(sandbox);
    struct dirent *e;
    struct stat st;

    if (d == NULL)
        abort();
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, "root") != 0 && strcmp(e->d_name, "outside") != 0)
            abort();
    (void)closedir(d);
    if (lstat(canary, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        (st.st_mode & 07777) != 0600 || st.st_size != 6)
        abort();
}

/* What cf_phys_check_tree promises about a tree it accepted. */
static int
accepted_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    const char *rel = path + strlen(tree_root);

    if ((st->st_mode & (S_ISUID | S_ISGID | S_ISVTX)) != 0)
        abort();
    if (flag == FTW_SL) {
        /* a tablespace link, pg_tblspc/<name>, and nothing else */
        if (ftw->level != 2 || strncmp(rel, "/pg_tblspc/", 11) != 0 ||
            strchr(rel + 11, '/') != NULL)
            abort();
    } else if (flag != FTW_D && flag != FTW_F) {
        abort();
    } else if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
        abort();
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_error err = CF_ERROR_INIT;
    struct cf_sink *tar = NULL;
    struct stat st;
    cf_err rc;

    if (sandbox[0] == '\0')
        setup();
    if (mkdir(root, 0700) != 0)
        abort();
    rc = cf_phys_tar_sink_new(root, NULL, &tar, &err);
    if (rc == CF_OK)
        rc = cf_sink_write(tar, data, size, &err);
    if (rc == CF_OK)
        rc = cf_sink_close(tar, &err);
    cf_sink_free(tar); /* aborts it unless closed */
    check_outside();
    if (rc == CF_OK && cf_phys_check_tree(root, true, &err) == CF_OK) {
        tree_root = root;
        if (lstat(root, &st) != 0 || (st.st_mode & 07777) != 0700 ||
            nftw(root, accepted_cb, 16, FTW_PHYS) != 0)
            abort();
    } else if (err.code == CF_OK || err.msg[0] == '\0') {
        abort(); /* a refusal says why */
    }
    check_outside();
    remove_tree(root);
    return 0;
}
