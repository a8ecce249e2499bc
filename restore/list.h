/*
 * list.h - the list engine: every backup of the instance, complete or not,
 * with its manifest when this host can read it.
 */
#ifndef CF_RESTORE_LIST_H
#define CF_RESTORE_LIST_H

#include "common/manifest.h"
#include "storage/repo.h"

struct cf_list_opts {
    const struct cf_repo *repo;
};

enum cf_list_state {
    CF_LIST_COMPLETE = 0,    /* manifest read: restorable */
    CF_LIST_INCOMPLETE,      /* no manifest: never restorable */
    CF_LIST_UNREADABLE       /* a manifest that no key here can decrypt, or that is damaged */
};

struct cf_list_item {
    struct cf_backup_entry entry;
    enum cf_list_state state;
    struct cf_manifest *m;   /* owned; NULL unless complete */
    char problem[256];       /* why incomplete or unreadable; "" when complete */
};

struct cf_list_result {
    struct cf_list_item *items;   /* oldest first */
    size_t n;
};

/* Fill res (cleared first).  Only listing the repository can fail: a manifest that cannot be
 * read makes its backup unreadable, not the command. */
cf_err cf_list_run(const struct cf_list_opts *opts, struct cf_list_result *res,
                   struct cf_error *err);
void cf_list_result_clear(struct cf_list_result *res);
const char *cf_list_state_name(enum cf_list_state state);

#endif
