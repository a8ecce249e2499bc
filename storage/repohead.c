/*
 * repohead.c - the newest backup this host completed, kept outside the
 * repository (<coffre.state_dir>/newest-backup.json).
 *
 * The manifests chain each backup to the one before it, but the newest
 * backup has no successor: deleting the newest backups of a repository
 * leaves an older chain that is genuine and complete, and nothing in the
 * repository says anything is missing (issue 12, rollback).  The host that
 * wrote them remembers.  The record also lets a write-only host, which
 * cannot read its own manifests, link each backup to the one it wrote before.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/manifest.h"
#include "storage/repo.h"
#include "stream/hash.h"

#define HEAD_MAX ((size_t)64 * 1024)

bool
cf_repo_head_read(const struct cf_repo *r, struct cf_repo_head *h)
{
    struct cf_error e = CF_ERROR_INIT;
    const char *inst, *repo, *id, *sha, *expires;
    char *text = NULL;
    size_t len = 0;
    json_t *root;
    bool ok = false;

    memset(h, 0, sizeof(*h));
    if (r->head_file == NULL || r->repo_identity == NULL)
        return false;
    if (access(r->head_file, F_OK) != 0 && errno == ENOENT)
        return false; /* no backup completed here yet */
    if (cf_read_file(r->head_file, "the newest-backup record", HEAD_MAX, &text, &len, &e) !=
        CF_OK) {
        cf_log_warning("%s%s%s: the repository's newest backups cannot be compared with what "
                       "this host wrote",
                       e.msg, e.detail[0] ? ": " : "", e.detail);
        return false;
    }
    root = json_loadb(text, len, 0, NULL);
    free(text);
    if (!json_is_object(root) ||
        json_unpack(root, "{s:s, s:s, s:s, s:s, s:s}", "instance", &inst, "repository", &repo, "id",
                    &id, "manifest_sha256", &sha, "expires", &expires) != 0 ||
        strlen(id) == 0 || strlen(id) > CF_OBJECT_ID_MAX || strlen(sha) != 64) {
        cf_log_warning("\"%s\" is not a newest-backup record: ignored (remove it; the next "
                       "backup writes a new one)",
                       r->head_file);
        json_decref(root);
        return false;
    }
    /* a record of another instance or repository says nothing about this one */
    if (strcmp(inst, r->instance) == 0 && strcmp(repo, r->repo_identity) == 0) {
        (void)snprintf(h->id, sizeof(h->id), "%s", id);
        memcpy(h->sha256, sha, 65);
        h->expires = cf_parse_time(expires);
        ok = h->expires >= 0;
    }
    json_decref(root);
    return ok;
}

cf_err
cf_repo_head_write(const struct cf_repo *r, const struct cf_manifest *m, const char *sha256,
                   struct cf_error *err)
{
    char expires[32], now[32], dir[4096], *slash;
    json_t *root;
    char *text;
    cf_err rc;

    if (r->head_file == NULL || r->repo_identity == NULL)
        return CF_OK;
    /* the state directory, made when its parent exists (/var/lib/coffre from the
     * package, or the configured one's parent); nowhere else, so that a host
     * without one is not given a tree it never asked for */
    (void)snprintf(dir, sizeof(dir), "%s", r->head_file);
    if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        if (access(dir, F_OK) != 0) {
            char parent[4096];
            char *ps;

            (void)snprintf(parent, sizeof(parent), "%s", dir);
            if ((ps = strrchr(parent, '/')) != NULL && ps != parent)
                *ps = '\0';
            if (access(parent, F_OK) != 0) {
                cf_log_debug("no state directory \"%s\": backup %s is not recorded as this "
                             "host's newest",
                             dir, m->id);
                return CF_OK;
            }
            if (cf_mkdir_p(dir, 0700, err) != CF_OK)
                return err->code;
        }
    }
    cf_format_time(m->expires, expires, sizeof(expires));
    cf_format_time((int64_t)time(NULL), now, sizeof(now));
    root = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "format", 1, "instance", r->instance,
                     "repository", r->repo_identity, "id", m->id, "manifest_sha256", sha256,
                     "expires", expires, "written", now);
    text = root != NULL ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    if (text == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    rc = cf_write_atomic(r->head_file, text, strlen(text), 0600, err);
    free(text);
    return rc;
}

/* Whether the repository holds a backup with a manifest and an id after id. */
static bool
newer_backup_exists(const struct cf_repo *r, const char *id)
{
    struct cf_error e = CF_ERROR_INIT;
    struct cf_backup_entry *v = NULL;
    size_t n = 0;
    bool found = false;

    if (cf_repo_list_backups(r, &v, &n, &e) != CF_OK)
        return false;
    for (size_t i = 0; i < n && !found; i++)
        found = v[i].has_manifest && strcmp(v[i].id, id) > 0;
    free(v);
    return found;
}

cf_err
cf_repo_head_check(const struct cf_repo *r, struct cf_error *err)
{
    struct cf_repo_head h;
    struct cf_error e = CF_ERROR_INIT;
    uint8_t digest[CF_SHA256_BYTES];
    char hex[CF_SHA256_HEX];

    if (!cf_repo_head_read(r, &h))
        return CF_OK;
    if (cf_repo_manifest_digest(r, h.id, digest, &e) == CF_OK) {
        cf_hex_encode(digest, sizeof(digest), hex);
        if (strcmp(hex, h.sha256) == 0)
            return CF_OK;
        cf_error_setf(err, CF_ERR_CORRUPT,
                      "the manifest of backup %s is not the one this host wrote", h.id);
        cf_error_detail(err, "Its SHA-256 is %s; \"%s\" recorded %s when the backup completed.",
                        hex, r->head_file, h.sha256);
        cf_error_hint(err, "Someone with write access to the repository replaced it: keep the "
                           "repository as it is for investigation and restore from another "
                           "backup.");
        return CF_ERR_CORRUPT;
    }
    if (e.code != CF_ERR_NOT_FOUND) {
        cf_error_setf(err, e.code, "backup %s, the newest this host wrote, cannot be read: %s",
                      h.id, e.msg);
        return err->code;
    }
    /* gone, but legitimately: a newer backup (another host's) follows it, or its retention
     * ended and prune may have taken it */
    if (h.expires < (int64_t)time(NULL) || newer_backup_exists(r, h.id))
        return CF_OK;
    cf_error_setf(err, CF_ERR_CORRUPT,
                  "backup %s, the newest this host wrote, is not in the repository", h.id);
    cf_error_detail(err,
                    "\"%s\" records it as completed, its retention has not ended, and no "
                    "backup newer than it is in the repository.",
                    r->head_file);
    cf_error_hint(err,
                  "The newest backups were deleted, or the repository was rolled back to "
                  "an older copy: find out who could write it. If it was moved on purpose, "
                  "remove \"%s\"; the next backup writes a new one.",
                  r->head_file);
    return CF_ERR_CORRUPT;
}
