/*
 * write.c - the S3 terminal sink.
 *
 * Bytes are copied into part buffers of part_size.  An object that fits in
 * one buffer is one PutObject at close().  A larger one becomes a multipart
 * upload as soon as the first buffer is full and more data arrives: each
 * full buffer is handed to a curl multi handle as UploadPart, with at most
 * parts_in_flight parts uploading while the next buffer fills, so memory is
 * part_size x (parts_in_flight + 1) whatever the object size.  write() only
 * blocks when every buffer is in flight.  close() uploads the last part,
 * waits for all, completes the upload, learns the version, and (Object
 * Lock) makes sure the version is locked until retain_until, reading the
 * date back: Ceph Pacific ignores the lock headers of multipart uploads.
 *
 * Failures: a part is retried on its own (backoff, same buffer); anything
 * else fails the sink, and abort() aborts the multipart upload, or deletes
 * the version written by a close() that failed afterwards (best effort: a
 * version that did get locked stays, and no manifest will name it).
 *
 * Write-once: open_write HEADs the key and refuses an existing object
 * (CF_ERR_EXISTS).  Two writers racing on the same key are not detected
 * (S3 has no create-if-absent that Ceph Pacific honours); on a versioned
 * bucket both versions are kept, so nothing is lost.
 */
#include "storage/s3/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cancel.h"

#define WHAT_MAX (CF_STORAGE_KEY_MAX + 96)

struct part_slot {
    unsigned char *buf;      /* part_size bytes, allocated on first use */
    size_t len;
    bool is_busy;            /* uploading or waiting for a retry */
    bool is_in_multi;
    unsigned number;         /* part number, 1-based */
    unsigned attempts;
    int64_t retry_at_ms;     /* 0: not waiting */
    CURL *easy;
    struct s3_xfer x;
    struct s3_req req;
    char query[S3_UPLOAD_ID_MAX * 3 + 64];
    char what[WHAT_MAX];
};

struct s3_write {
    struct cf_sink base;
    struct s3_storage *st;                  /* borrowed */
    char key[CF_STORAGE_KEY_MAX + 1];
    char *full_key;
    int64_t retain_until;                   /* 0 or a lock date (lock enabled) */
    char lock_mode[64], lock_date[96];      /* the lock headers */
    unsigned nslots;
    struct part_slot *slots;
    struct part_slot *cur;                  /* being filled, or NULL */
    unsigned busy;
    CURLM *multi;
    char upload_id[S3_UPLOAD_ID_MAX + 1];   /* "" until the upload is created */
    unsigned parts;                          /* parts handed out */
    char (*etags)[S3_ETAG_MAX + 1];         /* by part number - 1 */
    unsigned etags_cap;
    char version_id[CF_STORAGE_VERSION_MAX + 1];
    bool is_stored;                         /* the object exists: abort must delete it */
};

static int64_t
now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cf_err
nomem(struct cf_error *err)
{
    return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
}

/* --- parts in flight --- */

static cf_err
start_part(struct s3_write *w, struct part_slot *s, struct cf_error *err)
{
    CURLMcode mc;

    s->attempts++;
    s->retry_at_ms = 0;
    if (cf_s3_xfer_prepare(w->st, &s->x, s->easy, &s->req, err) != CF_OK)
        return err->code;
    if ((mc = curl_multi_add_handle(w->multi, s->easy)) != CURLM_OK)
        return cf_error_set(err, CF_ERR_INTERNAL, "could not %s: %s", s->what,
                            curl_multi_strerror(mc));
    s->is_in_multi = true;
    return CF_OK;
}

static bool
is_valid_etag(const char *etag)
{
    return etag[0] != '\0' && strpbrk(etag, "<>&") == NULL;
}

/* One finished transfer: record its ETag, schedule a retry, or fail. */
static cf_err
finish_part(struct s3_write *w, struct part_slot *s, CURLcode result, struct cf_error *err)
{
    CURLcode cc;
    enum s3_outcome o;

    (void)curl_multi_remove_handle(w->multi, s->easy);
    s->is_in_multi = false;
    o = cf_s3_xfer_finish(&s->x, result, &cc);
    if (o == S3_RETRY && s->attempts < w->st->max_attempts) {
        s->retry_at_ms = now_ms() + cf_s3_backoff_ms(w->st, s->attempts);
        return CF_OK;
    }
    if (o != S3_OK)
        return cf_s3_xfer_error(w->st, &s->x, cc, s->attempts, err);
    if (!is_valid_etag(s->x.resp.etag))
        return cf_error_set(err, CF_ERR_REMOTE, "could not %s: the response has no valid ETag",
                            s->what);
    memcpy(w->etags[s->number - 1], s->x.resp.etag, sizeof(w->etags[0]));
    cf_s3_xfer_release(&s->x);
    s->is_busy = false;
    s->len = 0;
    w->busy--;
    return CF_OK;
}

/* Run transfers until something finishes or a retry falls due (at most 1 s). */
static cf_err
drive(struct s3_write *w, struct cf_error *err)
{
    int running = 0, left = 0, timeout = 1000;
    int64_t now = now_ms();
    CURLMsg *msg;
    CURLMcode mc;

    for (unsigned i = 0; i < w->nslots; i++) {
        struct part_slot *s = &w->slots[i];

        if (s->is_busy && !s->is_in_multi && s->retry_at_ms <= now &&
            start_part(w, s, err) != CF_OK)
            return err->code;
        if (s->is_busy && !s->is_in_multi && s->retry_at_ms - now < timeout)
            timeout = (int)(s->retry_at_ms - now);
    }
    if ((mc = curl_multi_perform(w->multi, &running)) != CURLM_OK)
        return cf_error_set(err, CF_ERR_INTERNAL, "could not upload object \"%s\": %s", w->key,
                            curl_multi_strerror(mc));
    while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (unsigned i = 0; i < w->nslots; i++)
            if (w->slots[i].is_in_multi && w->slots[i].easy == msg->easy_handle &&
                finish_part(w, &w->slots[i], msg->data.result, err) != CF_OK)
                return err->code;
        timeout = 0; /* something finished: let the caller look */
    }
    if (cf_cancel_check(err) != CF_OK)
        return err->code;
    if (timeout > 0 && (mc = curl_multi_poll(w->multi, NULL, 0, timeout, NULL)) != CURLM_OK)
        return cf_error_set(err, CF_ERR_INTERNAL, "could not upload object \"%s\": %s", w->key,
                            curl_multi_strerror(mc));
    return CF_OK;
}

static cf_err
create_upload(struct s3_write *w, struct cf_error *err)
{
    char what[WHAT_MAX];
    struct s3_req req = {.method = "POST", .key = w->full_key, .repo_key = w->key,
                         .query = "uploads=", .max_body = S3_SMALL_BODY_MAX, .what = what};
    struct s3_resp resp = {0};
    cf_err rc;

    (void)snprintf(what, sizeof(what), "start a multipart upload of object \"%s\"", w->key);
    if (w->retain_until != 0) {
        req.headers[0] = w->lock_mode;
        req.headers[1] = w->lock_date;
    }
    rc = cf_s3_request(w->st, &req, &resp, err);
    if (rc == CF_OK && (rc = cf_s3_xml_parse_upload_id(resp.body, resp.body_len, w->upload_id,
                                                       sizeof(w->upload_id), err)) != CF_OK)
        cf_error_context(err, "while trying to %s", what);
    cf_s3_resp_reset(&resp);
    return rc;
}

/* Hand the full (or last) buffer s to the multi handle as the next part. */
static cf_err
submit(struct s3_write *w, struct part_slot *s, struct cf_error *err)
{
    if (w->upload_id[0] == '\0' && create_upload(w, err) != CF_OK)
        return err->code;
    if (w->parts >= S3_MAX_PARTS) {
        cf_error_setf(err, CF_ERR_USAGE, "object \"%s\" is larger than %u parts of %zu bytes",
                      w->key, S3_MAX_PARTS, w->st->part_size);
        cf_error_hint(err, "Increase repository.part_size.");
        return err->code;
    }
    if (w->parts >= w->etags_cap) {
        unsigned cap = w->etags_cap ? w->etags_cap * 2 : 64;
        void *p;

        if (cap > S3_MAX_PARTS)
            cap = S3_MAX_PARTS;
        if ((p = realloc(w->etags, cap * sizeof(*w->etags))) == NULL)
            return nomem(err);
        w->etags = p;
        w->etags_cap = cap;
    }
    while (w->busy >= w->st->parts_in_flight)
        if (drive(w, err) != CF_OK)
            return err->code;
    s->number = ++w->parts;
    s->attempts = 0;
    s->is_busy = true;
    w->busy++;
    (void)snprintf(s->what, sizeof(s->what), "upload part %u of object \"%s\"", s->number,
                   w->key);
    (void)snprintf(s->query, sizeof(s->query), "partNumber=%u&uploadId=", s->number);
    if (!cf_s3_uri_encode(w->upload_id, false, s->query + strlen(s->query),
                          sizeof(s->query) - strlen(s->query)))
        return cf_error_set(err, CF_ERR_REMOTE, "could not %s: the upload id is too long",
                            s->what);
    memset(&s->req, 0, sizeof(s->req));
    s->req.method = "PUT";
    s->req.key = w->full_key;
    s->req.repo_key = w->key;
    s->req.query = s->query;
    s->req.body = s->buf;
    s->req.body_len = s->len;
    s->req.what = s->what;
    return start_part(w, s, err);
}

/* A buffer that is not busy, allocating it on first use. */
static cf_err
free_slot(struct s3_write *w, struct part_slot **out, struct cf_error *err)
{
    for (;;) {
        for (unsigned i = 0; i < w->nslots; i++) {
            struct part_slot *s = &w->slots[i];

            if (s->is_busy)
                continue;
            if (s->buf == NULL && (s->buf = malloc(w->st->part_size)) == NULL)
                return nomem(err);
            if (s->easy == NULL && (s->easy = curl_easy_init()) == NULL)
                return cf_error_set(err, CF_ERR_INTERNAL, "could not initialise libcurl");
            s->len = 0;
            *out = s;
            return CF_OK;
        }
        if (drive(w, err) != CF_OK)
            return err->code;
    }
}

static cf_err
sw_write(struct cf_sink *sink, const void *data, size_t len, struct cf_error *err)
{
    struct s3_write *w = (struct s3_write *)sink;
    const unsigned char *p = data;

    if (w->cur == NULL) /* an earlier write failed; the owner must abort */
        return cf_error_set(err, CF_ERR_INTERNAL, "write to a failed S3 upload of object \"%s\"",
                            w->key);
    while (len > 0) {
        size_t n;

        if (w->cur->len == w->st->part_size) { /* full, and more is coming */
            if (submit(w, w->cur, err) != CF_OK)
                return err->code;
            w->cur = NULL;
            if (free_slot(w, &w->cur, err) != CF_OK)
                return err->code;
        }
        n = w->st->part_size - w->cur->len;
        if (n > len)
            n = len;
        memcpy(w->cur->buf + w->cur->len, p, n);
        w->cur->len += n;
        p += n;
        len -= n;
    }
    return CF_OK;
}

/* --- close --- */

static cf_err
put_single(struct s3_write *w, struct cf_error *err)
{
    char what[WHAT_MAX];
    struct s3_req req = {.method = "PUT", .key = w->full_key, .repo_key = w->key,
                         .body = w->cur->buf, .body_len = w->cur->len, .what = what};
    struct s3_resp resp = {0};
    cf_err rc;

    (void)snprintf(what, sizeof(what), "write object \"%s\"", w->key);
    if (w->retain_until != 0) {
        req.headers[0] = w->lock_mode;
        req.headers[1] = w->lock_date;
    }
    rc = cf_s3_request(w->st, &req, &resp, err);
    if (rc == CF_OK) {
        w->is_stored = true;
        (void)snprintf(w->version_id, sizeof(w->version_id), "%s", resp.version_id);
    }
    cf_s3_resp_reset(&resp);
    return rc;
}

static char *
complete_body(struct s3_write *w, size_t *len)
{
    size_t size = (size_t)w->parts * (S3_ETAG_MAX + 64) + 128, used;
    char *b = malloc(size);

    if (b == NULL)
        return NULL;
    used = (size_t)snprintf(b, size, "<CompleteMultipartUpload>");
    for (unsigned i = 0; i < w->parts; i++)
        used += (size_t)snprintf(b + used, size - used,
                                 "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>", i + 1,
                                 w->etags[i]);
    used += (size_t)snprintf(b + used, size - used, "</CompleteMultipartUpload>");
    *len = used;
    return b;
}

static cf_err
complete(struct s3_write *w, struct cf_error *err)
{
    char what[WHAT_MAX], query[S3_UPLOAD_ID_MAX * 3 + 32] = "", etag[S3_ETAG_MAX + 1];
    char code[64], message[256];
    struct s3_req req = {.method = "POST", .key = w->full_key, .repo_key = w->key,
                         .query = query, .content_type = "application/xml",
                         .max_body = S3_SMALL_BODY_MAX, .what = what};
    struct s3_resp resp = {0};
    bool exists = false;
    cf_err rc;

    (void)snprintf(what, sizeof(what), "complete the multipart upload of object \"%s\"", w->key);
    if ((req.body = complete_body(w, &req.body_len)) == NULL)
        return nomem(err);
    (void)cf_s3_query_add(query, sizeof(query), "uploadId", w->upload_id);
    rc = cf_s3_request(w->st, &req, &resp, err);
    if (rc == CF_OK &&
        (rc = cf_s3_xml_parse_complete(resp.body, resp.body_len, etag, sizeof(etag), code,
                                       sizeof(code), message, sizeof(message), err)) == CF_OK &&
        code[0] != '\0') {
        rc = cf_error_set(err, CF_ERR_REMOTE, "could not %s: %s", what, code);
        if (message[0] != '\0')
            cf_s3_detail_message(err, message);
    }
    if (rc == CF_OK) {
        w->is_stored = true;
        w->upload_id[0] = '\0'; /* nothing left to abort */
        (void)snprintf(w->version_id, sizeof(w->version_id), "%s", resp.version_id);
    }
    /* Ceph Pacific: empty ETag and no version header; ask (racy against a
     * concurrent writer of the same key, see the top of the file) */
    if (rc == CF_OK && (etag[0] == '\0' || w->version_id[0] == '\0') &&
        (rc = cf_s3_head(w->st, w->full_key, w->key, NULL, &exists, &resp, err)) == CF_OK) {
        if (!exists)
            rc = cf_error_set(err, CF_ERR_REMOTE, "could not %s: the object is not there "
                                                  "afterwards", what);
        else
            (void)snprintf(w->version_id, sizeof(w->version_id), "%s", resp.version_id);
    }
    free((void *)req.body);
    cf_s3_resp_reset(&resp);
    return rc;
}

static cf_err
sw_close(struct cf_sink *sink, struct cf_error *err)
{
    struct s3_write *w = (struct s3_write *)sink;
    const char *version;

    if (w->upload_id[0] == '\0' && w->parts == 0) {
        if (w->cur == NULL) /* cannot happen: a failed write is aborted, not closed */
            return cf_error_set(err, CF_ERR_INTERNAL, "close of a failed S3 write");
        if (put_single(w, err) != CF_OK)
            return err->code;
    } else {
        if (w->cur != NULL && w->cur->len > 0 && submit(w, w->cur, err) != CF_OK)
            return err->code;
        w->cur = NULL;
        while (w->busy > 0)
            if (drive(w, err) != CF_OK)
                return err->code;
        if (complete(w, err) != CF_OK)
            return err->code;
    }
    if (w->retain_until == 0) {
        w->is_stored = false; /* committed */
        return CF_OK;
    }
    version = strcmp(w->version_id, "null") == 0 ? NULL : w->version_id;
    if (cf_s3_ensure_retention(w->st, w->full_key, w->key, version, w->retain_until, err) !=
        CF_OK) {
        cf_error_context(err, "while trying to write object \"%s\"", w->key);
        return err->code;
    }
    w->is_stored = false; /* committed */
    return CF_OK;
}

/* --- abort, free, open --- */

static void
sw_abort(struct cf_sink *sink)
{
    struct s3_write *w = (struct s3_write *)sink;

    for (unsigned i = 0; i < w->nslots; i++) {
        struct part_slot *s = &w->slots[i];

        if (s->is_in_multi)
            (void)curl_multi_remove_handle(w->multi, s->easy);
        s->is_in_multi = s->is_busy = false;
        cf_s3_xfer_release(&s->x);
    }
    w->busy = 0;
    if (w->upload_id[0] != '\0')
        cf_s3_abort_upload_full(w->st, w->full_key, w->upload_id);
    w->upload_id[0] = '\0';
    if (w->is_stored) { /* close() failed after the object was created */
        struct cf_error ignored = CF_ERROR_INIT;
        char query[CF_STORAGE_VERSION_MAX * 3 + 32] = "";
        struct s3_req req = {.method = "DELETE", .key = w->full_key, .what = "remove an object",
                             .max_attempts = 3, .is_cleanup = true};
        struct s3_resp resp = {0};

        if (w->version_id[0] != '\0' &&
            cf_s3_query_add(query, sizeof(query), "versionId", w->version_id))
            req.query = query;
        (void)cf_s3_request(w->st, &req, &resp, &ignored); /* refused if it got locked */
        cf_s3_resp_reset(&resp);
        w->is_stored = false;
    }
}

static void
sw_free(struct cf_sink *sink)
{
    struct s3_write *w = (struct s3_write *)sink;

    for (unsigned i = 0; w->slots != NULL && i < w->nslots; i++) {
        struct part_slot *s = &w->slots[i];

        if (s->is_in_multi)
            (void)curl_multi_remove_handle(w->multi, s->easy);
        cf_s3_xfer_release(&s->x);
        if (s->easy != NULL)
            curl_easy_cleanup(s->easy);
        free(s->buf);
    }
    if (w->multi != NULL)
        (void)curl_multi_cleanup(w->multi);
    free(w->slots);
    free(w->etags);
    free(w->full_key);
    free(w);
}

static const struct cf_sink_ops sw_ops = {
    "s3-write", CF_STAGE_TERMINAL, sw_write, sw_close, sw_abort, sw_free,
};

cf_err
cf_s3_open_write(struct cf_storage *base, const char *key, const struct cf_write_opts *opts,
                 struct cf_sink **out, struct cf_error *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    struct s3_write *w = calloc(1, sizeof(*w));
    struct s3_resp resp = {0};
    bool exists = true;
    cf_err rc = CF_OK;

    if (w == NULL)
        return nomem(err);
    w->base.ops = &sw_ops;
    w->st = st;
    (void)snprintf(w->key, sizeof(w->key), "%s", key);
    w->nslots = st->parts_in_flight + 1;
    w->full_key = cf_s3_full_key(st, key);
    w->slots = calloc(w->nslots, sizeof(*w->slots));
    w->multi = curl_multi_init();
    if (w->full_key == NULL || w->slots == NULL || w->multi == NULL) {
        rc = nomem(err);
        goto out;
    }
    if (strlen(w->full_key) > S3_KEY_MAX) {
        rc = cf_error_set(err, CF_ERR_USAGE, "object key \"%s\" is too long for S3", key);
        goto out;
    }
    /* no lock on a bucket without Object Lock: the caller warns, as with posix */
    if (opts->retain_until != 0 && (st->base.features & CF_STORAGE_FEAT_OBJECT_LOCK)) {
        char date[32];

        w->retain_until = opts->retain_until;
        cf_s3_date_format(opts->retain_until, date, sizeof(date));
        (void)snprintf(w->lock_mode, sizeof(w->lock_mode), "x-amz-object-lock-mode: %s",
                       st->governance ? "GOVERNANCE" : "COMPLIANCE");
        (void)snprintf(w->lock_date, sizeof(w->lock_date),
                       "x-amz-object-lock-retain-until-date: %s", date);
    }
    if ((rc = cf_s3_head(st, w->full_key, key, NULL, &exists, &resp, err)) != CF_OK)
        goto out;
    if (exists) {
        rc = cf_error_set(err, CF_ERR_EXISTS, "object \"%s\" already exists in the repository",
                          key);
        goto out;
    }
    if ((rc = free_slot(w, &w->cur, err)) != CF_OK)
        goto out;
    *out = &w->base;
    w = NULL; /* transferred */
out:
    cf_s3_resp_reset(&resp);
    if (w != NULL)
        sw_free(&w->base);
    return rc;
}
