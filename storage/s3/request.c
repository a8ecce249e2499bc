/*
 * request.c - one S3 request: URL, headers, SigV4 (libcurl's
 * CURLOPT_AWS_SIGV4), bounded response capture, and the one place where
 * failures are classified and retried.
 *
 * Signing: every header we pass is signed.  libcurl 7.88 does not add
 * x-amz-content-sha256 itself and signs whatever value we give, so every
 * request carries the hex SHA-256 of its body (bodies are always in
 * memory): payloads are signed.  Bodies also carry Content-MD5, which S3
 * requires on Object Lock requests and which makes the server refuse a part
 * damaged in transit (400 BadDigest).  The query string is signed as given:
 * callers pass it sorted, with "name=" for valueless names.
 *
 * Retried, with capped exponential backoff and full jitter: HTTP 500, 502,
 * 503, 504, 429; S3 codes SlowDown, InternalError, RequestTimeout; curl's
 * timeouts, refused connections, send/receive errors and empty or short
 * replies.  Nothing else is: a 4xx means the request itself is wrong.
 * Callbacks never longjmp: they record and return an abort code.
 */
#include "storage/s3/s3_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/backoff.h"
#include "common/cancel.h"
#include "common/log.h"

static const char hint_credentials[] =
    "Check the S3 credentials: the files named by repository.access_key_file and "
    "repository.secret_key_file, else $CREDENTIALS_DIRECTORY/coffre-s3-access-key and "
    "coffre-s3-secret-key, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.";

char *
cf_s3_full_key(const struct s3_storage *st, const char *key)
{
    size_t size = (st->prefix != NULL ? strlen(st->prefix) + 1 : 0) + strlen(key) + 1;
    char *p = malloc(size);

    if (p != NULL)
        (void)snprintf(p, size, "%s%s%s", st->prefix != NULL ? st->prefix : "",
                       st->prefix != NULL ? "/" : "", key);
    return p;
}

char *
cf_s3_url(const struct s3_storage *st, const char *key, const char *query)
{
    size_t klen = key != NULL ? strlen(key) * 3 + 1 : 1;
    size_t size = strlen(st->endpoint) + strlen(st->bucket) + klen + 8 +
                  (query != NULL ? strlen(query) : 0);
    char *enc = malloc(klen), *url = malloc(size);
    const char *host = strstr(st->endpoint, "://");

    if (enc == NULL || url == NULL || host == NULL ||
        !cf_s3_uri_encode(key != NULL ? key : "", true, enc, klen)) {
        free(enc);
        free(url);
        return NULL;
    }
    host += 3;
    if (st->host_style)
        (void)snprintf(url, size, "%.*s%s.%s/%s%s%s", (int)(host - st->endpoint), st->endpoint,
                       st->bucket, host, enc, query != NULL ? "?" : "",
                       query != NULL ? query : "");
    else
        (void)snprintf(url, size, "%s/%s/%s%s%s", st->endpoint, st->bucket, enc,
                       query != NULL ? "?" : "", query != NULL ? query : "");
    free(enc);
    return url;
}

int
cf_s3_progress_cb(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                  curl_off_t ulnow)
{
    (void)ctx, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return cf_cancel_requested() ? 1 : 0;
}

void
cf_s3_resp_reset(struct s3_resp *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

static bool
is_success(long status)
{
    return status >= 200 && status < 300;
}

/* The limit on the body kept for the current response. */
static size_t
body_limit(struct s3_xfer *x)
{
    long status = 0;

    (void)curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    return is_success(status) ? x->req->max_body : S3_ERROR_BODY_MAX;
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct s3_xfer *x = ctx;
    struct s3_resp *r = &x->resp;
    size_t len = size * nmemb, limit;
    long status = 0;

    (void)curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (x->req->on_data != NULL && is_success(status)) {
        size_t n = x->req->on_data(x->req->on_data_ctx, data, len);

        if (n != len && n != CURL_WRITEFUNC_PAUSE)
            x->is_aborted = true;
        return n;
    }
    if (is_success(status) && x->req->max_body == 0)
        return size * nmemb; /* nothing to keep (PUT, DELETE) */
    limit = body_limit(x);
    if (r->body_len + len > limit) {
        r->is_truncated = true;
        if (is_success(status))
            return 0; /* a success body we cannot hold: fail the transfer */
        len = limit - r->body_len;  /* an error body: keep its start */
        if (len == 0)
            return size * nmemb;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        char *nb;

        while (cap < r->body_len + len + 1)
            cap *= 2;
        if (cap > limit + 1)
            cap = limit + 1;
        if ((nb = realloc(r->body, cap)) == NULL)
            return 0;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return size * nmemb;
}

/* Copy a header value (trimmed) into buf if it fits. */
static void
header_value(const char *line, size_t len, size_t name_len, char *buf, size_t size)
{
    const char *v = line + name_len;
    const char *end = line + len;

    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if ((size_t)(end - v) < size) {
        memcpy(buf, v, (size_t)(end - v));
        buf[end - v] = '\0';
    }
}

static bool
is_header(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);

    return len > n && strncasecmp(line, name, n) == 0;
}

/* An HTTP date header's value in seconds since the epoch; 0 when unreadable. */
static int64_t
header_time(const char *line, size_t len, size_t name_len)
{
    char buf[128] = "";
    time_t t;

    header_value(line, len, name_len, buf, sizeof(buf));
    t = curl_getdate(buf, NULL);
    return t > 0 ? (int64_t)t : 0;
}

static size_t
header_cb(char *line, size_t size, size_t nmemb, void *ctx)
{
    struct s3_resp *r = &((struct s3_xfer *)ctx)->resp;
    size_t len = size * nmemb;
    char buf[128];

    if (is_header(line, len, "HTTP/")) { /* a new response (after 100 Continue) */
        memset(r->etag, 0, sizeof(r->etag));
        r->version_id[0] = r->lock_until[0] = r->content_range[0] = '\0';
        r->has_length = r->is_delete_marker = false;
        r->last_modified = r->date = 0;
    } else if (is_header(line, len, "ETag:")) {
        header_value(line, len, 5, r->etag, sizeof(r->etag));
    } else if (is_header(line, len, "x-amz-version-id:")) {
        header_value(line, len, 17, r->version_id, sizeof(r->version_id));
    } else if (is_header(line, len, "x-amz-object-lock-retain-until-date:")) {
        header_value(line, len, 36, r->lock_until, sizeof(r->lock_until));
    } else if (is_header(line, len, "Content-Range:")) {
        header_value(line, len, 14, r->content_range, sizeof(r->content_range));
    } else if (is_header(line, len, "x-amz-delete-marker:")) {
        header_value(line, len, 20, buf, sizeof(buf));
        r->is_delete_marker = strcmp(buf, "true") == 0;
    } else if (is_header(line, len, "Content-Length:")) {
        char *end;

        buf[0] = '\0';
        header_value(line, len, 15, buf, sizeof(buf));
        errno = 0;
        r->length = strtoull(buf, &end, 10);
        r->has_length = errno == 0 && end != buf && *end == '\0';
    } else if (is_header(line, len, "Date:")) {
        r->date = header_time(line, len, 5);
    } else if (is_header(line, len, "Last-Modified:")) {
        r->last_modified = header_time(line, len, 14);
    }
    return len;
}

static cf_err
add_header(struct curl_slist **list, const char *line, struct cf_error *err)
{
    struct curl_slist *l = curl_slist_append(*list, line);

    if (l == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    *list = l;
    return CF_OK;
}

static cf_err
build_headers(struct s3_xfer *x, struct cf_error *err)
{
    const struct s3_req *req = x->req;
    const void *body = req->body != NULL ? req->body : "";
    bool has_body = strcmp(req->method, "PUT") == 0 || strcmp(req->method, "POST") == 0;
    char line[160], sha[65], md5[25];

    cf_s3_sha256_hex(body, req->body_len, sha);
    (void)snprintf(line, sizeof(line), "x-amz-content-sha256: %s", sha);
    if (add_header(&x->hdrs, line, err) != CF_OK)
        return err->code;
    if (has_body) {
        cf_s3_md5_base64(body, req->body_len, md5);
        (void)snprintf(line, sizeof(line), "Content-MD5: %s", md5);
        if (add_header(&x->hdrs, line, err) != CF_OK)
            return err->code;
        (void)snprintf(line, sizeof(line), "Content-Type: %s",
                       req->content_type != NULL ? req->content_type : "application/octet-stream");
        if (add_header(&x->hdrs, line, err) != CF_OK)
            return err->code;
    }
    for (size_t i = 0; i < sizeof(req->headers) / sizeof(req->headers[0]); i++) {
        if (req->headers[i] == NULL)
            break;
        if (add_header(&x->hdrs, req->headers[i], err) != CF_OK)
            return err->code;
    }
    return CF_OK;
}

static cf_err
set_method(struct s3_xfer *x)
{
    const struct s3_req *req = x->req;
    CURL *e = x->easy;
    CURLcode cc = CURLE_OK;

    if (strcmp(req->method, "HEAD") == 0) {
        cc = curl_easy_setopt(e, CURLOPT_NOBODY, 1L); /* a custom HEAD waits for a body */
    } else if (strcmp(req->method, "GET") == 0) {
        cc = curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "DELETE") == 0) {
        cc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        /* PUT and POST send the body from memory; libcurl rewinds it itself
         * when it must resend on a reused connection */
        if (curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "") !=
                CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len) !=
                CURLE_OK)
            return CF_ERR_INTERNAL;
        if (strcmp(req->method, "PUT") == 0)
            cc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
    }
    return cc == CURLE_OK ? CF_OK : CF_ERR_INTERNAL;
}

cf_err
cf_s3_xfer_prepare(struct s3_storage *st, struct s3_xfer *x, CURL *easy, const struct s3_req *req,
                   struct cf_error *err)
{
    CURLcode cc = CURLE_OK;

    cf_s3_xfer_release(x);
    x->easy = easy;
    x->req = req;
    x->is_aborted = false;
    x->errbuf[0] = '\0';
    curl_easy_reset(easy);
    if ((x->url = cf_s3_url(st, req->key, req->query)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    if (build_headers(x, err) != CF_OK)
        return err->code;
#define SET(opt, val)                                                                          \
    do {                                                                                       \
        if (cc == CURLE_OK)                                                                    \
            cc = curl_easy_setopt(easy, opt, val);                                             \
    } while (0)
    SET(CURLOPT_URL, x->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_AWS_SIGV4, st->sigv4);
    SET(CURLOPT_USERNAME, st->access_key);
    SET(CURLOPT_PASSWORD, st->secret_key);
    SET(CURLOPT_HTTPHEADER, x->hdrs);
    SET(CURLOPT_WRITEFUNCTION, write_cb);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, header_cb);
    SET(CURLOPT_HEADERDATA, x);
    if (!req->is_cleanup) { /* a signal stops the transfer, but not the cleanup after it */
        SET(CURLOPT_NOPROGRESS, 0L);
        SET(CURLOPT_XFERINFOFUNCTION, cf_s3_progress_cb);
    }
    SET(CURLOPT_CONNECTTIMEOUT_MS, st->connect_timeout_ms);
    SET(CURLOPT_LOW_SPEED_LIMIT, 1024L);
    SET(CURLOPT_LOW_SPEED_TIME, st->low_speed_seconds);
    if (st->ca_file != NULL)
        SET(CURLOPT_CAINFO, st->ca_file);
#undef SET
    if (cc != CURLE_OK || set_method(x) != CF_OK)
        return cf_error_set(err, CF_ERR_INTERNAL, "could not set up an S3 request: %s",
                            curl_easy_strerror(cc));
    return CF_OK;
}

void
cf_s3_xfer_release(struct s3_xfer *x)
{
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    free(x->url);
    x->url = NULL;
    cf_s3_resp_reset(&x->resp);
}

bool
cf_s3_is_retry_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return false;
    }
}

bool
cf_s3_is_retry_status(long status, const char *code)
{
    return status == 500 || status == 502 || status == 503 || status == 504 || status == 429 ||
           strcmp(code, "SlowDown") == 0 || strcmp(code, "InternalError") == 0 ||
           strcmp(code, "RequestTimeout") == 0;
}

enum s3_outcome
cf_s3_xfer_finish(struct s3_xfer *x, CURLcode cc, CURLcode *last_cc)
{
    struct s3_resp *r = &x->resp;

    *last_cc = cc;
    (void)curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
    cf_log_debug("S3 %s /%s%s%s: HTTP %ld, %s", x->req->method,
                 x->req->key != NULL ? x->req->key : "", x->req->query != NULL ? "?" : "",
                 x->req->query != NULL ? x->req->query : "", r->status, curl_easy_strerror(cc));
    if (cc != CURLE_OK)
        return cf_s3_is_retry_curl(cc) && !x->is_aborted ? S3_RETRY : S3_CURL_FAIL;
    if (!is_success(r->status) && r->body != NULL)
        (void)cf_s3_xml_parse_error(r->body, r->body_len, r->code, sizeof(r->code), r->message,
                                    sizeof(r->message));
    if (is_success(r->status) || r->status == x->req->quiet_status[0] ||
        r->status == x->req->quiet_status[1])
        return S3_OK;
    return cf_s3_is_retry_status(r->status, r->code) ? S3_RETRY : S3_HTTP_FAIL;
}

void
cf_s3_detail_message(struct cf_error *err, const char *message)
{
    size_t len = strlen(message);

    if (len > 0)
        cf_error_detail(err, "The S3 server said: %s%s", message,
                        message[len - 1] == '.' ? "" : ".");
}

cf_err
cf_s3_http_error(struct s3_storage *st, const struct s3_req *req, const struct s3_resp *r,
                 unsigned attempts, struct cf_error *err)
{
    const char *code = r->code[0] != '\0' ? r->code : "";
    char tries[48] = "", cause[200];

    if (strcmp(code, "NoSuchBucket") == 0) {
        cf_error_setf(err, CF_ERR_CONFIG, "bucket \"%s\" does not exist", st->bucket);
        cf_error_hint(err, "Create the bucket with Object Lock enabled, or correct "
                           "repository.bucket and repository.endpoint.");
        return err->code;
    }
    if (r->status == 404 && req->repo_key != NULL &&
        (code[0] == '\0' || strcmp(code, "NoSuchKey") == 0 || strcmp(code, "NoSuchVersion") == 0))
        return cf_error_set(err, CF_ERR_NOT_FOUND,
                            "object \"%s\" does not exist in the repository", req->repo_key);
    if (attempts > 1)
        (void)snprintf(tries, sizeof(tries), " after %u attempts", attempts);
    if (strcmp(code, "RequestTimeTooSkewed") == 0) {
        /* the request's date is too far from the server's: one of the clocks is wrong */
        (void)snprintf(cause, sizeof(cause),
                       "the clocks of this host and of the S3 server differ by more than the "
                       "server accepts (HTTP %ld %s)",
                       r->status, code);
        cf_error_setf_cause(err, CF_ERR_REMOTE, cause, "could not %s", req->what);
        if (r->message[0] != '\0')
            cf_s3_detail_message(err, r->message);
        cf_error_hint(err, "Compare this host's clock with the S3 server's and keep both "
                           "synchronised with NTP (timedatectl status; chrony or "
                           "systemd-timesyncd), then run the command again.");
        return err->code;
    }
    (void)snprintf(cause, sizeof(cause), "HTTP %ld%s%s%s", r->status, code[0] ? " " : "", code,
                   tries);
    cf_error_setf_cause(err,
                        r->status == 403 && (strcmp(code, "InvalidAccessKeyId") == 0 ||
                                             strcmp(code, "SignatureDoesNotMatch") == 0)
                            ? CF_ERR_CONFIG
                            : CF_ERR_REMOTE,
                        cause, "could not %s", req->what);
    if (r->message[0] != '\0')
        cf_s3_detail_message(err, r->message);
    if (err->code == CF_ERR_CONFIG)
        cf_error_hint(err, "%s", hint_credentials);
    else if (r->status == 403)
        cf_error_hint(err, "Check that the S3 user may read and write bucket \"%s\".",
                      st->bucket);
    return err->code;
}

cf_err
cf_s3_xfer_error(struct s3_storage *st, struct s3_xfer *x, CURLcode cc, unsigned attempts,
                 struct cf_error *err)
{
    char tries[48] = "", cause[CURL_ERROR_SIZE + 48];

    if (cc == CURLE_OK)
        return cf_s3_http_error(st, x->req, &x->resp, attempts, err);
    if (cc == CURLE_ABORTED_BY_CALLBACK && cf_cancel_requested())
        return cf_cancel_check(err);
    if (x->resp.is_truncated)
        return cf_error_set(err, CF_ERR_REMOTE,
                            "could not %s: the response is larger than %zu bytes", x->req->what,
                            x->req->max_body);
    if (attempts > 1)
        (void)snprintf(tries, sizeof(tries), " after %u attempts", attempts);
    (void)snprintf(cause, sizeof(cause), "%s%s",
                   x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(cc), tries);
    cf_error_setf_cause(err, CF_ERR_REMOTE, cause, "could not %s", x->req->what);
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
        cc == CURLE_OPERATION_TIMEDOUT)
        cf_error_hint(err, "Check repository.endpoint (%s) and that the S3 server is reachable.",
                      st->endpoint);
    else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
        cf_error_hint(err, "Check repository.ca_file: it must hold the CA that signed the S3 "
                           "server's certificate.");
    return err->code;
}

unsigned
cf_s3_backoff_ms(const struct s3_storage *st, unsigned attempt)
{
    return cf_backoff_ms(st->backoff_base_ms, st->backoff_cap_ms, attempt);
}

cf_err
cf_s3_sleep_ms(unsigned ms, struct cf_error *err)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        if (cf_cancel_requested())
            break;
    return cf_cancel_check(err);
}

cf_err
cf_s3_request(struct s3_storage *st, const struct s3_req *req, struct s3_resp *resp,
              struct cf_error *err)
{
    struct s3_xfer x;
    unsigned max = req->max_attempts != 0 ? req->max_attempts : st->max_attempts;
    cf_err rc = CF_OK;
    CURLcode cc = CURLE_OK;

    memset(&x, 0, sizeof(x));
    cf_s3_resp_reset(resp);
    for (unsigned attempt = 1;; attempt++) {
        enum s3_outcome o;

        if ((rc = cf_s3_xfer_prepare(st, &x, st->easy, req, err)) != CF_OK)
            break;
        o = cf_s3_xfer_finish(&x, curl_easy_perform(st->easy), &cc);
        if (o == S3_OK)
            break;
        if (o != S3_RETRY || attempt >= max) {
            rc = cf_s3_xfer_error(st, &x, cc, attempt, err);
            break;
        }
        if (req->is_cleanup) {
            struct cf_error ignored = CF_ERROR_INIT;

            (void)cf_s3_sleep_ms(cf_s3_backoff_ms(st, attempt), &ignored);
        } else if ((rc = cf_s3_sleep_ms(cf_s3_backoff_ms(st, attempt), err)) != CF_OK) {
            break;
        }
    }
    if (x.resp.date > 0) { /* the server's clock against ours (coffre check) */
        st->base.server_date = x.resp.date;
        st->base.server_date_at = (int64_t)time(NULL);
    }
    *resp = x.resp; /* transferred */
    memset(&x.resp, 0, sizeof(x.resp));
    cf_s3_xfer_release(&x);
    return rc;
}
