/*
 * prunewal.c - WAL retention for `coffre prune` (see prunewal.h).
 */
#include "agent/prunewal.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/walname.h"
#include "storage/walrepo.h"

bool
cf_prunewal_is_expired(uint64_t segno, uint64_t start_lsn, uint64_t segment_size)
{
    return segment_size > 0 && segno < start_lsn / segment_size;
}

struct walprune {
    const struct cf_repo *repo;
    uint64_t start_lsn, segment_size;
    bool dry_run, use_versions;
    size_t deleted, locked;
};

static cf_err
prune_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct walprune *w = ctx;
    struct cf_wal_object o;
    struct cf_error e = CF_ERROR_INIT;
    const char *version;
    cf_err rc;

    if (info->is_delete_marker && !w->use_versions)
        return CF_OK;
    if (!cf_wal_parse_key(w->repo, info->key, &o) || o.file.type == CF_WAL_HISTORY)
        return CF_OK;
    if (!cf_prunewal_is_expired(cf_wal_segno(&o.file, w->segment_size), w->start_lsn,
                                w->segment_size))
        return CF_OK;
    if (w->dry_run) {
        w->deleted++;
        return CF_OK;
    }
    version = w->use_versions && info->version_id[0] ? info->version_id : NULL;
    rc = cf_storage_remove(w->repo->st, info->key, version, &e);
    if (rc == CF_OK || rc == CF_ERR_NOT_FOUND) {
        cf_log_debug("deleted WAL object %s", info->key);
        w->deleted++;
        return CF_OK;
    }
    if (rc == CF_ERR_LOCKED) {
        w->locked++;
        return CF_OK;
    }
    *err = e;
    return rc;
}

cf_err
cf_prunewal_run(const struct cf_repo *repo, uint64_t start_lsn, uint64_t segment_size,
                const char *backup_id, bool dry_run, struct cf_prune_result *res,
                struct cf_error *err)
{
    struct walprune w = {repo, start_lsn, segment_size, dry_run, false, 0, 0};
    char prefix[CF_STORAGE_KEY_MAX + 1], lsn[CF_LSN_MAX_TEXT];
    struct cf_prune_entry *e;
    const char *verb;
    cf_err rc;

    w.use_versions = (repo->st->features & CF_STORAGE_FEAT_VERSIONS) != 0;
    if ((rc = cf_repo_wal_prefix(repo, prefix, sizeof(prefix), err)) != CF_OK)
        return rc;
    rc = w.use_versions ? cf_storage_list_versions(repo->st, prefix, prune_cb, &w, err)
                        : cf_storage_list(repo->st, prefix, prune_cb, &w, err);
    if (rc != CF_OK)
        return rc;
    cf_lsn_format(start_lsn, lsn, sizeof(lsn));
    verb = dry_run ? "would delete" : w.locked > 0 && w.deleted == 0 ? "skipped" : "deleted";
    if ((e = cf_prune_result_add(res, CF_PRUNE_SUBJECT_WAL, lsn, verb)) == NULL)
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    e->objects = w.deleted;
    e->locked = w.locked;
    if (w.locked > 0)
        (void)snprintf(e->reason, sizeof(e->reason), "%zu WAL object(s) before %s (start of the "
                       "oldest retained physical backup %s); %zu still locked by the storage",
                       w.deleted, lsn, backup_id, w.locked);
    else
        (void)snprintf(e->reason, sizeof(e->reason), "%zu WAL object(s) before %s (start of the "
                       "oldest retained physical backup %s)", w.deleted, lsn, backup_id);
    return CF_OK;
}
