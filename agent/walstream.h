/*
 * walstream.h - `coffre wal-stream`: a long-running WAL receiver over the
 * replication protocol, spooling, acknowledging and uploading segments.
 */
#ifndef CF_WALSTREAM_H
#define CF_WALSTREAM_H

#include "common/config.h"
#include "storage/repo.h"

extern const char cf_wal_stream_usage[];

cf_err cf_cmd_wal_stream(const struct cf_config *cfg, const struct cf_repo *repo, int argc,
                         char **argv, struct cf_error *err);

#endif
