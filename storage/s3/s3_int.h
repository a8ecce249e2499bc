/*
 * s3_int.h - private interfaces of the S3 driver (storage/s3/ only, and its
 * unit tests and fuzz target).
 *
 *   storage.c   ops table, open and bucket check, info/list/remove/versions,
 *               retention, unfinished uploads
 *   write.c     the terminal sink: single PUT or multipart with parts in flight
 *   read.c      the GET source: bounded buffer, pause, Range resume
 *   request.c   one request: URL, SigV4, digests, retries with backoff
 *   xml.c       parsers of S3 XML responses (namespace-agnostic)
 *   util.c      percent-encoding, query strings, dates
 *   digest.c    MD5 (libcrypto) and SHA-256 (libsodium)
 *   creds.c     access and secret keys
 */
#ifndef CF_S3_INT_H
#define CF_S3_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "storage/s3/s3.h"

#define S3_KEY_MAX 1024                          /* S3's limit on a full key, in bytes */
#define S3_XML_MAX ((size_t)16 * 1024 * 1024)    /* largest XML response accepted */
#define S3_ERROR_BODY_MAX ((size_t)64 * 1024)    /* error bodies kept for Code/Message */
#define S3_SMALL_BODY_MAX ((size_t)64 * 1024)    /* small XML answers (retention, upload id) */
#define S3_MAX_PARTS 10000u
#define S3_ETAG_MAX 128
#define S3_UPLOAD_ID_MAX 255
#define S3_TOKEN_MAX 2048

/* The open driver. */
struct s3_storage {
    struct cf_storage base;
    char *endpoint;          /* "scheme://host[:port]", no trailing '/' */
    char *bucket;
    char *prefix;            /* NULL or "a/b" (no leading or trailing '/') */
    bool host_style;
    bool governance;
    char *ca_file;
    char *access_key;        /* sodium_malloc */
    char *secret_key;        /* sodium_malloc */
    char sigv4[96];          /* "aws:amz:REGION:s3" */
    size_t part_size;
    unsigned parts_in_flight;
    unsigned max_attempts;
    long connect_timeout_ms;
    long low_speed_seconds;
    unsigned backoff_base_ms;   /* COFFRE_S3_BACKOFF_MS, default 100 */
    unsigned backoff_cap_ms;    /* 50 x base (5 s by default) */
    unsigned max_keys;          /* COFFRE_S3_MAX_KEYS, default 1000 */
    CURL *easy;                 /* synchronous requests (keeps connections alive) */
};

/* One request.  Strings are borrowed for the duration of the call. */
struct s3_req {
    const char *method;          /* GET PUT POST DELETE HEAD */
    const char *key;             /* full object key (prefix applied); NULL: the bucket */
    const char *repo_key;        /* the repository key, for messages (NULL: none) */
    const char *query;           /* canonical query string (sorted, encoded) or NULL */
    const void *body;            /* request body in memory (PUT, POST) */
    size_t body_len;
    const char *content_type;    /* NULL: application/octet-stream when there is a body */
    const char *headers[4];      /* extra "Name: value" lines, NULL-terminated */
    size_t max_body;             /* response body kept up to this size; 0: none */
    const char *what;            /* "upload part 3 of object \"k\"": after "could not " */
    long quiet_status[2];        /* these statuses return CF_OK (resp.status tells) */
    unsigned max_attempts;       /* 0: the driver's */
    bool is_cleanup;             /* runs after a signal too (abort paths): not cancellable */
    /* streaming GET: receives the body instead of resp.body (read.c) */
    size_t (*on_data)(void *ctx, const char *data, size_t len);
    void *on_data_ctx;
};

/* What came back.  body is owned (cf_s3_resp_reset frees it). */
struct s3_resp {
    long status;
    char *body;
    size_t body_len;
    size_t body_cap;
    bool is_truncated;                 /* the body exceeded max_body */
    char etag[S3_ETAG_MAX + 1];
    char version_id[CF_STORAGE_VERSION_MAX + 1];
    char lock_until[64];               /* x-amz-object-lock-retain-until-date */
    char content_range[128];
    bool has_length;
    uint64_t length;                   /* Content-Length */
    int64_t last_modified;             /* 0 unknown */
    int64_t date;                      /* the response's Date; 0 unknown */
    bool is_delete_marker;
    char code[64];                     /* S3 error code, "" if none */
    char message[256];
};

/* One easy handle's transfer: prepared, performed (easy or multi), finished. */
struct s3_xfer {
    CURL *easy;                  /* borrowed */
    const struct s3_req *req;    /* borrowed */
    struct curl_slist *hdrs;
    char *url;
    size_t body_off;
    struct s3_resp resp;
    bool is_aborted;             /* a callback asked to stop (on_data) */
    char errbuf[CURL_ERROR_SIZE];
};

enum s3_outcome {
    S3_OK,         /* 2xx or a quiet status */
    S3_HTTP_FAIL,  /* a final HTTP failure (resp tells) */
    S3_RETRY,      /* worth another attempt */
    S3_CURL_FAIL   /* a transport failure not worth retrying */
};

/* request.c */
cf_err cf_s3_xfer_prepare(struct s3_storage *st, struct s3_xfer *x, CURL *easy,
                          const struct s3_req *req, struct cf_error *err);
enum s3_outcome cf_s3_xfer_finish(struct s3_xfer *x, CURLcode cc, CURLcode *last_cc);
/* Format the failure of x after attempts tries (cc: the last curl result). */
cf_err cf_s3_xfer_error(struct s3_storage *st, struct s3_xfer *x, CURLcode cc, unsigned attempts,
                        struct cf_error *err);
/* The message for a final HTTP failure (NOT_FOUND, CONFIG or REMOTE). */
cf_err cf_s3_http_error(struct s3_storage *st, const struct s3_req *req, const struct s3_resp *resp,
                        unsigned attempts, struct cf_error *err);
/* DETAIL "The S3 server said: MESSAGE." (nothing if message is empty) */
void cf_s3_detail_message(struct cf_error *err, const char *message);
void cf_s3_xfer_release(struct s3_xfer *x); /* keeps x->easy; frees resp too */
/* Perform req with retries.  CF_OK for 2xx and quiet statuses; resp is
 * filled either way and must be released with cf_s3_resp_reset. */
cf_err cf_s3_request(struct s3_storage *st, const struct s3_req *req, struct s3_resp *resp,
                     struct cf_error *err);
void cf_s3_resp_reset(struct s3_resp *resp);
/*
 * The retry classification, extern only so that tests/unit/test_s3_retry.c
 * can pin it; nothing outside request.c calls them (cf_s3_xfer_finish does).
 * A transport failure worth another attempt: timeouts, refused connections,
 * send/receive errors, empty or short replies.
 */
bool cf_s3_is_retry_curl(CURLcode cc);
/* An HTTP failure worth another attempt: 500, 502, 503, 504, 429, or the S3
 * codes SlowDown, InternalError, RequestTimeout whatever the status. */
bool cf_s3_is_retry_status(long status, const char *code);
/* The wait before attempt n+1 (n >= 1): full jitter in [0, min(cap, base * 2^(n-1))]. */
unsigned cf_s3_backoff_ms(const struct s3_storage *st, unsigned attempt);
/* Sleep ms, returning early (CF_ERR_CANCELLED) on a signal. */
cf_err cf_s3_sleep_ms(unsigned ms, struct cf_error *err);
/* CURLOPT_XFERINFOFUNCTION: stops a transfer when a signal arrived. */
int cf_s3_progress_cb(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow);
/* "prefix/key" (or key) into a new string. */
char *cf_s3_full_key(const struct s3_storage *st, const char *key);
/* The full URL of key (NULL: the bucket) with query, newly allocated. */
char *cf_s3_url(const struct s3_storage *st, const char *key, const char *query);

/* util.c */
/* Percent-encode in (S3 canonical rules: all but A-Za-z0-9-._~, and '/' if
 * keep_slash) into out; false if it does not fit. */
bool cf_s3_uri_encode(const char *in, bool keep_slash, char *out, size_t size);
/* "2026-11-22T00:08:46Z" */
void cf_s3_date_format(int64_t t, char *buf, size_t size);
/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction up to 9 digits](Z|+hh:mm|-hh:mm) */
bool cf_s3_date_parse(const char *s, int64_t *out);

/* digest.c */
/* base64 of the MD5 of data (25 bytes with NUL). */
void cf_s3_md5_base64(const void *data, size_t len, char out[25]);
void cf_s3_md5_raw(const void *data, size_t len, unsigned char out[16]);
/* hex of the SHA-256 of data (65 bytes with NUL). */
void cf_s3_sha256_hex(const void *data, size_t len, char out[65]);
/* Append "name=value" (value percent-encoded) to a query being built; keys
 * must be appended in sorted order.  false if it does not fit. */
bool cf_s3_query_add(char *q, size_t size, const char *name, const char *value);

/* xml.c */
struct s3_entry {
    char key[S3_KEY_MAX + 1];
    uint64_t size;
    int64_t mtime;
    char version_id[CF_STORAGE_VERSION_MAX + 1];
    char upload_id[S3_UPLOAD_ID_MAX + 1];
    char etag[S3_ETAG_MAX + 1];
    bool is_latest;
    bool is_delete_marker;
};
enum s3_list_kind { S3_LIST_OBJECTS, S3_LIST_VERSIONS, S3_LIST_UPLOADS };
struct s3_list_page {
    bool is_truncated;
    char next_token[S3_TOKEN_MAX + 1];                 /* NextContinuationToken */
    char next_key_marker[S3_KEY_MAX + 1];              /* NextKeyMarker */
    char next_id_marker[S3_UPLOAD_ID_MAX + 1];         /* NextVersionIdMarker or
                                                          NextUploadIdMarker */
};
typedef cf_err (*s3_entry_cb)(void *ctx, const struct s3_entry *e, struct cf_error *err);

/* Every parser fails with CF_ERR_REMOTE "could not parse S3 response: ..." */
cf_err cf_s3_xml_parse_list(enum s3_list_kind kind, const char *data, size_t len, s3_entry_cb cb,
                            void *ctx, struct s3_list_page *page, struct cf_error *err);
/* <Error><Code/><Message/></Error>: false if data is not an S3 error. */
bool cf_s3_xml_parse_error(const char *data, size_t len, char *code, size_t code_size,
                           char *message, size_t message_size);
cf_err cf_s3_xml_parse_upload_id(const char *data, size_t len, char *upload_id, size_t size,
                                 struct cf_error *err);
/* CompleteMultipartUploadResult (etag may be empty: Ceph Pacific); a 200
 * carrying <Error> sets code (and message) instead. */
cf_err cf_s3_xml_parse_complete(const char *data, size_t len, char *etag, size_t etag_size,
                                char *code, size_t code_size, char *message, size_t message_size,
                                struct cf_error *err);
cf_err cf_s3_xml_parse_retention(const char *data, size_t len, char *mode, size_t mode_size,
                                 int64_t *retain_until, struct cf_error *err);
cf_err cf_s3_xml_parse_lock_config(const char *data, size_t len, bool *is_enabled,
                                   struct cf_error *err);
/* VersioningConfiguration: *is_enabled when Status is Enabled. */
cf_err cf_s3_xml_parse_versioning(const char *data, size_t len, bool *is_enabled,
                                  struct cf_error *err);

/* creds.c: access and secret key into st (see s3.h for the search order). */
cf_err cf_s3_creds_load(struct s3_storage *st, const struct cf_s3_options *opts,
                        struct cf_error *err);
void cf_s3_creds_free(struct s3_storage *st);

/* write.c, read.c */
cf_err cf_s3_open_write(struct cf_storage *st, const char *key, const struct cf_write_opts *opts,
                        struct cf_sink **out, struct cf_error *err);
/*
 * The version coffre wrote of key: its oldest version that is not a delete
 * marker (CF_ERR_NOT_FOUND if none).  On a versioned bucket coffre writes
 * every key once, so newer versions and delete markers were made by someone
 * else: an overwrite or a delete of a locked object never hides the original.
 */
cf_err cf_s3_original_version(struct s3_storage *st, const char *key, char *version, size_t size,
                              struct cf_error *err);
cf_err cf_s3_open_read(struct cf_storage *st, const char *key, struct cf_source **out,
                       struct cf_error *err);

/* storage.c: shared with write.c */
/* HEAD full_key (version_id may be NULL): CF_OK with *exists, resp filled
 * (release it with cf_s3_resp_reset). */
cf_err cf_s3_head(struct s3_storage *st, const char *full_key, const char *repo_key,
                  const char *version_id, bool *exists, struct s3_resp *resp, struct cf_error *err);
/* The retain-until date of a version, 0 if it has none. */
cf_err cf_s3_get_retention_full(struct s3_storage *st, const char *full_key, const char *repo_key,
                                const char *version_id, int64_t *retain_until,
                                struct cf_error *err);
/* Make sure the version is locked at least until retain_until: read the
 * retention, set it when shorter (PutObjectRetention), read it back. */
cf_err cf_s3_ensure_retention(struct s3_storage *st, const char *full_key, const char *repo_key,
                              const char *version_id, int64_t retain_until, struct cf_error *err);
/* Best effort, never fails (one attempt per retry budget; errors dropped). */
void cf_s3_abort_upload_full(struct s3_storage *st, const char *full_key, const char *upload_id);

#endif
