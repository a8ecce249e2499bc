/*
 * prunewal.h - WAL retention for `coffre prune`.
 *
 * WAL is kept from the start of the oldest retained physical backup: every
 * segment, partial and backup history object whose segment lies entirely
 * before that start LSN (on any timeline) goes; history files are never
 * deleted (they are tiny and recovery may need them to find a timeline).
 * Objects the storage refuses to delete because of their lock are skipped
 * and counted.  The caller decides whether WAL may be pruned at all: not
 * when there is no retained physical backup, nor when a manifest could not
 * be read (the backup it describes might be physical).
 */
#ifndef CF_PRUNEWAL_H
#define CF_PRUNEWAL_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/prune.h"
#include "storage/repo.h"

/* True if segment segno of a WAL object lies entirely before start_lsn. */
bool cf_prunewal_is_expired(uint64_t segno, uint64_t start_lsn, uint64_t segment_size);

/* Delete (or, dry_run, list) the WAL before start_lsn, kept for backup_id.
 * Reports one line (or one JSON element appended to arr). */
cf_err cf_prunewal_run(const struct cf_repo *repo, uint64_t start_lsn, uint64_t segment_size,
                       const char *backup_id, bool dry_run, struct cf_prune_result *res,
                       struct cf_error *err);

#endif
