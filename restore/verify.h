/*
 * verify.h - the verify engine: read every object of a backup, check its
 * AEAD and its sha256 against the manifest, check that the backup holds
 * exactly the objects its manifest lists, restore nothing.  Each verdict on
 * the data is recorded with the backup (a verify-<time> object) so that
 * prune knows which backups count as verified.
 */
#ifndef CF_RESTORE_VERIFY_H
#define CF_RESTORE_VERIFY_H

#include <stdbool.h>

#include "storage/repo.h"

struct cf_verify_item {
    char id[CF_OBJECT_ID_MAX + 1];
    bool ok;
    struct cf_error error;   /* why not ok */
};

struct cf_verify_opts {
    const struct cf_repo *repo;
    const char *id;          /* one backup; NULL: every complete backup */
    /* optional: called after each backup, while the others are still being read */
    void (*on_item)(void *arg, const struct cf_verify_item *item);
    void *arg;
};

struct cf_verify_result {
    struct cf_verify_item *items;   /* in the order verified */
    size_t n, n_ok, n_failed;
};

/*
 * One backup: CF_OK when it passed, else the error of the first problem
 * (CF_ERR_CORRUPT for bad data).  Every backup (id NULL): CF_OK when all
 * passed; else the class of the first failure, with the message "N of M
 * backups failed verification"; CF_ERR_NOT_FOUND when there is none.  res
 * holds each verdict in every case.
 */
cf_err cf_verify_run(const struct cf_verify_opts *opts, struct cf_verify_result *res,
                     struct cf_error *err);
void cf_verify_result_clear(struct cf_verify_result *res);

#endif
