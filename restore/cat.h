/*
 * cat.h - the cat engine: one object's plaintext, for manual recovery.  It
 * needs only the object and a key: the object may be "ID/NAME" (checked
 * against the manifest when there is one), a repository key, or the path of
 * an object file copied out of any repository.
 */
#ifndef CF_RESTORE_CAT_H
#define CF_RESTORE_CAT_H

#include "storage/repo.h"

struct cf_cat_opts {
    const struct cf_repo *repo;
    const char *object;      /* "ID/NAME", "<instance>/backup/ID/NAME", or an absolute path */
    int fd;                  /* where the plaintext goes (borrowed: not closed) */
    const char *fd_name;     /* for messages, e.g. "standard output" */
};

cf_err cf_cat_run(const struct cf_cat_opts *opts, struct cf_error *err);

#endif
