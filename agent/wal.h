/*
 * wal.h - `coffre wal-push` (archive_command) and `coffre wal-get`
 * (restore_command).
 */
#ifndef CF_WAL_H
#define CF_WAL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "storage/repo.h"

/* What the WAL commands use: the repository and their configuration sections. */
struct cf_wal_env {
    const struct cf_repo *repo;
    const char *config_path;                   /* async and read-ahead children run
                                                  `coffre --config PATH ...` */
    const char *instance;                      /* [coffre] instance */
    const char *state_dir;                     /* [coffre] state_dir: the spools pushed/,
                                                  prefetch/, stream/ */
    const struct cf_wal_conf *wal;             /* [wal] */
    const struct cf_retention_conf *retention; /* the Object Lock period of new WAL objects */
    const struct cf_repo_conf *repo_conf;      /* names the repository in async records */
    const struct cf_pg_conf *pg;               /* wal-stream: the server to stream from */
};

/*
 * `wal-push PATH` (archive_command): CF_OK only once the file is durable in
 * the repository.  spool_only: a child of an async wal-push, which records
 * what it stored in the spool (docs/wal.md).
 */
cf_err cf_wal_push_run(const struct cf_wal_env *env, const char *path, bool spool_only,
                       struct cf_error *err);

/*
 * `wal-get NAME PATH` (restore_command).  *missing true (with CF_ERR_NOT_FOUND
 * and err cleared) when the file is simply not in the repository:
 * restore_command then exits 1.  Every other failure must stop recovery: the
 * CLI exits 200 + the class status (PostgreSQL stops only above 125).
 */
cf_err cf_wal_get_run(const struct cf_wal_env *env, const char *name, const char *path,
                      bool *missing, struct cf_error *err);
/*
 * wal-get's first step, which needs neither the repository nor the keys:
 * serve segment name to path from the read-ahead spool.  CF_OK when served
 * (and the next read-ahead started); CF_ERR_NOT_FOUND otherwise, err
 * untouched: then open the repository and the keys, and call cf_wal_get_run.
 */
cf_err cf_wal_get_spooled(const struct cf_wal_env *env, const char *name, const char *path);
/* The read-ahead child's work: fetch the segments after name into the spool. */
cf_err cf_wal_prefetch_run(const struct cf_wal_env *env, const char *name,
                           uint64_t segment_size, struct cf_error *err);

#endif
