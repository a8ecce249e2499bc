/*
 * policy.h - the retention policy as configured, and backup ids as times.
 *
 * A backup id is its UTC start time, "YYYYMMDDTHHMMSSZ" with an optional
 * "-N" suffix for backups started in the same second, so classes can be
 * decided from a repository listing alone, without reading (decrypting) any
 * manifest: a write-only host can do it.
 */
#ifndef CF_POLICY_H
#define CF_POLICY_H

#include <stdint.h>

#include "common/config.h"
#include "policies/retention.h"

/* The [retention] section as the policy the pure functions take. */
void cf_policy_from_conf(const struct cf_retention_conf *conf, struct cf_retention_policy *out);

/* Seconds since the epoch of a backup id, or -1 if id is not of that form. */
int64_t cf_backup_id_time(const char *id);

#endif
