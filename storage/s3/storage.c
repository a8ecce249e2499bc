/*
 * storage.c - the S3 driver: ops table, open and bucket check, and the
 * object operations that are one request or a paginated listing (info,
 * list, remove, versions, retention, unfinished uploads).  Writing is in
 * write.c, reading in read.c.
 */
#include "storage/s3/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/cancel.h"
#include "common/log.h"
#include "storage/s3/s3_int.h"

#define WHAT_MAX (CF_STORAGE_KEY_MAX + S3_UPLOAD_ID_MAX + 128)
#define QUERY_MAX (3 * (S3_KEY_MAX + S3_TOKEN_MAX) + 512)

static cf_err
nomem(struct cf_error *err)
{
    return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
}

static cf_err
too_long(struct cf_error *err, const char *key)
{
    return cf_error_set(err, CF_ERR_USAGE, "object key \"%s\" is too long for S3", key);
}

cf_err
cf_s3_head(struct s3_storage *st, const char *full_key, const char *repo_key,
           const char *version_id, bool *exists, struct s3_resp *resp, struct cf_error *err)
{
    char what[WHAT_MAX], query[CF_STORAGE_VERSION_MAX * 3 + 32] = "";
    struct s3_req req = {.method = "HEAD", .key = full_key, .repo_key = repo_key,
                         .what = what, .quiet_status = {404, 0}};

    (void)snprintf(what, sizeof(what), "read information about object \"%s\"", repo_key);
    if (version_id != NULL && version_id[0] != '\0') {
        if (!cf_s3_query_add(query, sizeof(query), "versionId", version_id))
            return too_long(err, repo_key);
        req.query = query;
    }
    if (cf_s3_request(st, &req, resp, err) != CF_OK)
        return err->code;
    *exists = resp->status != 404;
    return CF_OK;
}

static cf_err
s3_info(struct cf_storage *base, const char *key, struct cf_storage_info *info,
        struct cf_error *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    struct s3_resp resp = {0};
    char *full = cf_s3_full_key(st, key);
    bool exists = false;
    cf_err rc;

    if (full == NULL)
        return nomem(err);
    rc = cf_s3_head(st, full, key, NULL, &exists, &resp, err);
    if (rc == CF_OK && !exists)
        rc = cf_error_set(err, CF_ERR_NOT_FOUND, "object \"%s\" does not exist in the repository",
                          key);
    if (rc == CF_OK) {
        memset(info, 0, sizeof(*info));
        (void)snprintf(info->key, sizeof(info->key), "%s", key);
        info->size = resp.has_length ? resp.length : 0;
        info->mtime = resp.last_modified;
        (void)snprintf(info->version_id, sizeof(info->version_id), "%s",
                       strcmp(resp.version_id, "null") == 0 ? "" : resp.version_id);
        if (resp.lock_until[0] == '\0' || !cf_s3_date_parse(resp.lock_until, &info->retain_until))
            info->retain_until = 0;
    }
    cf_s3_resp_reset(&resp);
    free(full);
    return rc;
}

/* --- listings --- */

struct list_ctx {
    struct s3_storage *st;
    size_t strip;                   /* length of "prefix/" */
    cf_storage_list_cb cb;
    cf_storage_upload_cb upload_cb;
    void *ctx;
    char last_key[S3_KEY_MAX + 1];  /* loop guard: markers must move forward */
};

static cf_err
on_entry(void *ctx, const struct s3_entry *e, struct cf_error *err)
{
    struct list_ctx *lc = ctx;
    const char *key = e->key + lc->strip;
    struct cf_storage_info *info;
    cf_err rc;

    if (strlen(e->key) <= lc->strip ||
        (lc->strip > 0 && strncmp(e->key, lc->st->prefix, lc->strip - 1) != 0) ||
        strlen(key) > CF_STORAGE_KEY_MAX)
        return CF_OK; /* not ours: outside the prefix */
    if (lc->upload_cb != NULL) {
        struct cf_storage_upload up;

        memset(&up, 0, sizeof(up));
        (void)snprintf(up.key, sizeof(up.key), "%s", key);
        (void)snprintf(up.upload_id, sizeof(up.upload_id), "%s", e->upload_id);
        up.initiated = e->mtime;
        return lc->upload_cb(lc->ctx, &up, err);
    }
    if ((info = calloc(1, sizeof(*info))) == NULL)
        return nomem(err);
    (void)snprintf(info->key, sizeof(info->key), "%s", key);
    info->size = e->size;
    info->mtime = e->mtime;
    (void)snprintf(info->version_id, sizeof(info->version_id), "%s", e->version_id);
    info->is_delete_marker = e->is_delete_marker;
    info->is_latest = e->is_latest;
    rc = lc->cb(lc->ctx, info, err);
    free(info);
    return rc;
}

/* The query of the next page of a listing of kind. */
static bool
page_query(const struct s3_storage *st, enum s3_list_kind kind, const char *full_prefix,
           const struct s3_list_page *prev, char *q, size_t size)
{
    char max[16];
    bool ok = true;

    q[0] = '\0';
    (void)snprintf(max, sizeof(max), "%u", st->max_keys);
    switch (kind) {
    case S3_LIST_OBJECTS: /* names in sorted order: the query is signed as given */
        if (prev != NULL)
            ok = cf_s3_query_add(q, size, "continuation-token", prev->next_token);
        return ok && cf_s3_query_add(q, size, "list-type", "2") &&
               cf_s3_query_add(q, size, "max-keys", max) &&
               cf_s3_query_add(q, size, "prefix", full_prefix);
    case S3_LIST_VERSIONS:
    case S3_LIST_UPLOADS:
        if (prev != NULL)
            ok = cf_s3_query_add(q, size, "key-marker", prev->next_key_marker);
        ok = ok &&
             cf_s3_query_add(q, size, kind == S3_LIST_UPLOADS ? "max-uploads" : "max-keys", max);
        ok = ok && cf_s3_query_add(q, size, "prefix", full_prefix);
        if (ok && prev != NULL && prev->next_id_marker[0] != '\0')
            ok = cf_s3_query_add(q, size,
                                 kind == S3_LIST_UPLOADS ? "upload-id-marker" : "version-id-marker",
                                 prev->next_id_marker);
        return ok && cf_s3_query_add(q, size, kind == S3_LIST_UPLOADS ? "uploads" : "versions", "");
    }
    return false;
}

static cf_err
run_listing(struct s3_storage *st, enum s3_list_kind kind, const char *prefix,
            struct list_ctx *lc, struct cf_error *err)
{
    struct s3_list_page *page = calloc(1, sizeof(*page));
    char *query = malloc(QUERY_MAX), *full = cf_s3_full_key(st, prefix);
    struct s3_resp resp = {0};
    struct s3_req req = {.method = "GET", .query = query, .max_body = S3_XML_MAX,
                         .what = "list the objects of the repository"};
    bool is_first = true;
    cf_err rc = CF_OK;

    if (page == NULL || query == NULL || full == NULL) {
        rc = nomem(err);
        goto out;
    }
    lc->strip = st->prefix != NULL ? strlen(st->prefix) + 1 : 0;
    if (strlen(full) > S3_KEY_MAX) {
        rc = too_long(err, prefix);
        goto out;
    }
    if (kind == S3_LIST_UPLOADS)
        req.what = "list the unfinished uploads of the repository";
    do {
        if (!page_query(st, kind, full, is_first ? NULL : page, query, QUERY_MAX)) {
            rc = cf_error_set(err, CF_ERR_REMOTE, "could not %s: a pagination marker is too long",
                              req.what);
            break;
        }
        if ((rc = cf_s3_request(st, &req, &resp, err)) != CF_OK)
            break;
        if ((rc = cf_s3_xml_parse_list(kind, resp.body, resp.body_len, on_entry, lc, page, err)) !=
            CF_OK) {
            cf_error_context(err, "while trying to %s", req.what);
            break;
        }
        /* a server repeating a marker would make us loop forever */
        if (page->is_truncated && kind != S3_LIST_OBJECTS && !is_first &&
            strcmp(page->next_key_marker, lc->last_key) < 0) {
            rc = cf_error_set(err, CF_ERR_REMOTE, "could not %s: the listing went backwards",
                              req.what);
            break;
        }
        (void)snprintf(lc->last_key, sizeof(lc->last_key), "%s", page->next_key_marker);
        is_first = false;
    } while (page->is_truncated);
out:
    cf_s3_resp_reset(&resp);
    free(full);
    free(query);
    free(page);
    return rc;
}

/*
 * On a versioned bucket, listings show what coffre wrote: each key once, as
 * its oldest version that is not a delete marker (ListObjectVersions returns
 * a key's versions newest first, so that is the last one seen).
 */
struct orig_ctx {
    cf_storage_list_cb cb;
    void *ctx;
    const char *only_key; /* cf_s3_original_version: that key only */
    struct cf_storage_info pending;
    bool has_pending;
};

static cf_err
orig_flush(struct orig_ctx *o, struct cf_error *err)
{
    if (!o->has_pending)
        return CF_OK;
    o->has_pending = false;
    return o->cb != NULL ? o->cb(o->ctx, &o->pending, err) : CF_OK;
}

static cf_err
orig_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct orig_ctx *o = ctx;
    cf_err rc = CF_OK;

    if (o->only_key != NULL && strcmp(info->key, o->only_key) != 0)
        return CF_OK;
    if (o->has_pending && strcmp(o->pending.key, info->key) != 0)
        rc = orig_flush(o, err);
    if (rc == CF_OK && !info->is_delete_marker) {
        o->pending = *info;
        o->has_pending = true;
    }
    return rc;
}

static cf_err
s3_list(struct cf_storage *base, const char *prefix, cf_storage_list_cb cb, void *ctx,
        struct cf_error *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    struct list_ctx lc = {.st = st, .cb = cb, .ctx = ctx};
    struct orig_ctx *o;
    cf_err rc;

    if (!(base->features & CF_STORAGE_FEAT_VERSIONS))
        return run_listing(st, S3_LIST_OBJECTS, prefix, &lc, err);
    if ((o = calloc(1, sizeof(*o))) == NULL)
        return nomem(err);
    o->cb = cb;
    o->ctx = ctx;
    lc.cb = orig_cb;
    lc.ctx = o;
    rc = run_listing(st, S3_LIST_VERSIONS, prefix, &lc, err);
    if (rc == CF_OK)
        rc = orig_flush(o, err);
    free(o);
    return rc;
}

cf_err
cf_s3_original_version(struct s3_storage *st, const char *key, char *version, size_t size,
                       struct cf_error *err)
{
    struct list_ctx lc = {.st = st, .cb = orig_cb};
    struct orig_ctx *o = calloc(1, sizeof(*o));
    cf_err rc;

    if (o == NULL)
        return nomem(err);
    o->only_key = key;
    lc.ctx = o;
    rc = run_listing(st, S3_LIST_VERSIONS, key, &lc, err);
    if (rc == CF_OK && !o->has_pending)
        rc = cf_error_set(err, CF_ERR_NOT_FOUND, "object \"%s\" does not exist in the repository",
                          key);
    if (rc == CF_OK)
        (void)snprintf(version, size, "%s", o->pending.version_id);
    free(o);
    return rc;
}

static cf_err
s3_list_versions(struct cf_storage *base, const char *prefix, cf_storage_list_cb cb, void *ctx,
                 struct cf_error *err)
{
    struct list_ctx lc = {.st = (struct s3_storage *)base, .cb = cb, .ctx = ctx};

    return run_listing(lc.st, S3_LIST_VERSIONS, prefix, &lc, err);
}

static cf_err
s3_list_uploads(struct cf_storage *base, const char *prefix, cf_storage_upload_cb cb, void *ctx,
                struct cf_error *err)
{
    struct list_ctx lc = {.st = (struct s3_storage *)base, .upload_cb = cb, .ctx = ctx};

    return run_listing(lc.st, S3_LIST_UPLOADS, prefix, &lc, err);
}

/* --- retention --- */

static bool
is_no_retention(const struct s3_resp *resp)
{
    return resp->status == 404 &&
           (strcmp(resp->code, "ObjectLockConfigurationNotFoundError") == 0 ||
            strcmp(resp->code, "NoSuchObjectLockConfiguration") == 0);
}

static cf_err
retention_query(const char *version_id, const char *repo_key, char *q, size_t size,
                struct cf_error *err)
{
    q[0] = '\0';
    if (!cf_s3_query_add(q, size, "retention", "") ||
        (version_id != NULL && version_id[0] != '\0' &&
         !cf_s3_query_add(q, size, "versionId", version_id)))
        return too_long(err, repo_key);
    return CF_OK;
}

cf_err
cf_s3_get_retention_full(struct s3_storage *st, const char *full_key, const char *repo_key,
                         const char *version_id, int64_t *retain_until, struct cf_error *err)
{
    char what[WHAT_MAX], query[CF_STORAGE_VERSION_MAX * 3 + 64], mode[32];
    struct s3_req req = {.method = "GET", .key = full_key, .repo_key = repo_key, .query = query,
                         .max_body = S3_SMALL_BODY_MAX, .what = what, .quiet_status = {404, 0}};
    struct s3_resp resp = {0};
    int64_t t = 0;
    cf_err rc;

    (void)snprintf(what, sizeof(what), "read the retention of object \"%s\"", repo_key);
    if (retention_query(version_id, repo_key, query, sizeof(query), err) != CF_OK)
        return err->code;
    rc = cf_s3_request(st, &req, &resp, err);
    if (rc == CF_OK && resp.status == 404 && !is_no_retention(&resp))
        rc = cf_s3_http_error(st, &req, &resp, 1, err);
    else if (rc == CF_OK && resp.status != 404 &&
             (rc = cf_s3_xml_parse_retention(resp.body, resp.body_len, mode, sizeof(mode), &t,
                                             err)) != CF_OK)
        cf_error_context(err, "while trying to %s", what);
    if (rc == CF_OK)
        *retain_until = t;
    cf_s3_resp_reset(&resp);
    return rc;
}

static cf_err
put_retention(struct s3_storage *st, const char *full_key, const char *repo_key,
              const char *version_id, int64_t retain_until, struct cf_error *err)
{
    char what[WHAT_MAX], query[CF_STORAGE_VERSION_MAX * 3 + 64], date[32], body[256];
    struct s3_req req = {.method = "PUT", .key = full_key, .repo_key = repo_key, .query = query,
                         .body = body, .content_type = "application/xml", .what = what};
    struct s3_resp resp = {0};
    cf_err rc;

    cf_s3_date_format(retain_until, date, sizeof(date));
    (void)snprintf(what, sizeof(what), "lock object \"%s\" until %s", repo_key, date);
    if (retention_query(version_id, repo_key, query, sizeof(query), err) != CF_OK)
        return err->code;
    req.body_len = (size_t)snprintf(body, sizeof(body),
                                    "<Retention><Mode>%s</Mode><RetainUntilDate>%s"
                                    "</RetainUntilDate></Retention>",
                                    st->governance ? "GOVERNANCE" : "COMPLIANCE", date);
    rc = cf_s3_request(st, &req, &resp, err);
    cf_s3_resp_reset(&resp);
    return rc;
}

cf_err
cf_s3_ensure_retention(struct s3_storage *st, const char *full_key, const char *repo_key,
                       const char *version_id, int64_t retain_until, struct cf_error *err)
{
    int64_t now = 0;
    char want[32], got[32];

    if (cf_s3_get_retention_full(st, full_key, repo_key, version_id, &now, err) != CF_OK)
        return err->code;
    if (now >= retain_until)
        return CF_OK;  /* never shorten: the server would refuse anyway */
    if (put_retention(st, full_key, repo_key, version_id, retain_until, err) != CF_OK ||
        cf_s3_get_retention_full(st, full_key, repo_key, version_id, &now, err) != CF_OK)
        return err->code;
    if (now >= retain_until)
        return CF_OK;
    cf_s3_date_format(retain_until, want, sizeof(want));
    cf_s3_date_format(now, got, sizeof(got));
    cf_error_setf(err, CF_ERR_REMOTE, "could not lock object \"%s\" until %s", repo_key, want);
    cf_error_detail(err, "The S3 server accepted the retention but reports %s.",
                    now != 0 ? got : "none");
    return err->code;
}

static cf_err
s3_get_retention(struct cf_storage *base, const char *key, const char *version_id,
                 int64_t *retain_until, struct cf_error *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    char *full = cf_s3_full_key(st, key);
    cf_err rc;

    if (full == NULL)
        return nomem(err);
    rc = cf_s3_get_retention_full(st, full, key, version_id, retain_until, err);
    free(full);
    return rc;
}

static cf_err
s3_extend_retention(struct cf_storage *base, const char *key, const char *version_id,
                    int64_t retain_until, struct cf_error *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    char *full = cf_s3_full_key(st, key);
    cf_err rc;

    if (full == NULL)
        return nomem(err);
    rc = cf_s3_ensure_retention(st, full, key, version_id, retain_until, err);
    free(full);
    return rc;
}

/* --- remove --- */

static cf_err
locked(struct s3_storage *st, const char *full, const char *key, const char *version_id,
       const struct s3_req *req, const struct s3_resp *resp, struct cf_error *err)
{
    struct cf_error ignored = CF_ERROR_INIT;
    int64_t until = 0;
    char date[32];

    if (cf_s3_get_retention_full(st, full, key, version_id, &until, &ignored) == CF_OK &&
        until > (int64_t)time(NULL)) {
        cf_s3_date_format(until, date, sizeof(date));
        cf_error_setf(err, CF_ERR_LOCKED, "object \"%s\" is locked until %s and cannot be deleted",
                      key, date);
    } else if (strstr(resp->message, "lock") != NULL || strstr(resp->message, "Lock") != NULL) {
        cf_error_setf(err, CF_ERR_LOCKED, "object \"%s\" is locked and cannot be deleted", key);
    } else {
        return cf_s3_http_error(st, req, resp, 1, err);
    }
    if (resp->message[0] != '\0')
        cf_s3_detail_message(err, resp->message);
    return err->code;
}

static cf_err
s3_remove(struct cf_storage *base, const char *key, const char *version_id, struct cf_error *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    char what[WHAT_MAX], query[CF_STORAGE_VERSION_MAX * 3 + 32] = "";
    char *full = cf_s3_full_key(st, key);
    struct s3_req req = {.method = "DELETE", .key = full, .repo_key = key, .what = what,
                         .quiet_status = {403, 0}};
    struct s3_resp resp = {0};
    bool has_version = version_id != NULL && version_id[0] != '\0', exists = true;
    /* after a signal, removing what the stopped run stored is its clean-up: the signal
     * must not cancel it too (it would leave the object behind) */
    bool is_cleanup = cf_cancel_requested();
    cf_err rc = CF_OK;

    if (full == NULL)
        return nomem(err);
    if (is_cleanup) {
        req.is_cleanup = true;
        req.max_attempts = 3;
    }
    (void)snprintf(what, sizeof(what), "remove object \"%s\"", key);
    if (has_version && !cf_s3_query_add(query, sizeof(query), "versionId", version_id))
        rc = too_long(err, key);
    req.query = has_version ? query : NULL;
    /* S3 answers 204 for a key that does not exist; say what posix says */
    if (rc == CF_OK && !has_version && !is_cleanup &&
        (rc = cf_s3_head(st, full, key, NULL, &exists, &resp, err)) == CF_OK && !exists)
        rc = cf_error_set(err, CF_ERR_NOT_FOUND, "object \"%s\" does not exist in the repository",
                          key);
    if (rc == CF_OK)
        rc = cf_s3_request(st, &req, &resp, err);
    if (rc == CF_OK && resp.status == 403)
        rc = strcmp(resp.code, "AccessDenied") == 0
                 ? locked(st, full, key, version_id, &req, &resp, err)
                 : cf_s3_http_error(st, &req, &resp, 1, err);
    cf_s3_resp_reset(&resp);
    free(full);
    return rc;
}

/* --- multipart uploads --- */

void
cf_s3_abort_upload_full(struct s3_storage *st, const char *full_key, const char *upload_id)
{
    struct cf_error ignored = CF_ERROR_INIT;
    char query[S3_UPLOAD_ID_MAX * 3 + 32] = "";
    struct s3_req req = {.method = "DELETE", .key = full_key, .query = query,
                         .what = "abort a multipart upload", .max_attempts = 3,
                         .is_cleanup = true};
    struct s3_resp resp = {0};

    if (cf_s3_query_add(query, sizeof(query), "uploadId", upload_id))
        (void)cf_s3_request(st, &req, &resp, &ignored);
    cf_s3_resp_reset(&resp);
}

static cf_err
s3_abort_upload(struct cf_storage *base, const struct cf_storage_upload *up,
                struct cf_error *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    char what[WHAT_MAX], query[S3_UPLOAD_ID_MAX * 3 + 32] = "";
    char *full = cf_s3_full_key(st, up->key);
    struct s3_req req = {.method = "DELETE", .key = full, .query = query, .what = what};
    struct s3_resp resp = {0};
    cf_err rc;

    if (full == NULL)
        return nomem(err);
    (void)snprintf(what, sizeof(what), "abort upload \"%.*s\" of object \"%s\"", S3_UPLOAD_ID_MAX,
                   up->upload_id, up->key); /* an S3 id is short */
    if (!cf_s3_query_add(query, sizeof(query), "uploadId", up->upload_id))
        rc = cf_error_set(err, CF_ERR_USAGE, "invalid upload id \"%s\"", up->upload_id);
    else
        rc = cf_s3_request(st, &req, &resp, err);
    cf_s3_resp_reset(&resp);
    free(full);
    return rc;
}

/* --- open --- */

static void
s3_free(struct cf_storage *base)
{
    struct s3_storage *st = (struct s3_storage *)base;

    if (st == NULL)
        return;
    if (st->easy != NULL)
        curl_easy_cleanup(st->easy);
    cf_s3_creds_free(st);
    free(st->endpoint);
    free(st->bucket);
    free(st->prefix);
    free(st->ca_file);
    free(st);
}

static const struct cf_storage_ops s3_ops = {
    "s3",
    cf_s3_open_write,
    cf_s3_open_read,
    s3_info,
    s3_list,
    s3_remove,
    s3_free,
    s3_list_versions,
    s3_get_retention,
    s3_extend_retention,
    s3_list_uploads,
    s3_abort_upload,
};

/* A positive integer from the environment (test knobs), else def. */
static unsigned
env_uint(const char *name, unsigned def, unsigned max)
{
    const char *v = getenv(name);
    char *end;
    unsigned long n;

    if (v == NULL || v[0] == '\0')
        return def;
    n = strtoul(v, &end, 10);
    return *end == '\0' && n > 0 && n <= max ? (unsigned)n : def;
}

static cf_err
check_options(const struct cf_s3_options *o, struct cf_error *err)
{
    if (o->endpoint == NULL ||
        (strncmp(o->endpoint, "http://", 7) != 0 && strncmp(o->endpoint, "https://", 8) != 0))
        return cf_error_set(err, CF_ERR_CONFIG,
                            "repository.endpoint must be an http:// or https:// URL");
    if (o->bucket == NULL || o->bucket[0] == '\0' || strpbrk(o->bucket, "/?#% ") != NULL)
        return cf_error_set(err, CF_ERR_CONFIG, "invalid bucket name \"%s\"",
                            o->bucket != NULL ? o->bucket : "");
    if (o->part_size < (size_t)5 * 1024 * 1024 || o->parts_in_flight < 1)
        return cf_error_set(err, CF_ERR_CONFIG, "repository.part_size must be at least 5 MiB "
                                                "and repository.parts_in_flight at least 1");
    if (o->region != NULL && (strlen(o->region) > 64 || strpbrk(o->region, ": ") != NULL))
        return cf_error_set(err, CF_ERR_CONFIG, "invalid region \"%s\"", o->region);
    return CF_OK;
}

/* Copy the options, trimming slashes off the endpoint and the prefix. */
static cf_err
copy_options(struct s3_storage *st, const struct cf_s3_options *o, struct cf_error *err)
{
    size_t elen = strlen(o->endpoint);
    const char *p = o->prefix != NULL ? o->prefix : "";
    size_t plen;

    while (elen > 0 && o->endpoint[elen - 1] == '/')
        elen--;
    while (*p == '/')
        p++;
    plen = strlen(p);
    while (plen > 0 && p[plen - 1] == '/')
        plen--;
    st->endpoint = strndup(o->endpoint, elen);
    st->bucket = strdup(o->bucket);
    st->prefix = plen > 0 ? strndup(p, plen) : NULL;
    st->ca_file = o->ca_file != NULL ? strdup(o->ca_file) : NULL;
    if (st->endpoint == NULL || st->bucket == NULL || (plen > 0 && st->prefix == NULL) ||
        (o->ca_file != NULL && st->ca_file == NULL))
        return nomem(err);
    st->host_style = o->host_style;
    st->governance = o->governance;
    (void)snprintf(st->sigv4, sizeof(st->sigv4), "aws:amz:%s:s3",
                   o->region != NULL && o->region[0] != '\0' ? o->region : "us-east-1");
    st->part_size = o->part_size;
    st->parts_in_flight = o->parts_in_flight;
    st->max_attempts = o->max_attempts != 0 ? o->max_attempts : 6;
    st->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
    st->low_speed_seconds = o->low_speed_seconds > 0 ? o->low_speed_seconds
                            : (long)env_uint("COFFRE_S3_LOW_SPEED_SECONDS", 30, 3600);
    st->backoff_base_ms = env_uint("COFFRE_S3_BACKOFF_MS", 100, 60000);
    st->backoff_cap_ms = st->backoff_base_ms * 50;
    st->max_keys = env_uint("COFFRE_S3_MAX_KEYS", 1000, 1000);
    return CF_OK;
}

/* GET ?<sub>= on the bucket; *status 404 is returned, not failed. */
static cf_err
bucket_get(struct s3_storage *st, const char *sub, const char *what, struct s3_resp *resp,
           struct cf_error *err)
{
    char query[32];
    struct s3_req req = {.method = "GET", .query = query, .max_body = S3_SMALL_BODY_MAX,
                         .what = what, .quiet_status = {404, 0}};

    (void)snprintf(query, sizeof(query), "%s=", sub);
    if (cf_s3_request(st, &req, resp, err) != CF_OK)
        return err->code;
    if (resp->status == 404 && strcmp(resp->code, "NoSuchBucket") == 0)
        return cf_s3_http_error(st, &req, resp, 1, err);
    return CF_OK;
}

static cf_err
check_bucket(struct s3_storage *st, bool allow_unlocked, struct cf_error *err)
{
    static const char what[] = "read the Object Lock configuration of the bucket";
    struct s3_resp resp = {0};
    bool is_locked = false, is_versioned = false;
    cf_err rc = bucket_get(st, "object-lock", what, &resp, err);

    if (rc == CF_OK && resp.status == 404 &&
        strcmp(resp.code, "ObjectLockConfigurationNotFoundError") != 0) {
        struct s3_req req = {.method = "GET", .what = what};

        rc = cf_s3_http_error(st, &req, &resp, 1, err); /* not an S3 server's answer */
    } else if (rc == CF_OK && resp.status != 404 &&
               (rc = cf_s3_xml_parse_lock_config(resp.body, resp.body_len, &is_locked, err)) !=
                   CF_OK)
        cf_error_context(err, "while trying to %s", what);
    if (rc == CF_OK && !is_locked && !allow_unlocked) {
        cf_error_setf(err, CF_ERR_CONFIG, "bucket \"%s\" does not have Object Lock enabled",
                      st->bucket);
        cf_error_hint(err, "Create the bucket with Object Lock enabled, or set "
                           "repository.allow_unlocked_bucket = true (every backup can then be "
                           "deleted by anyone holding the S3 credentials).");
        rc = err->code;
    }
    if (rc == CF_OK && !is_locked) {
        cf_log_warning("bucket \"%s\" does not have Object Lock enabled: backups can be deleted "
                       "by anyone holding the S3 credentials", st->bucket);
        rc = bucket_get(st, "versioning", "read the versioning state of the bucket", &resp, err);
        if (rc == CF_OK && resp.status == 200 && resp.body_len > 0)
            rc = cf_s3_xml_parse_versioning(resp.body, resp.body_len, &is_versioned, err);
    }
    if (rc == CF_OK)
        st->base.features = (is_locked ? CF_STORAGE_FEAT_OBJECT_LOCK : 0) |
                            (is_locked || is_versioned ? CF_STORAGE_FEAT_VERSIONS : 0);
    cf_s3_resp_reset(&resp);
    return rc;
}

cf_err
cf_storage_s3_new(const struct cf_s3_options *opts, struct cf_storage **out, struct cf_error *err)
{
    struct s3_storage *st = NULL;
    cf_err rc;

    if ((rc = check_options(opts, err)) != CF_OK)
        return rc;
    if (sodium_init() < 0)
        return cf_error_set(err, CF_ERR_INTERNAL, "could not initialise libsodium");
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return nomem(err);
    st->base.ops = &s3_ops;
    if ((rc = copy_options(st, opts, err)) != CF_OK ||
        (rc = cf_s3_creds_load(st, opts, err)) != CF_OK)
        goto out;
    if ((st->easy = curl_easy_init()) == NULL) {
        rc = cf_error_set(err, CF_ERR_INTERNAL, "could not initialise libcurl");
        goto out;
    }
    if ((rc = check_bucket(st, opts->allow_unlocked, err)) != CF_OK)
        goto out;
    *out = &st->base;
    st = NULL; /* transferred */
out:
    s3_free(st != NULL ? &st->base : NULL);
    return rc;
}
