/*
 * walstream.h - `coffre wal-stream`: a long-running WAL receiver over the
 * replication protocol, spooling, acknowledging and uploading segments.
 */
#ifndef CF_WALSTREAM_H
#define CF_WALSTREAM_H

#include "agent/wal.h"
#include "storage/repo.h"

/*
 * The wal-stream service: runs until SIGTERM or SIGINT, then flushes, uploads
 * what it holds and returns CF_OK (docs/wal-stream.md).
 */
cf_err cf_wal_stream_run(const struct cf_wal_env *env, struct cf_error *err);

#endif
