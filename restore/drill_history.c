/*
 * drill_history.c - the drill records stored with the backups they drilled
 * (`coffre drill --history`, see drill.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "restore/drill.h"

struct names {
    size_t prefix_len;
    char **v;
    size_t n;
};

static cf_err
name_cb(void *ctx, const struct cf_storage_info *info, struct cf_error *err)
{
    struct names *ns = ctx;
    const char *name = info->key + ns->prefix_len;
    char **grown;

    if (!cf_repo_is_record_name(name, CF_DRILL_PREFIX))
        return CF_OK;
    grown = realloc(ns->v, (ns->n + 1) * sizeof(*grown));
    if (grown == NULL || (grown[ns->n] = strdup(name)) == NULL) {
        if (grown != NULL)
            ns->v = grown;
        return cf_error_set(err, CF_ERR_NOMEM, "out of memory");
    }
    ns->v = grown;
    ns->n++;
    return CF_OK;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One record into r; an unreadable one is kept with its problem, not dropped. */
static void
read_one(const struct cf_repo *repo, const char *id, const char *name, struct cf_drill_record *r)
{
    struct cf_error e = CF_ERROR_INIT;
    char *text = NULL;
    size_t len = 0;
    json_t *j, *checks;
    const char *scenario = NULL, *when = NULL;

    memset(r, 0, sizeof(*r));
    (void)snprintf(r->backup_id, sizeof(r->backup_id), "%s", id);
    (void)cf_repo_key(repo, id, name, r->key, sizeof(r->key), &e);
    if (cf_repo_read_record(repo, id, name, &text, &len, &e) != CF_OK) {
        (void)snprintf(r->problem, sizeof(r->problem), "unreadable: %.200s", e.msg);
        return;
    }
    j = json_loadb(text, len, 0, NULL);
    free(text);
    if (json_unpack(j, "{s:s, s:s, s:b, s:F, s:F, s:o}", "scenario", &scenario, "time", &when,
                    "ok", &r->ok, "rto_seconds", &r->rto_s, "rpo_seconds", &r->rpo_s, "checks",
                    &checks) != 0 ||
        !json_is_array(checks)) {
        (void)snprintf(r->problem, sizeof(r->problem), "not a drill record");
        r->ok = false;
        json_decref(j);
        return;
    }
    (void)snprintf(r->scenario, sizeof(r->scenario), "%s", scenario);
    r->time = cf_parse_time(when);
    r->n_checks = json_array_size(checks);
    for (size_t i = 0; i < r->n_checks; i++) {
        const char *status = json_string_value(json_object_get(json_array_get(checks, i),
                                                               "status"));

        if (status != NULL && strcmp(status, "failed") == 0 && r->n_failed++ == 0)
            (void)snprintf(r->problem, sizeof(r->problem), "%s: %s",
                           json_string_value(json_object_get(json_array_get(checks, i), "name"))
                               ?: "?",
                           json_string_value(json_object_get(json_array_get(checks, i),
                                                             "detail"))
                               ?: "");
    }
    json_decref(j);
}

cf_err
cf_drill_history(const struct cf_repo *repo, struct cf_drill_record **out, size_t *n,
                 struct cf_error *err)
{
    struct cf_backup_entry *v = NULL;
    struct cf_drill_record *recs = NULL;
    size_t nv = 0, nr = 0;
    cf_err rc;

    if ((rc = cf_repo_list_backups(repo, &v, &nv, err)) != CF_OK)
        return rc;
    for (size_t i = 0; i < nv && rc == CF_OK; i++) {
        char prefix[CF_STORAGE_KEY_MAX + 1];
        struct names ns = {0, NULL, 0};

        if ((rc = cf_repo_backup_prefix(repo, v[i].id, prefix, sizeof(prefix), err)) != CF_OK)
            break;
        ns.prefix_len = strlen(prefix);
        rc = cf_storage_list(repo->st, prefix, name_cb, &ns, err);
        if (rc == CF_OK && ns.n > 0) {
            struct cf_drill_record *grown = realloc(recs, (nr + ns.n) * sizeof(*grown));

            if (grown == NULL) {
                rc = cf_error_set(err, CF_ERR_NOMEM, "out of memory");
            } else {
                recs = grown;
                qsort(ns.v, ns.n, sizeof(*ns.v), cmp_names);
                for (size_t k = 0; k < ns.n; k++)
                    read_one(repo, v[i].id, ns.v[k], &recs[nr++]);
            }
        }
        for (size_t k = 0; k < ns.n; k++)
            free(ns.v[k]);
        free(ns.v);
    }
    free(v);
    if (rc != CF_OK) {
        free(recs);
        return rc;
    }
    *out = recs;
    *n = nr;
    return CF_OK;
}
