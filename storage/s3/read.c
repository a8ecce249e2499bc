/*
 * read.c - the S3 GET source.
 *
 * One GET streams through a bounded buffer: libcurl's write callback copies
 * into it and pauses the transfer (CURL_WRITEFUNC_PAUSE) when it is full;
 * read() drains it and resumes the transfer.  The transfer runs on a curl
 * multi handle so read() can drive it a little at a time.
 *
 * On a versioned bucket the GET is pinned from the start to the key's oldest
 * version (cf_s3_original_version): coffre writes every key once, so a newer
 * version is an overwrite by someone else and is never read.
 *
 * When the connection drops, the GET resumes with "Range: bytes=N-" pinned
 * to the version the first response named (x-amz-version-id), or with
 * If-Match on its ETag on an unversioned bucket, so a resumed read never
 * mixes two versions.  max_attempts counts consecutive failures without
 * progress.  The object is checked complete against the first response's
 * Content-Length.
 */
#include "storage/s3/s3_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cancel.h"

#define READ_BUFFER ((size_t)1024 * 1024)

struct s3_read {
    struct cf_source base;
    struct s3_storage *st;        /* borrowed */
    char key[CF_STORAGE_KEY_MAX + 1];
    char *full_key;
    CURLM *multi;
    CURL *easy;
    bool is_in_multi;
    bool is_paused;
    bool is_done;                 /* the whole object has been received */
    bool is_started;              /* the first response was seen */
    bool is_bad_range;            /* a resumed response did not start where asked */
    struct s3_xfer x;
    struct s3_req req;
    char query[CF_STORAGE_VERSION_MAX * 3 + 32];
    char range[64];
    char if_match[S3_ETAG_MAX + 16];
    char what[CF_STORAGE_KEY_MAX + 32];
    unsigned char *buf;
    size_t head, len;             /* unread bytes: buf[head .. head + len) */
    uint64_t received;            /* bytes of the object received so far */
    uint64_t received_at_start;   /* at the start of the current attempt */
    bool has_total;
    uint64_t total;
    char version_id[CF_STORAGE_VERSION_MAX + 1];
    char etag[S3_ETAG_MAX + 1];
    unsigned failures;            /* consecutive attempts without progress */
};

/* Check the first bytes of a response: the object, or the asked range. */
static bool
check_response(struct s3_read *r)
{
    const struct s3_resp *resp = &r->x.resp;
    long status = 0;
    unsigned long long start;
    char *end;

    (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (!r->is_started) {
        if (status != 200)
            return false;
        r->is_started = true;
        r->has_total = resp->has_length;
        r->total = resp->length;
        (void)snprintf(r->version_id, sizeof(r->version_id), "%s",
                       strcmp(resp->version_id, "null") == 0 ? "" : resp->version_id);
        (void)snprintf(r->etag, sizeof(r->etag), "%s", resp->etag);
        return true;
    }
    if (r->received_at_start == 0)
        return status == 200;
    if (status != 206 || strncmp(resp->content_range, "bytes ", 6) != 0)
        return false;
    errno = 0;
    start = strtoull(resp->content_range + 6, &end, 10);
    return errno == 0 && end != resp->content_range + 6 && *end == '-' && start == r->received;
}

static size_t
on_data(void *ctx, const char *data, size_t len)
{
    struct s3_read *r = ctx;

    if (r->received == r->received_at_start && !r->is_paused && !check_response(r)) {
        r->is_bad_range = true;
        return 0;
    }
    if (r->head > 0 && r->head + r->len + len > READ_BUFFER) {
        memmove(r->buf, r->buf + r->head, r->len);
        r->head = 0;
    }
    if (r->head + r->len + len > READ_BUFFER) {
        r->is_paused = true;
        return CURL_WRITEFUNC_PAUSE; /* delivered again after curl_easy_pause(CONT) */
    }
    memcpy(r->buf + r->head + r->len, data, len);
    r->len += len;
    r->received += len;
    r->is_paused = false;
    return len;
}

static cf_err
start(struct s3_read *r, struct cf_error *err)
{
    CURLMcode mc;
    unsigned h = 0;

    memset(&r->req, 0, sizeof(r->req));
    r->req.method = "GET";
    r->req.key = r->full_key;
    r->req.repo_key = r->key;
    r->req.what = r->what;
    r->req.on_data = on_data;
    r->req.on_data_ctx = r;
    r->query[0] = '\0';
    if (r->received > 0 || r->is_started || r->version_id[0] != '\0') {
        if (r->version_id[0] != '\0') {
            (void)cf_s3_query_add(r->query, sizeof(r->query), "versionId", r->version_id);
            r->req.query = r->query;
        } else if (r->etag[0] != '\0') {
            (void)snprintf(r->if_match, sizeof(r->if_match), "If-Match: %s", r->etag);
            r->req.headers[h++] = r->if_match;
        }
    }
    if (r->received > 0) {
        (void)snprintf(r->range, sizeof(r->range), "Range: bytes=%" PRIu64 "-", r->received);
        r->req.headers[h++] = r->range;
    }
    r->received_at_start = r->received;
    r->is_paused = false;
    if (cf_s3_xfer_prepare(r->st, &r->x, r->easy, &r->req, err) != CF_OK)
        return err->code;
    if ((mc = curl_multi_add_handle(r->multi, r->easy)) != CURLM_OK)
        return cf_error_set(err, CF_ERR_INTERNAL, "could not %s: %s", r->what,
                            curl_multi_strerror(mc));
    r->is_in_multi = true;
    return CF_OK;
}

/* The transfer ended with result: done, retry later, or fail. */
static cf_err
finished(struct s3_read *r, CURLcode result, struct cf_error *err)
{
    CURLcode cc;
    enum s3_outcome o;

    (void)curl_multi_remove_handle(r->multi, r->easy);
    r->is_in_multi = false;
    if (r->is_bad_range)
        return cf_error_set(err, CF_ERR_REMOTE, "could not %s: the server did not resume at "
                                                "byte %" PRIu64, r->what, r->received);
    o = cf_s3_xfer_finish(&r->x, result, &cc);
    if (o == S3_OK && r->has_total && r->received != r->total)
        o = S3_RETRY, cc = CURLE_PARTIAL_FILE;
    if (o == S3_OK) {
        r->is_done = true;
        return CF_OK;
    }
    if (r->received > r->received_at_start)
        r->failures = 0;
    r->failures++;
    if (o != S3_RETRY || r->failures >= r->st->max_attempts)
        return cf_s3_xfer_error(r->st, &r->x, cc, r->failures, err);
    return cf_s3_sleep_ms(cf_s3_backoff_ms(r->st, r->failures), err);
}

/* Drive the transfer until there are bytes to read or the object ended. */
static cf_err
fill(struct s3_read *r, struct cf_error *err)
{
    while (r->len == 0 && !r->is_done) {
        int running = 0, left = 0;
        CURLMsg *msg;
        CURLMcode mc;

        if (!r->is_in_multi && start(r, err) != CF_OK)
            return err->code;
        if ((mc = curl_multi_perform(r->multi, &running)) != CURLM_OK)
            return cf_error_set(err, CF_ERR_INTERNAL, "could not %s: %s", r->what,
                                curl_multi_strerror(mc));
        while ((msg = curl_multi_info_read(r->multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE && finished(r, msg->data.result, err) != CF_OK)
                return err->code;
        if (cf_cancel_check(err) != CF_OK)
            return err->code;
        if (r->len == 0 && r->is_in_multi &&
            (mc = curl_multi_poll(r->multi, NULL, 0, 1000, NULL)) != CURLM_OK)
            return cf_error_set(err, CF_ERR_INTERNAL, "could not %s: %s", r->what,
                                curl_multi_strerror(mc));
    }
    return CF_OK;
}

static cf_err
sr_read(struct cf_source *src, void *buf, size_t cap, size_t *n, struct cf_error *err)
{
    struct s3_read *r = (struct s3_read *)src;
    size_t take;

    if (fill(r, err) != CF_OK)
        return err->code;
    take = r->len < cap ? r->len : cap;
    if (take > 0)
        memcpy(buf, r->buf + r->head, take);
    r->head += take;
    r->len -= take;
    if (r->len == 0)
        r->head = 0;
    if (r->is_paused && r->is_in_multi) {
        /* may call on_data again right away, which may pause again */
        r->is_paused = false;
        (void)curl_easy_pause(r->easy, CURLPAUSE_CONT);
    }
    *n = take;
    return CF_OK;
}

static void
sr_free(struct cf_source *src)
{
    struct s3_read *r = (struct s3_read *)src;

    if (r == NULL)
        return;
    if (r->is_in_multi)
        (void)curl_multi_remove_handle(r->multi, r->easy);
    cf_s3_xfer_release(&r->x);
    if (r->easy != NULL)
        curl_easy_cleanup(r->easy);
    if (r->multi != NULL)
        (void)curl_multi_cleanup(r->multi);
    free(r->buf);
    free(r->full_key);
    free(r);
}

static const struct cf_source_ops sr_ops = {"s3-read", sr_read, sr_free};

cf_err
cf_s3_open_read(struct cf_storage *base, const char *key, struct cf_source **out,
                struct cf_error *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    struct s3_read *r = calloc(1, sizeof(*r));
    cf_err rc;

    if (r == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    r->base.ops = &sr_ops;
    r->st = st;
    (void)snprintf(r->key, sizeof(r->key), "%s", key);
    (void)snprintf(r->what, sizeof(r->what), "read object \"%s\"", key);
    r->full_key = cf_s3_full_key(st, key);
    r->buf = malloc(READ_BUFFER);
    r->multi = curl_multi_init();
    r->easy = curl_easy_init();
    if (r->full_key == NULL || r->buf == NULL || r->multi == NULL || r->easy == NULL) {
        sr_free(&r->base);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    /* on a versioned bucket, read the version coffre wrote: the oldest */
    if ((st->base.features & CF_STORAGE_FEAT_VERSIONS) &&
        (rc = cf_s3_original_version(st, key, r->version_id, sizeof(r->version_id), err)) !=
            CF_OK) {
        sr_free(&r->base);
        return rc;
    }
    /* fail here, as posix does, when the object does not exist */
    if ((rc = fill(r, err)) != CF_OK) {
        sr_free(&r->base);
        return rc;
    }
    *out = &r->base;
    return CF_OK;
}
