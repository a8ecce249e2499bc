/*
 * cat.c - the cat engine (see cat.h).
 */
#include "restore/cat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/hash.h"

static cf_err
cat_file(const struct cf_cat_opts *o, const char *path, struct cf_error *err)
{
    struct cf_restore_chain chain = {NULL, NULL, NULL};
    struct cf_source *src = NULL;
    struct cf_sink *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cf_err rc;

    if (fd < 0)
        return cf_error_set_errno(err, CF_ERR_NOT_FOUND, errno, "could not open \"%s\"", path);
    if ((rc = cf_fd_source_new(fd, 1, path, &src, err)) != CF_OK) {
        (void)close(fd);
        return rc;
    }
    if ((rc = cf_fd_sink_new(o->fd, 0, o->fd_name, &out, err)) == CF_OK &&
        (rc = cf_restore_chain_new(o->repo->keys, NULL, path, NULL, out, &chain, err)) == CF_OK)
        rc = cf_pump(src, chain.head, CF_PUMP_BUFFER, err);
    cf_sink_free(chain.head);
    cf_source_free(src);
    return rc;
}

/* A manifest: its signature checked, the manifest JSON without the envelope. */
static cf_err
cat_manifest(const struct cf_cat_opts *o, const char *id, struct cf_error *err)
{
    char *json = NULL;
    size_t len = 0, done = 0;
    cf_err rc = cf_repo_manifest_text(o->repo, id, &json, &len, err);

    while (rc == CF_OK && done < len) {
        ssize_t w = write(o->fd, json + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            rc = cf_error_set_errno(err, CF_ERR_IO, errno, "could not write to %s", o->fd_name);
        else
            done += (size_t)w;
    }
    free(json);
    return rc;
}

cf_err
cf_cat_run(const struct cf_cat_opts *o, struct cf_error *err)
{
    const struct cf_repo *repo = o->repo;
    const char *object = o->object;
    char prefix[CF_STORAGE_KEY_MAX + 1], id[CF_OBJECT_ID_MAX + 1];
    const char *rel = object, *slash;
    struct cf_manifest *m = NULL;
    struct cf_sink *out = NULL;
    const uint8_t *sha = NULL;
    uint8_t digest[CF_SHA256_BYTES];
    unsigned kind = 0;
    cf_err rc;

    if (strchr(object, '/') != NULL && access(object, R_OK) == 0 && object[0] == '/')
        return cat_file(o, object, err);
    if ((rc = cf_repo_backup_prefix(repo, NULL, prefix, sizeof(prefix), err)) != CF_OK)
        return rc;
    if (strncmp(rel, prefix, strlen(prefix)) == 0)
        rel += strlen(prefix);
    slash = strchr(rel, '/');
    if (slash == NULL || slash == rel || (size_t)(slash - rel) > CF_OBJECT_ID_MAX)
        return cf_error_set(err, CF_ERR_USAGE, "object \"%s\" is not of the form ID/NAME",
                            object);
    (void)snprintf(id, sizeof(id), "%.*s", (int)(slash - rel), rel);
    /* with a manifest, check the digest too; without one (incomplete
     * backup, manual recovery), the AEAD alone vouches for the bytes */
    if (strcmp(slash + 1, CF_MANIFEST_NAME) == 0)
        return cat_manifest(o, id, err);
    if (cf_repo_read_manifest(repo, id, &m, &(struct cf_error)CF_ERROR_INIT) == CF_OK) {
        for (size_t i = 0; i < m->n_objects; i++)
            if (strcmp(m->objects[i].name, slash + 1) == 0 &&
                cf_hex_decode(m->objects[i].sha256, digest, sizeof(digest)) == 0) {
                sha = digest;
                kind = m->objects[i].kind;
            }
    }
    cf_manifest_free(m);
    if ((rc = cf_fd_sink_new(o->fd, 0, o->fd_name, &out, err)) != CF_OK)
        return rc;
    return cf_repo_get(repo, id, slash + 1, kind, sha, out, err);
}
