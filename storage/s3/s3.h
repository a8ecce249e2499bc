/*
 * s3.h - the S3 repository driver (libcurl, AWS Signature V4).
 *
 * Objects are stored under "<prefix>/<key>" in one bucket.  Writes stream:
 * an object smaller than one part is a single PUT; a larger one is a
 * multipart upload with at most parts_in_flight parts uploading in parallel,
 * so memory is part_size x (parts_in_flight + 1) whatever the object size.
 * Every part and every lock request carries Content-MD5 (and a signed
 * x-amz-content-sha256).  Any failure aborts the multipart upload.
 *
 * Object Lock: with a retain_until date, the object is created with
 * x-amz-object-lock-mode (COMPLIANCE, or GOVERNANCE) and
 * x-amz-object-lock-retain-until-date; because some servers ignore those
 * headers on multipart uploads (Ceph Pacific), close() sets the retention on
 * the completed version with PutObjectRetention and reads it back with
 * GetObjectRetention before it reports success.
 *
 * At open the driver checks that the bucket has Object Lock enabled and
 * refuses to work otherwise (CF_ERR_CONFIG), unless allow_unlocked is set,
 * in which case it logs a warning on every run.
 *
 * Retries: 5xx, 429/SlowDown, timeouts and connection resets are retried
 * with capped exponential backoff and full jitter (max_attempts attempts);
 * 4xx are not.  Every attempt is bounded by connect and low-speed timeouts.
 * GET resumes with a Range request (pinned to the version) after a dropped
 * connection.
 *
 * Credentials: access_key_file / secret_key_file, else
 * $CREDENTIALS_DIRECTORY/coffre-s3-access-key and coffre-s3-secret-key, else
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.  The secret never appears in
 * argv, logs or errors.
 */
#ifndef CF_S3_H
#define CF_S3_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "storage/storage.h"

/* struct cf_s3_options is in common/config.h: the [repository] section fills it. */

/* Open the driver: load credentials, check the bucket and its Object Lock
 * configuration.  *out is set only on success. */
cf_err cf_storage_s3_new(const struct cf_s3_options *opts, struct cf_storage **out,
                         struct cf_error *err);

#endif
