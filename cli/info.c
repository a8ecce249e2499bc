/*
 * info.c - `coffre info [ID]`: one view per backup of what list, verify --wal
 * and the verification records each tell part of (issue 14: operators who know
 * `pgbackrest info` found it split across three commands).  Reads only: the
 * manifests, the WAL listing and the newest verification record of each backup.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "restore/list.h"
#include "restore/walcheck.h"

const char cf_cli_info_usage[] =
    "Usage: coffre info [ID] [--json]\n"
    "\n"
    "For every backup of the instance (or backup ID): its state, class, times,\n"
    "what it holds, its sizes, its lock, who signed it and the backup it follows;\n"
    "for a physical backup its LSNs, the WAL it needs and how far the WAL archive\n"
    "reaches from it without a gap; and its newest verification.  Reads only.\n";

/* What info adds to a list item. */
struct info_extra {
    const struct cf_verify_wal_item *wal; /* physical, complete: its WAL continuity */
    bool has_verify, verify_ok;
    char verify_problem[256];
};

static void
fill_extra(const struct cf_repo *repo, const struct cf_list_item *it,
           const struct cf_verify_wal_result *wal, struct info_extra *x)
{
    struct cf_error e = CF_ERROR_INIT;

    memset(x, 0, sizeof(*x));
    if (it->m == NULL)
        return;
    for (size_t i = 0; i < wal->n; i++)
        if (strcmp(wal->items[i].id, it->entry.id) == 0)
            x->wal = &wal->items[i];
    if (cf_repo_last_verify(repo, it->entry.id, &x->has_verify, &x->verify_ok, &e) != CF_OK) {
        x->has_verify = true;
        x->verify_ok = false;
    }
    if (x->has_verify && !x->verify_ok)
        (void)snprintf(x->verify_problem, sizeof(x->verify_problem), "%s", e.msg);
}

static void
print_one(const struct cf_list_item *it, const struct info_extra *x)
{
    const struct cf_manifest *m = it->m;
    char a[32], b[32], what[256], plain[32], stored[32];

    cf_cli_human_bytes(it->entry.stored_bytes, stored, sizeof(stored));
    if (m == NULL) {
        (void)printf("backup %s: %s, %zu object(s), %s stored\n  %s\n\n", it->entry.id,
                     cf_list_state_name(it->state), it->entry.n_objects, stored, it->problem);
        return;
    }
    cf_format_time(m->start_time, a, sizeof(a));
    cf_format_time(m->stop_time, b, sizeof(b));
    cf_cli_backup_what(m, what, sizeof(what));
    cf_cli_human_bytes(cf_manifest_plain_bytes(m), plain, sizeof(plain));
    (void)printf("backup %s: %s %s, %s\n", it->entry.id, m->kind, cf_list_state_name(it->state),
                 m->retention_class ? m->retention_class : "-");
    (void)printf("  taken       %s to %s (%lld s) on %s, PostgreSQL %s, coffre %s\n", a, b,
                 (long long)(m->stop_time - m->start_time), m->hostname ? m->hostname : "?",
                 m->pg_version ? m->pg_version : "?", m->coffre_version ? m->coffre_version : "?");
    (void)printf("  holds       %s: %zu object(s), %s, %s stored\n", what, m->n_objects, plain,
                 stored);
    if (m->lock_until > 0) {
        cf_format_time(m->lock_until, a, sizeof(a));
        (void)printf("  locked      until %s\n", a);
    }
    cf_format_time(m->expires, a, sizeof(a));
    (void)printf("  retention   %s period ends %s\n", m->retention_class ? m->retention_class : "-",
                 a);
    (void)printf("  signed by   %s\n", m->is_signed ? m->signer : "nobody (unsigned)");
    if (m->previous_id != NULL)
        (void)printf("  follows     %s\n", m->previous_id);
    if (m->physical != NULL) {
        const struct cf_manifest_physical *p = m->physical;

        (void)printf("  LSN         %s to %s, timeline %u%s\n", p->start_lsn ? p->start_lsn : "?",
                     p->stop_lsn ? p->stop_lsn : "?", p->stop_timeline,
                     p->from_standby ? ", from a standby" : "");
        (void)printf("  WAL needed  %s to %s\n", p->wal_start ? p->wal_start : "?",
                     p->wal_stop ? p->wal_stop : "?");
        if (x->wal != NULL && x->wal->ok)
            (void)printf("  WAL archive continuous to %s (timeline %u): recovery reaches it\n",
                         x->wal->newest, x->wal->timeline);
        else if (x->wal != NULL)
            (void)printf("  WAL archive GAP: %s\n", x->wal->error.msg);
    }
    if (!x->has_verify)
        (void)printf("  verified    never\n");
    else
        (void)printf("  verified    %s%s%s\n", x->verify_ok ? "ok" : "FAILED",
                     x->verify_problem[0] ? ": " : "", x->verify_problem);
    (void)printf("\n");
}

static json_t *
one_json(const struct cf_list_item *it, const struct info_extra *x)
{
    const struct cf_manifest *m = it->m;
    char what[256];
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "id", it->entry.id, "state",
                          cf_list_state_name(it->state), "objects", (json_int_t)it->entry.n_objects,
                          "stored_bytes", (json_int_t)it->entry.stored_bytes);

    if (o == NULL)
        return NULL;
    if (m == NULL) {
        json_object_set_new(o, "problem", json_string(it->problem));
        return o;
    }
    cf_cli_backup_what(m, what, sizeof(what));
    json_object_set_new(o, "kind", json_string(m->kind));
    json_object_set_new(o, "class",
                        m->retention_class ? json_string(m->retention_class) : json_null());
    json_object_set_new(o, "start", cf_cli_time_json(m->start_time));
    json_object_set_new(o, "stop", cf_cli_time_json(m->stop_time));
    json_object_set_new(o, "holds", json_string(what));
    json_object_set_new(o, "plain_bytes", json_integer((json_int_t)cf_manifest_plain_bytes(m)));
    json_object_set_new(o, "locked_until",
                        m->lock_until > 0 ? cf_cli_time_json(m->lock_until) : json_null());
    json_object_set_new(o, "retention_ends", cf_cli_time_json(m->expires));
    json_object_set_new(o, "signer", m->is_signed ? json_string(m->signer) : json_null());
    json_object_set_new(o, "follows", m->previous_id ? json_string(m->previous_id) : json_null());
    if (m->physical != NULL) {
        const struct cf_manifest_physical *p = m->physical;
        json_t *w = json_pack("{s:s?, s:s?, s:i, s:s?, s:s?}", "start_lsn", p->start_lsn,
                              "stop_lsn", p->stop_lsn, "timeline", (int)p->stop_timeline,
                              "wal_start", p->wal_start, "wal_stop", p->wal_stop);

        if (w != NULL && x->wal != NULL) {
            json_object_set_new(w, "archive_continuous", json_boolean(x->wal->ok));
            json_object_set_new(w, "archive_newest", json_string(x->wal->newest));
            if (!x->wal->ok)
                json_object_set_new(w, "archive_gap", json_string(x->wal->error.msg));
        }
        json_object_set_new(o, "wal", w);
    }
    json_object_set_new(o, "verified",
                        !x->has_verify
                            ? json_null()
                            : json_pack("{s:b, s:s?}", "ok", x->verify_ok, "problem",
                                        x->verify_problem[0] ? x->verify_problem : NULL));
    return o;
}

cf_err
cf_cli_info(struct cf_cli_run *run, int argc, char **argv, struct cf_error *err)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    struct cf_list_opts lo = {&run->ctx->repo};
    struct cf_list_result res;
    struct cf_verify_wal_result wal;
    struct cf_error we = CF_ERROR_INIT;
    const char *id = NULL;
    json_t *arr = NULL;
    bool json = false, found = false;
    int ch;
    cf_err rc = CF_OK;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch != 'j')
            return cf_cli_usage_error(err, "invalid option for %s", "info");
        json = true;
    }
    if (argc - optind > 1)
        return cf_cli_usage_error(err, "%s takes at most one backup ID", "info");
    if (optind < argc)
        id = argv[optind];
    if (cf_list_run(&lo, &res, err) != CF_OK)
        return err->code;
    /* no physical backup, or a gap: each item says what concerns it */
    (void)cf_verify_wal_run(&run->ctx->repo, &wal, &we);
    if (json)
        arr = json_array();
    for (size_t i = 0; i < res.n; i++) {
        struct info_extra x;

        if (id != NULL && strcmp(res.items[i].entry.id, id) != 0)
            continue;
        found = true;
        fill_extra(&run->ctx->repo, &res.items[i], &wal, &x);
        if (json)
            json_array_append_new(arr, one_json(&res.items[i], &x));
        else
            print_one(&res.items[i], &x);
    }
    if (id != NULL && !found) {
        cf_error_setf(err, CF_ERR_NOT_FOUND, "no backup %s in instance \"%s\"", id,
                      run->ctx->repo.instance);
        cf_error_hint(err, "\"coffre list\" shows the backups of the repository.");
        rc = CF_ERR_NOT_FOUND;
        json_decref(arr);
    } else if (json) {
        rc = cf_cli_print_json(arr, err);
    }
    cf_verify_wal_result_clear(&wal);
    cf_list_result_clear(&res);
    return rc;
}
