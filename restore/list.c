/*
 * list.c - the list engine (see list.h).
 */
#include "restore/list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cf_err
cf_list_run(const struct cf_list_opts *opts, struct cf_list_result *res, struct cf_error *err)
{
    struct cf_backup_entry *v = NULL;
    size_t n = 0;

    memset(res, 0, sizeof(*res));
    if (cf_repo_list_backups(opts->repo, &v, &n, err) != CF_OK)
        return err->code;
    res->items = calloc(n + 1, sizeof(*res->items));
    if (res->items == NULL) {
        free(v);
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct cf_list_item *it = &res->items[i];
        struct cf_error e = CF_ERROR_INIT;

        it->entry = v[i];
        res->n++;
        if (!v[i].has_manifest) {
            it->state = CF_LIST_INCOMPLETE;
            (void)snprintf(it->problem, sizeof(it->problem), "no manifest: not restorable");
        } else if (cf_repo_read_manifest(opts->repo, v[i].id, &it->m, &e) != CF_OK) {
            it->state = CF_LIST_UNREADABLE;
            (void)snprintf(it->problem, sizeof(it->problem), "%s", e.msg);
        }
    }
    free(v);
    return CF_OK;
}

void
cf_list_result_clear(struct cf_list_result *res)
{
    for (size_t i = 0; i < res->n; i++)
        cf_manifest_free(res->items[i].m);
    free(res->items);
    memset(res, 0, sizeof(*res));
}

const char *
cf_list_state_name(enum cf_list_state state)
{
    switch (state) {
    case CF_LIST_COMPLETE: return "complete";
    case CF_LIST_INCOMPLETE: return "incomplete";
    case CF_LIST_UNREADABLE: return "unreadable";
    }
    return "?";
}
